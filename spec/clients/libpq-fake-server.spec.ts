/**
 * Server answers a real PostgreSQL rarely gives on demand (an 'E' to SSLRequest, a TLS
 * handshake cut short, 57P03, 53300, an error after AuthenticationOk, a silent close, an
 * unknown authentication request), played by a small scripted server. The real psql 15
 * and the libpq 15 model face the same script over TCP; they must print the same and send
 * the same things on the same number of connections.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { devTls } from '../support/fixtures.js';
import { PSQL } from '../support/psql.js';
import { encodeBackend, toErrorResponse, toNoticeResponse, NEGOTIATE_SSL_CODE } from '../../src/wire/codec.js';
import type { BackendMessage } from '../../src/wire/messages.js';
import { RealClock } from '../../src/clock.js';
import { SeededRandom } from '../../src/random.js';
import { tcpTransport } from '../../src/clients/libpq/transport.js';
import { runPsql } from '../../src/clients/psql.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('pg-authsim-fake-');

/** What one connection does once the client has sent its first packet. */
type Behaviour =
  | 'answer-E' | 'answer-S-then-close' | 'answer-S-then-reset' | 'close' | 'reset' | 'login'
  | { error: string; sqlstate: string; afterAuthOk?: boolean }
  | { authRequest: number }
  | { notice: string };

const fatal = (sqlstate: string, message: string): BackendMessage => toErrorResponse({ severity: 'FATAL', sqlstate, message });
const send = (s: Duplex, ...msgs: BackendMessage[]) => { for (const m of msgs) s.write(encodeBackend(m)); };

const READY: BackendMessage[] = [
  { type: 'AuthenticationOk' },
  { type: 'ParameterStatus', name: 'server_version', value: '15.20' },
  { type: 'ParameterStatus', name: 'in_hot_standby', value: 'off' },
  { type: 'ParameterStatus', name: 'default_transaction_read_only', value: 'off' },
  { type: 'BackendKeyData', pid: 4242, key: Buffer.from([1, 2, 3, 4]) },
  { type: 'ReadyForQuery', status: 'I' },
];

/** Reads length-prefixed packets (startup phase) or typed messages and records them by name. */
class Conversation {
  readonly seen: string[] = [];
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private ended = false;
  constructor(private stream: Duplex, readonly raw: net.Socket) { this.listen(stream); }
  private listen(s: Duplex): void {
    s.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.waiting?.(); });
    s.on('end', () => { this.ended = true; this.waiting?.(); });
    s.on('error', () => { this.ended = true; this.waiting?.(); });
  }
  upgrade(t: tls.TLSSocket): void { this.stream = t; this.buf = Buffer.alloc(0); this.listen(t); }
  private async need(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      if (this.ended) return false;
      await new Promise<void>((r) => { this.waiting = r; });
    }
    return true;
  }
  /** Whatever bytes come next (a TLS ClientHello), discarded. */
  async anything(): Promise<void> {
    await this.need(1);
    this.buf = Buffer.alloc(0);
  }
  async packet(): Promise<Buffer | null> {
    if (!(await this.need(4))) return null;
    const len = this.buf.readInt32BE(0);
    if (!(await this.need(len))) return null;
    const body = this.buf.subarray(4, len);
    this.buf = this.buf.subarray(len);
    return body;
  }
  async message(): Promise<{ type: string; body: Buffer } | null> {
    if (!(await this.need(5))) return null;
    const len = this.buf.readInt32BE(1);
    if (!(await this.need(1 + len))) return null;
    const m = { type: String.fromCharCode(this.buf[0]!), body: this.buf.subarray(5, 1 + len) };
    this.buf = this.buf.subarray(1 + len);
    return m;
  }
  get socket(): Duplex { return this.stream; }
}

