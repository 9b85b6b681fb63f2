/** Small builders shared by specs: a server from config text, and the dev certificates. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { PgServer, type PgServerOptions } from '../../src/server/server.js';
import { parseHbaFile } from '../../src/hba/index.js';
import { parseRolesFile } from '../../src/roles/index.js';
import { SeededRandom } from '../../src/random.js';
import type { ServerSettings } from '../../src/server/settings.js';
import type { ServerEvent } from '../../src/events.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CERTS = path.join(ROOT, 'certs');

export function devTls(withCa = true): ServerSettings['tls'] {
  return {
    cert: readFileSync(path.join(CERTS, 'server.crt')),
    key: readFileSync(path.join(CERTS, 'server.key')),
    ca: withCa ? readFileSync(path.join(CERTS, 'ca.crt')) : null,
    minVersion: 'TLSv1.2',
    maxVersion: null,
  };
}

export const DEFAULT_ROLES = `
CREATE ROLE test LOGIN PASSWORD 'secret';
CREATE ROLE other LOGIN PASSWORD 'secret';
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'secret';
SET password_encryption = 'scram-sha-256';
CREATE ROLE nopw LOGIN;
CREATE ROLE expired LOGIN PASSWORD 'secret' VALID UNTIL '2000-01-01';
CREATE ROLE nologin PASSWORD 'secret';
CREATE ROLE postgres SUPERUSER LOGIN PASSWORD 'secret';
`;

export interface TestServer {
  server: PgServer;
  events: ServerEvent[];
}

export function makeServer(opts: {
  hba: string;
  roles?: string;
  settings?: Partial<ServerSettings>;
  seed?: number;
  hook?: PgServerOptions['clientAuthenticationHook'];
  clock?: PgServerOptions['clock'];
}): TestServer {
  const settings = opts.settings ?? {};
  const hbaPath = settings.hbaPath ?? '/data/pg_hba.conf';
  const parsed = parseHbaFile(opts.hba, { path: hbaPath, sslEnabled: settings.ssl ?? false });
  if (!parsed.ok) throw new Error(`bad hba in test: ${parsed.errors.map((e) => e.message).join('; ')}`);
  const roles = parseRolesFile(opts.roles ?? DEFAULT_ROLES, { path: 'roles.sql', random: new SeededRandom(7) });
  const server = new PgServer({
    hba: parsed.lines,
    roles,
    settings: { hbaPath, ...settings },
    seed: opts.seed ?? 1,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.hook !== undefined ? { clientAuthenticationHook: opts.hook } : {}),
  });
  const events: ServerEvent[] = [];
  server.on((e) => events.push(e));
  return { server, events };
}
