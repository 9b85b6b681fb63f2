/**
 * Raw wire scripts for edge-case specs: a case is a list of client steps
 * (bytes to send, when to read, when to hang up), and running it yields a
 * transcript of everything the server sent back. The same script runs
 * against pg-authsim (in memory) and against a real PostgreSQL (over TCP), so
 * the transcripts can be compared token for token.
 *
 * What the server sends is decoded independently of pg-authsim's codec: the
 * framing by hand, the messages by node-postgres's pg-protocol parser, and
 * ErrorResponse fields by a small field walker that keeps their order (so S
 * and V, and the field order itself, are checked).
 *
 * Text the server sends back (error fields, ParameterStatus values) is shown one
 * character per byte (latin1), so every comparison is byte for byte: a name that
 * is not UTF-8 reads as "u\xff", and expectations spell valid UTF-8 with bytesOf().
 */
import { createHash } from 'node:crypto';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage as PgpMessage } from 'pg-protocol/dist/messages.js';
import { ScramClient } from '../../src/auth/scram-client.js';
import { SeededRandom } from '../../src/random.js';

// ---- client packets, built by hand ---------------------------------------------

const CODE = { cancel: 80877102, ssl: 80877103, gss: 80877104 } as const;

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
}

/** A startup-phase packet: Int32 length (counting itself), then the body. */
export function untyped(body: Buffer): Buffer {
  return Buffer.concat([int32(body.length + 4), body]);
}

/** A typed message: type byte, Int32 length (counting itself), body. */
export function typed(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(body.length + 4), body]);
}

export const sslRequest = (): Buffer => untyped(int32(CODE.ssl));
export const gssEncRequest = (): Buffer => untyped(int32(CODE.gss));

/** NUL-terminated strings, concatenated: UTF-8 for strings, as they are for raw bytes. */
export function cstrings(...parts: Array<string | Buffer>): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.concat([typeof p === 'string' ? Buffer.from(p, 'utf8') : p, Buffer.from([0])])));
}

/** How a transcript shows text: one char per byte. */
export const latin1 = (b: Buffer): string => b.toString('latin1');
/** The transcript form of valid UTF-8 text ("é" is "\xc3\xa9"). */
export const bytesOf = (s: string): string => latin1(Buffer.from(s, 'utf8'));

/** A StartupMessage for protocol major.minor with the given parameters (raw bytes allowed) and the terminator. */
export function startup(params: Record<string, string | Buffer> | Array<[string | Buffer, string | Buffer]>, version: [number, number] = [3, 0]): Buffer {
  const pairs = Array.isArray(params) ? params : Object.entries(params);
  const code = ((version[0] << 16) | version[1]) >>> 0;
  const code32 = Buffer.alloc(4);
  code32.writeUInt32BE(code);
  return untyped(Buffer.concat([code32, ...pairs.map(([k, v]) => cstrings(k, v)), Buffer.from([0])]));
}

export const passwordMessage = (pw: string | Buffer): Buffer => typed('p', cstrings(pw));
export const query = (sql: string): Buffer => typed('Q', cstrings(sql));
export const terminate = (): Buffer => typed('X', Buffer.alloc(0));

/** SASLInitialResponse: mechanism, Int32 length (-1 for none), data. */
export function saslInitial(mechanism: string | Buffer, data: Buffer | string | null): Buffer {
  if (data === null) return typed('p', Buffer.concat([cstrings(mechanism), int32(-1)]));
  const d = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  return typed('p', Buffer.concat([cstrings(mechanism), int32(d.length), d]));
}

export function md5Response(user: string | Buffer, password: string | Buffer, salt: Buffer): string {
  const inner = createHash('md5').update(password).update(user).digest('hex');
  return `md5${createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex')}`;
}

// ---- steps ------------------------------------------------------------------------

/** Which connection a step acts on; 0 is opened implicitly, others with `connect`. */
interface On { c?: number }