async function serve(conv: Conversation, behaviour: Behaviour): Promise<void> {
  let first = await conv.packet();
  if (!first) { conv.seen.push('eof'); return; }
  if (first.readInt32BE(0) === NEGOTIATE_SSL_CODE) {
    conv.seen.push('SSLRequest');
    if (behaviour === 'answer-E') {
      conv.socket.write('E');
      send(conv.socket, fatal('53300', 'sorry, too many clients already'));
      conv.socket.end();
      return;
    }
    conv.socket.write('S');
    if (behaviour === 'answer-S-then-close' || behaviour === 'answer-S-then-reset') {
      // Take the ClientHello first, so the client sees exactly a close (or a reset), not a race.
      await conv.anything();
      if (behaviour === 'answer-S-then-close') conv.raw.end();
      else conv.raw.resetAndDestroy();
      return;
    }
    const t = new tls.TLSSocket(conv.socket as net.Socket, { isServer: true, secureContext: tls.createSecureContext({ cert: devTls()!.cert, key: devTls()!.key }) });
    t.on('error', () => {});
    conv.upgrade(t);
    first = await conv.packet();
    if (!first) { conv.seen.push('eof'); return; }
  }
  const params = first.subarray(4).toString('utf8').split('\0').filter((x) => x !== '');
  conv.seen.push(`startup ${params.join(' ')}`);
  const s = conv.socket;
  if (behaviour === 'close') { s.end(); return; }
  if (behaviour === 'reset') { conv.raw.resetAndDestroy(); return; }
  if (typeof behaviour === 'object' && 'authRequest' in behaviour) {
    const body = Buffer.alloc(4);
    body.writeInt32BE(behaviour.authRequest);
    s.write(Buffer.concat([Buffer.from('R'), Buffer.from([0, 0, 0, 8]), body]));
    const m = await conv.message();
    conv.seen.push(m ? `message ${m.type}` : 'eof');
    s.end();
    return;
  }
  if (typeof behaviour === 'object' && 'error' in behaviour && !behaviour.afterAuthOk) {
    send(s, fatal(behaviour.sqlstate, behaviour.error));
    s.end();
    return;
  }
  if (typeof behaviour === 'object' && 'error' in behaviour) {
    send(s, { type: 'AuthenticationOk' }, fatal(behaviour.sqlstate, behaviour.error));
    s.end();
    return;
  }
  if (typeof behaviour === 'object' && 'notice' in behaviour) {
    send(s, READY[0]!, toNoticeResponse({ severity: 'WARNING', sqlstate: '01000', message: behaviour.notice, detail: 'with a detail' }), ...READY.slice(1));
  } else {
    send(s, ...READY);
  }
  for (;;) {
    const m = await conv.message();
    if (!m) { conv.seen.push('eof'); return; }
    conv.seen.push(`message ${m.type}${m.type === 'Q' ? ` ${m.body.toString('utf8').replace(/\0$/, '')}` : ''}`);
    if (m.type === 'X') { s.end(); return; }
    if (m.type === 'Q') {
      send(s,
        { type: 'RowDescription', fields: [{ name: '?column?', tableOid: 0, columnAttr: 0, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 }] },
        { type: 'DataRow', values: [Buffer.from('1')] },
        { type: 'CommandComplete', tag: 'SELECT 1' },
        { type: 'ReadyForQuery', status: 'I' });
    }
  }
}

interface Script { name: string; conninfo: string; connections: Behaviour[] }

