/**
 * Conformance scenarios as data: one client run against a server set up by
 * one pg_hba.conf line. The runner starts one real server and one simulator
 * per group (same ssl, hba line and roles) and runs the group's cases in
 * order on both; see runner.ts.
 */
import * as path from 'node:path';
import { REPO_ROOT } from './probe.js';

export type ClientName = 'psql' | 'psycopg';
export type PasswordKind = 'right' | 'wrong' | 'none';
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export type HbaMethod = 'trust' | 'reject' | 'password' | 'md5' | 'scram-sha-256';

export const SSLMODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

export interface Scenario {
  /** Unique; `--filter` matches a substring of it. */
  id: string;
  serverSsl: boolean;
  /** The whole of pg_hba.conf (one line, so both servers report it as line 1). */
  hbaLine: string;
  /** The method of hbaLine, for grouping and reading; the line is what the servers see. */
  method: HbaMethod;
  /** Roles as SQL (the subset both the real server and pg-authsim's roles file accept). */
  roles: string;
  user: string;
  /** PGPASSWORD: the role's password, another one, or none at all (the client never prompts). */
  password: PasswordKind;
  sslmode: SslMode;
  client: ClientName;
  /** libpq 17+'s connection option; absent means the client's default (libpq 15/16 do not know the keyword). */
  sslnegotiation?: 'postgres' | 'direct';
}

export const PASSWORDS: Readonly<Record<'right' | 'wrong', string>> = { right: 'secret', wrong: 'not-the-password' };

/** The repository's test-only certificates: both servers present them, verify-* clients trust the CA. */
export const CERTS_DIR = path.join(REPO_ROOT, 'certs');
export const CA_FILE = path.join(CERTS_DIR, 'ca.crt');

/**
 * test has a SCRAM secret, md5user an md5 one (what a scram-sha-256 line
 * cannot verify); ghost, used by the grid, does not exist.
 */
export const DEFAULT_ROLES = [
  "SET password_encryption = 'scram-sha-256';",
  `CREATE ROLE test LOGIN PASSWORD '${PASSWORDS.right}';`,
  "SET password_encryption = 'md5';",
  `CREATE ROLE md5user LOGIN PASSWORD '${PASSWORDS.right}';`,
  "SET password_encryption = 'scram-sha-256';",
  '',
].join('\n');

/** What identifies a group: the cases that can share one real server and one simulator. */
export function groupKey(s: Pick<Scenario, 'serverSsl' | 'hbaLine' | 'roles'>): string {
  return JSON.stringify([s.serverSsl, s.hbaLine, s.roles]);
}

/** Scenarios in groups, each group in the order given, groups in order of first appearance. */
export function groupScenarios<T extends Pick<Scenario, 'serverSsl' | 'hbaLine' | 'roles'>>(list: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const s of list) {
    const k = groupKey(s);
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  return [...groups.values()];
}

/** The libpq connection string, without the port (the runner adds each server's). */
export function conninfoOptions(s: Scenario): string {
  let ci = `host=127.0.0.1 user=${s.user} dbname=postgres sslmode=${s.sslmode}`;
  if (s.sslmode === 'verify-ca' || s.sslmode === 'verify-full') ci += ` sslrootcert=${CA_FILE}`;
  if (s.sslnegotiation) ci += ` sslnegotiation=${s.sslnegotiation}`;
  return ci;
}

interface LineSpec {
  /** Short name used in ids, e.g. `host-scram-sha-256` or `nomatch`. */
  label: string;
  hbaLine: string;
  method: HbaMethod;
}

export function hbaLine(type: 'host' | 'hostssl' | 'hostnossl', method: HbaMethod, address = '127.0.0.1/32'): LineSpec {
  return { label: `${type}-${method}`, hbaLine: `${type} all all ${address} ${method}`, method };
}