export type Step =
  | ({ op: 'connect' } & Required<On>)
  /** Write bytes as one chunk. */
  | ({ op: 'send'; bytes: Buffer } & On)
  /** Read one unframed byte: the answer to SSLRequest/GSSENCRequest. */
  | ({ op: 'byte' } & On)
  /** Run a TLS handshake as the client on this connection. */
  | ({ op: 'tls' } & On)
  /** Read messages up to and including the first whose token starts with `until` (or until the server closes). */
  | ({ op: 'read'; until: string } & On)
  /** Read everything until the server closes, unframed (the pre-3.0 error format). */
  | ({ op: 'raw' } & On)
  /**
   * Start SCRAM: SASLInitialResponse with a libpq-style client-first message.
   * `clientFirst` may rewrite the message; `mechanism` overrides the name sent.
   */
  | ({ op: 'scram-initial'; password: string | Buffer; mechanism?: string; clientFirst?: (m: string) => string; plus?: boolean; username?: string } & On)
  /** Answer the last SASLContinue (server-first) with client-final; `clientFinal` may rewrite it. */
  | ({ op: 'scram-final'; clientFinal?: (m: string) => string } & On)
  /** Answer the last AuthenticationMD5Password (strings are their UTF-8 bytes). */
  | ({ op: 'md5'; user: string | Buffer; password: string | Buffer } & On)
  /** CancelRequest naming connection `target`'s backend, with its key or a wrong one. */
  | ({ op: 'cancel'; target: number; key: 'right' | 'wrong' } & On)
  /** Half-close: send FIN (close_notify first under TLS) and keep reading. */
  | ({ op: 'end' } & On)
  /** Let authentication_timeout run out on this connection. */
  | ({ op: 'stall' } & On)
  /** Read until the server closes this connection. */
  | ({ op: 'closed' } & On);

// step builders, so case tables read as scripts
export const send = (bytes: Buffer, c?: number): Step => ({ op: 'send', bytes, ...(c !== undefined ? { c } : {}) });
export const byte = (c?: number): Step => ({ op: 'byte', ...(c !== undefined ? { c } : {}) });
export const tlsHandshake = (c?: number): Step => ({ op: 'tls', ...(c !== undefined ? { c } : {}) });
export const read = (until: string, c?: number): Step => ({ op: 'read', until, ...(c !== undefined ? { c } : {}) });
export const raw = (): Step => ({ op: 'raw' });
export const hangUp = (c?: number): Step => ({ op: 'end', ...(c !== undefined ? { c } : {}) });
export const stall = (c?: number): Step => ({ op: 'stall', ...(c !== undefined ? { c } : {}) });
export const closed = (c?: number): Step => ({ op: 'closed', ...(c !== undefined ? { c } : {}) });
export const connect = (c: number): Step => ({ op: 'connect', c });

// ---- transcript ----------------------------------------------------------------------

export type ErrorFieldList = Array<[string, string]>;

export interface Transcript {
  /** Tokens of what each connection received, in order; connections other than 0 are prefixed `[c] `. */
  received: string[];
  /** Every ErrorResponse's fields in wire order; connections in the same order as `received`. */
  errors: ErrorFieldList[];
  /** s= of every SCRAM server-first message received (deterministic when the secrets are the same). */
  scramSalts: string[];
  /** Backend PIDs seen in BackendKeyData, by connection; used to normalise log lines. */
  pids: Map<number, number>;
}

export interface Target {
  /** A fresh client socket to the server. */
  open(): Promise<Duplex>;
  /** Make authentication_timeout run out for `conn` (virtual time, or waiting for the real server to hang up). */
  stall(conn: ScriptConnection): Promise<void>;
  /** How long to wait for the server before calling a read "still open". */
  readonly patienceMs: number;
}

const AUTH_NAMES: Record<string, string> = {
  authenticationOk: 'AuthenticationOk',
  authenticationCleartextPassword: 'AuthenticationCleartextPassword',
  authenticationMD5Password: 'AuthenticationMD5Password',
  authenticationSASL: 'AuthenticationSASL',
  authenticationSASLContinue: 'AuthenticationSASLContinue',
  authenticationSASLFinal: 'AuthenticationSASLFinal',
};

/** ErrorResponse/NoticeResponse body: (code byte, cstring)* then NUL; values one char per byte. */
export function errorFields(body: Buffer): ErrorFieldList {
  const out: ErrorFieldList = [];
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at]!);
    const end = body.indexOf(0, at + 1);
    if (end < 0) throw new Error('unterminated error field');
    out.push([code, latin1(body.subarray(at + 1, end))]);
    at = end + 1;
  }
  return out;
}