const SCRIPTS: Script[] = [
  { name: "'E' to SSLRequest is final, even under prefer", conninfo: 'sslmode=prefer', connections: ['answer-E'] },
  { name: "'S' then a close: require gives up", conninfo: 'sslmode=require', connections: ['answer-S-then-close'] },
  { name: "'S' then a close: prefer reconnects in plaintext", conninfo: 'sslmode=prefer', connections: ['answer-S-then-close', 'login'] },
  { name: "'S' then a reset during the handshake", conninfo: 'sslmode=require', connections: ['answer-S-then-reset'] },
  { name: 'a close after the startup packet, over TLS: the close_notify is noticed', conninfo: 'sslmode=prefer', connections: ['close'] },
  { name: 'a close after the startup packet, plaintext, is never retried', conninfo: 'sslmode=allow', connections: ['close'] },
  { name: 'a reset after the startup packet, over TLS', conninfo: 'sslmode=require', connections: ['reset'] },
  { name: 'a reset after the startup packet, plaintext', conninfo: 'sslmode=disable', connections: ['reset'] },
  { name: '53300 before authentication: prefer retries in plaintext', conninfo: 'sslmode=prefer',
    connections: [{ error: 'sorry, too many clients already', sqlstate: '53300' }, { error: 'sorry, too many clients already', sqlstate: '53300' }] },
  { name: '57P03 skips to the next host without an encryption retry', conninfo: 'host=127.0.0.1,127.0.0.1 sslmode=prefer',
    connections: [{ error: 'the database system is starting up', sqlstate: '57P03' }, 'login'] },
  { name: '57P03 on the last host', conninfo: 'sslmode=prefer', connections: [{ error: 'the database system is starting up', sqlstate: '57P03' }] },
  { name: 'an error after AuthenticationOk is not retried', conninfo: 'sslmode=prefer',
    connections: [{ error: 'database "x" does not exist', sqlstate: '3D000', afterAuthOk: true }] },
  { name: '42704 after AuthenticationOk: one retry without application_name', conninfo: 'sslmode=disable',
    connections: [{ error: 'unrecognized configuration parameter "application_name"', sqlstate: '42704', afterAuthOk: true }, 'login'] },
  { name: 'an authentication request libpq does not know', conninfo: 'sslmode=disable', connections: [{ authRequest: 99 }] },
  { name: 'Kerberos 5 authentication', conninfo: 'sslmode=disable', connections: [{ authRequest: 2 }] },
  { name: 'a NoticeResponse while connecting goes to stderr', conninfo: 'sslmode=disable', connections: [{ notice: 'you have been warned' }] },
];

function realPsql(conninfo: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PSQL, ['-X', '-w', '-c', 'select 1', conninfo], {
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: home, PGPASSFILE: path.join(home, 'none'), PGPASSWORD: 'secret' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
  });
}

describe(`libpq 15 model vs real psql 15 against a scripted server (${SCRIPTS.length} scripts)`, function () {
  this.timeout(20000);
  for (const script of SCRIPTS) {
    it(script.name, async () => {
      const play = async (who: 'real' | 'model') => {
        const conversations: Conversation[] = [];
        const done: Promise<void>[] = [];
        const server = net.createServer((sock) => {
          const conv = new Conversation(sock, sock);
          conversations.push(conv);
          const behaviour = script.connections[conversations.length - 1] ?? 'close';
          done.push(serve(conv, behaviour).catch(() => {}));
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        const port = (server.address() as net.AddressInfo).port;
        const conninfo = `host=127.0.0.1 port=${port} user=u dbname=d ${script.conninfo}`.replace(/host=127\.0\.0\.1 (.*)host=/, '$1host=');
        const r = who === 'real'
          ? await realPsql(conninfo)
          : await runPsql({ dbname: conninfo, command: 'select 1', noPassword: true }, {
            transport: tcpTransport(), clock: new RealClock(), random: new SeededRandom(1), version: 15,
            environ: { LC_ALL: 'C', PGPASSWORD: 'secret' }, osUser: 'root', homeDir: home,
          });
        await Promise.all(done);
        await new Promise<void>((res) => server.close(() => res()));
        return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr.replaceAll(String(port), '$PORT'), seen: conversations.map((c) => c.seen) };
      };
      const real = await play('real');
      const model = await play('model');
      expect(model.stderr, 'stderr').to.equal(real.stderr);
      expect(model.exitCode, 'exit code').to.equal(real.exitCode);
      expect(model.stdout, 'stdout').to.equal(real.stdout);
      expect(model.seen, 'what each connection sent').to.deep.equal(real.seen);
    });
  }
});
