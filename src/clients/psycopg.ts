/**
 * psycopg 3 (3.3.6, psycopg-binary wheel) as a client profile: the libpq 18 bundled in the
 * wheel (PSYCOPG_BINARY_BUILD: GSSAPI compiled in but gssencmode defaulting to disable,
 * OpenSSL 3.5) plus what psycopg's Connection.connect() does on top of it:
 *
 * - the conninfo is parsed by libpq (PQconninfoParse) without defaults; a bad one is a
 *   ProgrammingError carrying libpq's text, trailing newline included;
 * - psycopg enforces connect_timeout itself, per attempt (at least 2 s, 130 s when unset or
 *   ≤ 0), and drives libpq through PQconnectStart/PQconnectPoll, so libpq never sees it;
 * - it splits host=a,b into one libpq connection per host, resolves host names itself and
 *   passes each address as hostaddr (an IP literal is copied to hostaddr), and moves on to
 *   the next attempt after ANY failure, a wrong password included. Within one attempt
 *   libpq's own encryption retries still apply;
 * - prefer-standby becomes a pass with target_session_attrs=standby over every attempt,
 *   then a pass without it; load_balance_hosts=random shuffles the attempts;
 * - no password prompt and no retry of its own;
 * - the error is OperationalError("connection failed: " + PQerrorMessage) with the text
 *   stripped, or "connection is bad: ..." when libpq failed before a TCP connect was under
 *   way; several failed attempts are listed under the last one's text.
 *
 * Checked against the real psycopg 3.3.6 (PQlibVersion 180006) over TCP in
 * spec/clients/psycopg.spec.ts.
 */
import * as os from 'node:os';
import * as net from 'node:net';
import type { Clock } from '../clock.js';
import type { Random } from '../random.js';
import { parseConninfo, resolveConnOptions, type ConninfoValues } from './conninfo.js';
import type { PassfileReader } from './pgpass.js';
import { connectLibpq, PSYCOPG_BINARY_BUILD, type LibpqAttempt } from './libpq/connect.js';
import type { LibpqConnection } from './libpq/connection.js';
import type { FileAccess } from './libpq/tls.js';
import { TransportError, type ClientTransport } from './libpq/transport.js';
import type { ClientTraceListener, SourceRef } from './trace.js';

/** Connection.connect() in psycopg/connection.py of psycopg 3.3.6: one libpq connection per attempt. */
const CONNECT_LOOP: SourceRef = { file: 'psycopg/connection.py', function: 'Connection.connect', line: 102, version: 'psycopg 3.3.6' };
const CONNECT_TIMEOUT: SourceRef = { file: 'psycopg/connection.py', function: 'Connection.connect', line: 110, version: 'psycopg 3.3.6' };

export const PSYCOPG_VERSION = '3.3.6';
/** PQlibVersion() of the wheel's libpq. */
export const PSYCOPG_LIBPQ_VERSION = 180006;
/** _DEFAULT_CONNECT_TIMEOUT in psycopg/conninfo.py, seconds. */
export const PSYCOPG_DEFAULT_CONNECT_TIMEOUT = 130;

export interface PsycopgEnv {
  transport: ClientTransport;
  clock: Clock;
  /** libpq's load balancing and random.shuffle() of the attempts. */
  random: Random;
  /** os.environ as psycopg and libpq read it (PGPASSWORD, PGHOST, PGCONNECT_TIMEOUT, ...). */
  environ?: Readonly<Record<string, string | undefined>>;
  osUser?: string;
  homeDir?: string | null;
  files?: FileAccess;
  passfileReader?: PassfileReader;
  warn?: (line: string) => void;
  /** Every decision psycopg and its libpq take, numbered across psycopg's attempts (client 'psycopg'). */
  onTrace?: ClientTraceListener;
}

/** The exception class psycopg raises (psycopg.OperationalError, psycopg.errors.ConnectionTimeout, ...). */
export type PsycopgErrorType = 'OperationalError' | 'ConnectionTimeout' | 'ProgrammingError';