/** One client connection of a script: a raw byte buffer fed by the socket, read on demand. */
export class ScriptConnection {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  sock: Duplex;
  tlsSocket: tls.TLSSocket | null = null;
  readonly tokens: string[] = [];
  readonly errors: ErrorFieldList[] = [];
  pid: number | null = null;
  key: Buffer | null = null;
  private scram: ScramClient | null = null;
  private lastSaslContinue: Buffer | null = null;
  private lastMd5Salt: Buffer | null = null;

  constructor(sock: Duplex, private readonly t: Transcript, private readonly patienceMs: number) {
    this.sock = sock;
    this.listen(sock);
  }

  private readonly onData = (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); };
  private readonly onGone = () => { this.closed = true; this.wake(); };

  private listen(s: Duplex): void {
    s.on('data', this.onData);
    s.on('end', this.onGone);
    s.on('close', this.onGone);
    s.on('error', () => {});
  }

  private unlisten(s: Duplex): void {
    s.off('data', this.onData);
    s.off('end', this.onGone);
    s.off('close', this.onGone);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until `ready()` holds, the server closes, or patience runs out; true if ready. */
  private async waitFor(ready: () => boolean, patienceMs = this.patienceMs): Promise<boolean> {
    const deadline = Date.now() + patienceMs;
    while (!ready()) {
      if (this.closed) return ready();
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return true;
  }

  /** Wait (without reading) until the server closes, at most `ms`. */
  async untilClosed(ms: number): Promise<void> {
    await this.waitFor(() => this.closed, ms);
  }

  send(bytes: Buffer): void {
    (this.tlsSocket ?? this.sock).write(bytes);
  }

  async readByte(): Promise<void> {
    if (!(await this.waitFor(() => this.buf.length >= 1))) {
      this.tokens.push(this.closed ? 'closed' : 'no answer');
      return;
    }
    this.tokens.push(`byte ${String.fromCharCode(this.buf[0]!)}`);
    this.buf = this.buf.subarray(1);
  }

  /** The next complete frame, or null when the server closed (or went quiet) first. */
  private async frame(): Promise<{ type: string; body: Buffer; bytes: Buffer } | null> {
    const complete = () => this.buf.length >= 5 && this.buf.length >= 1 + this.buf.readUInt32BE(1);
    if (!(await this.waitFor(complete))) return null;
    const len = this.buf.readUInt32BE(1);
    const bytes = this.buf.subarray(0, 1 + len);
    this.buf = this.buf.subarray(1 + len);
    return { type: String.fromCharCode(bytes[0]!), body: bytes.subarray(5), bytes };
  }

  private decode(f: { type: string; body: Buffer; bytes: Buffer }): string {
    if (f.type === 'v') {
      // NegotiateProtocolVersion: pg-protocol does not know it.
      const newest = f.body.readUInt32BE(0);
      const n = f.body.readInt32BE(4);
      const names = f.body.subarray(8).toString('utf8').split('\0').slice(0, n);
      return `NegotiateProtocolVersion ${newest >>> 16}.${newest & 0xffff} [${names.join(',')}]`;
    }
    let m: (PgpMessage & Record<string, unknown>) | null = null;
    new Parser().parse(f.bytes, (msg) => { m = msg as PgpMessage & Record<string, unknown>; });
    const msg = m as (PgpMessage & Record<string, unknown>) | null;
    if (!msg) throw new Error(`pg-protocol did not decode a ${f.type} frame`);
    switch (msg.name) {
      case 'error':
      case 'notice': {
        const fields = errorFields(f.body);
        this.errors.push(fields);
        const field = (k: string) => fields.find(([key]) => key === k)?.[1];
        // The two decoders must agree on what they both read (pg-protocol decodes UTF-8).
        const message = field('M') ?? '';
        if (field('C') !== msg.code || Buffer.from(message, 'latin1').toString('utf8') !== msg.message) {
          throw new Error('error field decoders disagree');
        }
        return `${msg.name} ${String(msg.severity)} ${String(msg.code)} ${message}`;
      }
      case 'authenticationSASL':
        return `AuthenticationSASL [${(msg.mechanisms as string[]).join(',')}]`;
      case 'authenticationSASLContinue': {
        const data = Buffer.from(String(msg.data), 'latin1');
        this.lastSaslContinue = data;
        const salt = /(?:^|,)s=([^,]*)/.exec(data.toString('latin1'))?.[1];
        if (salt !== undefined) this.t.scramSalts.push(salt);
        const iterations = /(?:^|,)i=([^,]*)/.exec(data.toString('latin1'))?.[1];
        return data.length === 0 ? 'AuthenticationSASLContinue (empty)' : `AuthenticationSASLContinue i=${iterations ?? '?'}`;
      }
      case 'authenticationSASLFinal':
        return 'AuthenticationSASLFinal';
      case 'authenticationMD5Password':
        this.lastMd5Salt = Buffer.from(msg.salt as Uint8Array);
        return 'AuthenticationMD5Password';
      case 'parameterStatus': {
        const [name, value] = latin1(f.body).split('\0');
        if (name !== msg.parameterName) throw new Error('ParameterStatus decoders disagree');
        return `ParameterStatus ${name}=${value}`;
      }
      case 'backendKeyData':
        this.pid = msg.processID as number;
        this.key = f.body.subarray(4, 8);
        return 'BackendKeyData';
      case 'readyForQuery':
        return `ReadyForQuery ${String(msg.status)}`;
      default:
        return AUTH_NAMES[msg.name] ?? msg.name;
    }
  }

  /** Read frames up to the first token starting with `until`; '' reads until the server closes. */
  async readUntil(until: string): Promise<void> {
    for (;;) {
      const f = await this.frame();
      if (!f) {
        if (this.buf.length > 0) this.tokens.push(`partial frame ${this.buf.toString('hex')}`);
        this.buf = Buffer.alloc(0);
        this.tokens.push(this.closed ? 'closed' : 'still open');
        return;
      }
      const token = this.decode(f);
      this.tokens.push(token);
      if (until !== '' && token.startsWith(until)) return;
    }
  }

  async readRaw(): Promise<void> {
    await this.waitFor(() => false);
    this.tokens.push(`raw ${JSON.stringify(this.buf.toString('latin1'))}`);
    this.buf = Buffer.alloc(0);
    this.tokens.push(this.closed ? 'closed' : 'still open');
  }

  async startTls(): Promise<void> {
    this.unlisten(this.sock);
    const t = tls.connect({ socket: this.sock as never, rejectUnauthorized: false });
    const ok = await new Promise<boolean>((resolve) => {
      t.once('secureConnect', () => resolve(true));
      t.once('error', () => resolve(false));
      t.once('close', () => resolve(false));
    });
    this.tlsSocket = t;
    this.listen(t);
    this.tokens.push(ok ? `tls ${t.getProtocol() ?? '?'}` : 'tls failed');
  }

  scramInitial(step: Extract<Step, { op: 'scram-initial' }>): void {
    const plus = step.plus ?? false;
    const peer = this.tlsSocket?.getPeerX509Certificate?.();
    const endPoint = peer ? createHash('sha256').update(peer.raw).digest() : undefined;
    this.scram = new ScramClient({
      password: step.password,
      mechanism: plus ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256',
      sslInUse: this.tlsSocket !== null,
      // libpq's default channel_binding=prefer would send "y" over TLS; scripts ask for it explicitly.
      channelBinding: plus ? 'require' : 'disable',
      ...(endPoint ? { tlsServerEndPoint: endPoint } : {}),
      random: new SeededRandom(11),
      // The n= value, one char per byte (libpq sends it empty).
      ...(step.username !== undefined ? { username: step.username } : {}),
    });
    let first = this.scram.clientFirst().toString('latin1');
    if (step.clientFirst) first = step.clientFirst(first);
    this.send(saslInitial(step.mechanism ?? this.scram.mechanism, first));
  }

  scramFinal(step: Extract<Step, { op: 'scram-final' }>): void {
    if (!this.scram || !this.lastSaslContinue) throw new Error('scram-final without a server-first message');
    let fin = this.scram.serverFirst(this.lastSaslContinue).toString('latin1');
    if (step.clientFinal) fin = step.clientFinal(fin);
    this.send(typed('p', Buffer.from(fin, 'latin1')));
  }

  md5(user: string | Buffer, password: string | Buffer): void {
    if (!this.lastMd5Salt) throw new Error('md5 step without AuthenticationMD5Password');
    this.send(passwordMessage(md5Response(user, password, this.lastMd5Salt)));
  }

  end(): void {
    (this.tlsSocket ?? this.sock).end();
  }

  destroy(): void {
    this.tlsSocket?.destroy();
    this.sock.destroy();
  }
}

/** Run `script` against `target`; every connection ends up read until the server closes it (or patience runs out). */
export async function runScript(target: Target, script: readonly Step[]): Promise<Transcript> {
  const t: Transcript = { received: [], errors: [], scramSalts: [], pids: new Map() };
  const conns = new Map<number, ScriptConnection>();
  conns.set(0, new ScriptConnection(await target.open(), t, target.patienceMs));
  const conn = (c = 0): ScriptConnection => {
    const x = conns.get(c);
    if (!x) throw new Error(`script uses connection ${c} before connecting it`);
    return x;
  };
  try {
    for (const step of script) {
      const c = conn(step.op === 'connect' ? 0 : step.c);
      switch (step.op) {
        case 'connect': conns.set(step.c, new ScriptConnection(await target.open(), t, target.patienceMs)); break;
        case 'send': c.send(step.bytes); break;
        case 'byte': await c.readByte(); break;
        case 'tls': await c.startTls(); break;
        case 'read': await c.readUntil(step.until); break;
        case 'raw': await c.readRaw(); break;
        case 'scram-initial': c.scramInitial(step); break;
        case 'scram-final': c.scramFinal(step); break;
        case 'md5': c.md5(step.user, step.password); break;
        case 'cancel': {
          const victim = conn(step.target);
          if (victim.pid === null || !victim.key) throw new Error('cancel before BackendKeyData');
          const key = step.key === 'right' ? victim.key : Buffer.from(victim.key.map((b) => b ^ 0xff));
          c.send(untyped(Buffer.concat([int32(CODE.cancel), int32(victim.pid), key])));
          break;
        }
        case 'end': c.end(); break;
        case 'stall': await target.stall(c); break;
        case 'closed': if (c.tokens.at(-1) !== 'closed') await c.readUntil(''); break;
      }
    }
    // Whatever is left: read each connection to its end.
    for (const c of conns.values()) {
      const last = c.tokens.at(-1);
      if (last !== 'closed' && last !== 'still open') await c.readUntil('');
    }
  } finally {
    for (const c of conns.values()) c.destroy();
  }
  for (const [n, c] of [...conns.entries()].sort((a, b) => a[0] - b[0])) {
    t.received.push(...c.tokens.map((tok) => (n === 0 ? tok : `[${n}] ${tok}`)));
    t.errors.push(...c.errors);
    if (c.pid !== null) t.pids.set(n, c.pid);
  }
  return t;
}

// ---- logs ---------------------------------------------------------------------------------

/**
 * Log text (prefix already removed) as entries: a line starting with a tab
 * continues the one before (a multi-line DETAIL).
 */
export function logEntries(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (line === '') continue;
    if (line.startsWith('\t') && out.length > 0) out[out.length - 1] += `\n${line}`;
    else out.push(line);
  }
  return out;
}

export interface NormalisedLog { log: string[]; hooks: string[] }

/**
 * Make a case's log comparable: client ports and backend PIDs become names,
 * and hook_probe's lines (real server) turn into hook calls.
 */
export function normaliseLog(entries: readonly string[], pids: ReadonlyMap<number, number>): NormalisedLog {
  const hooks: string[] = [];
  const log: string[] = [];
  for (let e of entries) {
    const hook = /^(?:\S+ )?LOG: {2}hook_probe: status=(\w+) ssl=(on|off) user=(.*) pid=\d+$/.exec(e);
    if (hook) {
      hooks.push(`${hook[1]} ssl=${hook[2]} user=${hook[3]}`);
      continue;
    }
    e = e.replace(/^((?:\S+ )?LOG: {2}connection received: host=\S+ port=)\d+$/, '$1PORT');
    for (const [c, pid] of pids) e = e.replace(new RegExp(`\\b${pid}\\b`, 'g'), `$PID${c}`);
    log.push(e);
  }
  return { log, hooks };
}