/** Every combination of the given values, as scenarios on one line. */
export function cases(line: LineSpec, o: {
  serverSsl: boolean;
  users: readonly string[];
  passwords: readonly PasswordKind[];
  sslmodes: readonly SslMode[];
  clients?: readonly ClientName[];
  sslnegotiation?: 'postgres' | 'direct';
  roles?: string;
}): Scenario[] {
  const out: Scenario[] = [];
  for (const client of o.clients ?? ['psql']) {
    for (const user of o.users) {
      for (const password of o.passwords) {
        for (const sslmode of o.sslmodes) {
          const neg = o.sslnegotiation ? `+${o.sslnegotiation}` : '';
          out.push({
            id: `${line.label}/ssl=${o.serverSsl ? 'on' : 'off'}/${user}/${password}/${sslmode}${neg}/${client}`,
            serverSsl: o.serverSsl,
            hbaLine: line.hbaLine,
            method: line.method,
            roles: o.roles ?? DEFAULT_ROLES,
            user,
            password,
            sslmode,
            client,
            ...(o.sslnegotiation ? { sslnegotiation: o.sslnegotiation } : {}),
          });
        }
      }
    }
  }
  return out;
}

const ALL_PASSWORDS: readonly PasswordKind[] = ['right', 'wrong', 'none'];

/**
 * The acceptance grid: ssl on/off; host, hostssl, hostnossl, reject
 * and a line that matches nothing; trust, password, md5, scram-sha-256; an
 * md5 secret under a scram line; a missing role; right, wrong and no
 * password; every sslmode; psql and psycopg; sslnegotiation=direct (which a
 * 15/16 server cannot answer and a 17/18 server accepts, given libpq 17+:
 * psycopg bundles libpq 18, psql gets the server's own libpq).
 */
export function defaultScenarios(): Scenario[] {
  const out: Scenario[] = [];
  for (const serverSsl of [true, false]) {
    for (const type of ['host', 'hostssl', 'hostnossl'] as const) {
      const line = hbaLine(type, 'scram-sha-256');
      out.push(...cases(line, { serverSsl, users: ['test'], passwords: ALL_PASSWORDS, sslmodes: SSLMODES }));
      if (type === 'host' && serverSsl) {
        out.push(...cases(line, { serverSsl, users: ['md5user', 'ghost'], passwords: ALL_PASSWORDS, sslmodes: ['prefer', 'disable'] }));
        out.push(...cases(line, { serverSsl, users: ['test'], passwords: ALL_PASSWORDS, sslmodes: SSLMODES, clients: ['psycopg'] }));
        out.push(...cases(line, { serverSsl, users: ['test'], passwords: ['right', 'wrong'], sslmodes: ['require', 'verify-full'], clients: ['psql', 'psycopg'], sslnegotiation: 'direct' }));
        // libpq 17+ refuses direct with a weak sslmode before connecting; older libpq refuses the keyword.
        out.push(...cases(line, { serverSsl, users: ['test'], passwords: ['right'], sslmodes: ['prefer'], clients: ['psql'], sslnegotiation: 'direct' }));
      }
      if (type === 'host' && !serverSsl) {
        out.push(...cases(line, { serverSsl, users: ['test'], passwords: ['wrong'], sslmodes: ['disable', 'allow', 'prefer', 'require'], clients: ['psycopg'] }));
        out.push(...cases(line, { serverSsl, users: ['test'], passwords: ['right'], sslmodes: ['require'], clients: ['psql', 'psycopg'], sslnegotiation: 'direct' }));
      }
      if (type === 'hostssl' && serverSsl) {
        out.push(...cases(line, { serverSsl, users: ['test'], passwords: ['wrong'], sslmodes: ['prefer', 'disable'], clients: ['psycopg'] }));
      }
    }
  }
  for (const method of ['trust', 'reject', 'password', 'md5'] as const) {
    // The password is irrelevant to trust and reject: one kind is enough.
    const passwords: readonly PasswordKind[] = method === 'trust' || method === 'reject' ? ['none'] : ALL_PASSWORDS;
    out.push(...cases(hbaLine('host', method), { serverSsl: true, users: ['test', 'md5user', 'ghost'], passwords, sslmodes: ['prefer', 'disable'] }));
  }
  // A line no connection from 127.0.0.1 matches: the implicit reject, with and without TLS.
  const nomatch: LineSpec = { label: 'nomatch', hbaLine: 'host all all 10.0.0.0/8 scram-sha-256', method: 'scram-sha-256' };
  out.push(...cases(nomatch, { serverSsl: true, users: ['test', 'ghost'], passwords: ['right'], sslmodes: ['prefer', 'disable', 'require'] }));
  return out;
}

/** Scenarios whose id contains `filter` (all when it is empty or undefined). */
export function filterScenarios(list: readonly Scenario[], filter: string | undefined): Scenario[] {
  return filter ? list.filter((s) => s.id.includes(filter)) : [...list];
}