/** One libpq connection psycopg started: a host (or one address of it). */
export interface PsycopgAttempt {
  /** attempt.get("host") / "port" / "hostaddr": null where the dict has no such key. */
  host: string | null;
  port: string | null;
  hostaddr: string | null;
  /** The TCP connections libpq made for it. */
  connections: LibpqAttempt[];
  /** null: this attempt connected. */
  error: { type: PsycopgErrorType; message: string } | null;
}

export type PsycopgResult =
  | { ok: true; connection: LibpqConnection; attempts: PsycopgAttempt[] }
  | {
    ok: false;
    type: PsycopgErrorType;
    /** str(exception) */
    message: string;
    attempts: PsycopgAttempt[];
  };

type Params = Map<string, string>;

class PsycopgError extends Error {
  constructor(readonly type: PsycopgErrorType, message: string) {
    super(message);
  }
}

/** The environment variable libpq reads for a keyword (psycopg asks PQconndefaults()). */
const ENVVARS: Record<string, string> = {
  host: 'PGHOST', hostaddr: 'PGHOSTADDR', port: 'PGPORT', connect_timeout: 'PGCONNECT_TIMEOUT',
  target_session_attrs: 'PGTARGETSESSIONATTRS', load_balance_hosts: 'PGLOADBALANCEHOSTS',
};

/** psycopg.Connection.connect(conninfo). Never throws for anything psycopg would raise. */
export async function psycopgConnect(conninfo: string, env: PsycopgEnv): Promise<PsycopgResult> {
  const attempts: PsycopgAttempt[] = [];
  try {
    const parsed = parseConninfo(conninfo, { version: 18 });
    // libpq's message keeps its newline here: psycopg re-raises str(ex) unchanged.
    if (!parsed.ok) throw new PsycopgError('ProgrammingError', `${parsed.error}\n`);
    const params: Params = new Map(parsed.values);
    const timeout = timeoutFromConninfo(params, env);
    const planned = await conninfoAttempts(params, env);
    let tcp = 0;
    for (const [i, attempt] of planned.entries()) {
      const listener = env.onTrace;
      const before = tcp;
      const onTrace: ClientTraceListener | undefined = listener ? (e) => listener({ ...e, client: 'psycopg', attempt: e.attempt + before }) : undefined;
      const tried = await connectAttempt(attempt, timeout, { ...env, ...(onTrace ? { onTrace } : {}) });
      attempts.push(tried.record);
      tcp += tried.record.connections.length;
      if (tried.connection) return { ok: true, connection: tried.connection, attempts };
      const at = { type: 'client-decision' as const, time: env.clock.now(), client: 'psycopg', attempt: Math.max(1, tcp) };
      if (tried.record.error?.type === 'ConnectionTimeout') {
        listener?.({ ...at, decision: 'give-up', source: CONNECT_TIMEOUT, rule: 'psycopg.connect-timeout',
          reason: `psycopg's own connect timeout (${timeout} s) ran out while libpq was still connecting: this attempt ends as "connection timeout expired".` });
      }
      if (i + 1 < planned.length) {
        listener?.({ ...at, decision: 'next-host', source: CONNECT_LOOP, rule: 'psycopg.next-attempt',
          reason: 'psycopg tries each host (and each address of it) as a separate libpq connection, and moves on after any failure, a wrong password included.' });
      }
    }
    const failures = attempts.map((a) => a.error!);
    const last = failures[failures.length - 1]!;
    if (failures.length === 1) return { ok: false, type: last.type, message: last.message, attempts };
    const lines = [last.message, 'Multiple connection attempts failed. All failures were:'];
    for (const a of attempts) lines.push(`- host: ${pyRepr(a.host)}, port: ${pyRepr(a.port)}, hostaddr: ${pyRepr(a.hostaddr)}: ${a.error!.message}`);
    return { ok: false, type: last.type, message: lines.join('\n'), attempts };
  } catch (err) {
    if (err instanceof PsycopgError) return { ok: false, type: err.type, message: err.message, attempts };
    throw err;
  }
}

/** _conninfo_utils.get_param(): the dict, else the PG* variable. */
function getParam(params: Params, name: string, env: PsycopgEnv): string | null {
  const v = params.get(name);
  if (v !== undefined) return v;
  const envvar = ENVVARS[name];
  const fromEnv = envvar ? env.environ?.[envvar] : undefined;
  return fromEnv ?? null;
}

/** conninfo.timeout_from_conninfo(): int(float(value)), at least 2 s, 130 s for "none". */
function timeoutFromConninfo(params: Params, env: PsycopgEnv): number {
  const value = getParam(params, 'connect_timeout', env);
  if (value === null) return PSYCOPG_DEFAULT_CONNECT_TIMEOUT;
  const f = pyFloat(value);
  if (f === null || !Number.isFinite(f)) throw new PsycopgError('ProgrammingError', `bad value for connect_timeout: ${pyRepr(value)}`);
  const timeout = Math.trunc(f);
  if (timeout <= 0) return PSYCOPG_DEFAULT_CONNECT_TIMEOUT;
  return Math.max(timeout, 2);
}

/** Python's float() on a str: whitespace around, underscores between digits, inf/nan. */
function pyFloat(s: string): number | null {
  const t = s.trim();
  if (/^[+-]?(inf|infinity|nan)$/i.test(t)) return t.toLowerCase().includes('nan') ? NaN : (t.startsWith('-') ? -Infinity : Infinity);
  const digits = '\\d(?:_?\\d)*';
  const re = new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  return re.test(t) ? Number(t.replaceAll('_', '')) : null;
}

/** _conninfo_attempts.conninfo_attempts(). */
async function conninfoAttempts(params: Params, env: PsycopgEnv): Promise<Params[]> {
  let lastError: PsycopgError | null = null;
  let attempts: Params[] = [];
  const preferStandby = getParam(params, 'target_session_attrs', env) === 'prefer-standby';
  if (preferStandby) {
    params = new Map(params);
    params.delete('target_session_attrs');
  }
  for (const attempt of splitAttempts(params, env)) {
    try {
      attempts.push(...await resolveHostnames(attempt, env));
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      lastError = new PsycopgError('OperationalError', `failed to resolve host ${pyRepr(attempt.get('host') ?? null)}: ${gaiError(err.code)}`);
    }
  }
  if (attempts.length === 0) throw lastError!;
  if (getParam(params, 'load_balance_hosts', env) === 'random') {
    // random.shuffle(): from the end, each element swapped with one at or before it.
    for (let i = attempts.length - 1; i > 0; i--) {
      const j = env.random.int(0, i);
      [attempts[i], attempts[j]] = [attempts[j]!, attempts[i]!];
    }
  }
  if (preferStandby) {
    attempts = [...attempts.map((a) => new Map([...a, ['target_session_attrs', 'standby']])), ...attempts];
  }
  return attempts;
}

/** _conninfo_utils.split_attempts(): one dict per host; a single host is left untouched. */
function splitAttempts(params: Params, env: PsycopgEnv): Params[] {
  const split = (key: string): string[] => {
    const v = getParam(params, key, env);
    return v ? v.split(',') : [];
  };
  const hosts = split('host');
  const hostaddrs = split('hostaddr');
  let ports = split('port');
  if (hosts.length > 0 && hostaddrs.length > 0 && hosts.length !== hostaddrs.length) {
    throw new PsycopgError('OperationalError', `could not match ${hosts.length} host names with ${hostaddrs.length} hostaddr values`);
  }
  const nhosts = Math.max(hosts.length, hostaddrs.length);
  if (ports.length > 1 && ports.length !== nhosts) {
    // psycopg names len(hosts) here, even when the hosts came as hostaddr.
    throw new PsycopgError('OperationalError', `could not match ${ports.length} port numbers to ${hosts.length} hosts`);
  }
  if (nhosts <= 1) return [new Map(params)];
  if (ports.length === 1) ports = Array.from({ length: nhosts }, () => ports[0]!);
  const out: Params[] = [];
  for (let i = 0; i < nhosts; i++) {
    const attempt = new Map(params);
    if (hosts.length > 0) attempt.set('host', hosts[i]!);
    if (hostaddrs.length > 0) attempt.set('hostaddr', hostaddrs[i]!);
    if (ports.length > 0) attempt.set('port', ports[i]!);
    out.push(attempt);
  }
  return out;
}

/** _resolve_hostnames(): a name becomes one attempt per address, with hostaddr set. */
async function resolveHostnames(params: Params, env: PsycopgEnv): Promise<Params[]> {
  const host = getParam(params, 'host', env);
  // No host, a socket directory, or a Windows drive path: libpq's business.
  if (!host || host.startsWith('/') || host.slice(1, 2) === ':') return [params];
  if (getParam(params, 'hostaddr', env)) return [params];
  if (net.isIP(host) !== 0) return [new Map([...params, ['hostaddr', host]])];
  const addresses = env.transport.resolve ? await env.transport.resolve(host) : [host];
  return addresses.map((a) => new Map([...params, ['hostaddr', a]]));
}

/** socket.gaierror's str() for the codes a lookup can fail with. */
function gaiError(code: string): string {
  if (code === 'EAI_AGAIN') return '[Errno -3] Temporary failure in name resolution';
  return '[Errno -2] Name or service not known';
}

/** One libpq connection: PQconnectStart + PQconnectPoll until OK, FAILED or psycopg's timeout. */
async function connectAttempt(
  attempt: Params, timeoutSeconds: number, env: PsycopgEnv,
): Promise<{ record: PsycopgAttempt; connection: LibpqConnection | null }> {
  const record: PsycopgAttempt = {
    host: attempt.get('host') ?? null, port: attempt.get('port') ?? null, hostaddr: attempt.get('hostaddr') ?? null,
    connections: [], error: null,
  };
  const fail = (type: PsycopgErrorType, message: string) => {
    record.error = { type, message };
    return { record, connection: null };
  };
  const resolved = resolveConnOptions(attempt as ConninfoValues, {
    version: 18, gssapi: PSYCOPG_BINARY_BUILD.gssapi, gssencmodeDefault: PSYCOPG_BINARY_BUILD.gssencmodeDefault, environ: env.environ ?? {}, osUser: env.osUser ?? os.userInfo().username,
    homeDir: env.homeDir ?? null, ...(env.passfileReader ? { passfileReader: env.passfileReader } : {}), ...(env.warn ? { warn: env.warn } : {}),
  });
  if (!resolved.ok) return fail('OperationalError', `connection is bad: ${cleanErrorMessage(resolved.error)}`);
  const r = await connectLibpq(resolved.options, {
    transport: env.transport, clock: env.clock, random: env.random, version: 18, build: PSYCOPG_BINARY_BUILD,
    ...(env.onTrace ? { onTrace: env.onTrace } : {}),
    pollingApi: true, abandonAt: env.clock.now() + timeoutSeconds * 1000,
    environ: env.environ ?? {}, osUser: env.osUser ?? os.userInfo().username, homeDir: env.homeDir ?? null,
    ...(env.files ? { files: env.files } : {}), ...(env.warn ? { warn: env.warn } : {}),
  });
  record.connections = r.attempts;
  if (r.ok) return { record, connection: r.connection };
  if (r.abandoned) return fail('ConnectionTimeout', 'connection timeout expired');
  // PQconnectStart() already returned a bad connection unless a TCP connect() got under way.
  const started = r.attempts.some((a) => a.tcp || !a.address.startsWith('/'));
  return fail('OperationalError', `connection ${started ? 'failed' : 'is bad'}: ${cleanErrorMessage(r.errorMessage)}`);
}

/** pq.misc._clean_error_message(): drop a leading severity, then surrounding whitespace. */
function cleanErrorMessage(msg: string): string {
  if (msg === '') return 'no error details available';
  return msg.replace(/^(?:DEBUG|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC):\s+/, '').trim();
}

/** Python's repr() of a str (or None), as psycopg's attempt descriptions show it. */
export function pyRepr(s: string | null): string {
  if (s === null) return 'None';
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}

/** How Python prints the exception on its last traceback line. */
export function psycopgExceptionLine(type: PsycopgErrorType, message: string): string {
  const qualified = type === 'ConnectionTimeout' ? 'psycopg.errors.ConnectionTimeout' : `psycopg.${type}`;
  return `${qualified}: ${message}`;
}
