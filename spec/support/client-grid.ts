/** The one-cluster grid the libpq 17/18 and psycopg specs share: one user per kind of hba line. */
import type { ExtensionModule } from '../../src/extensions/extension.js';

export const ROLES = `
CREATE ROLE test LOGIN PASSWORD 'secret';
CREATE ROLE sslonly LOGIN PASSWORD 'secret';
CREATE ROLE nossl LOGIN PASSWORD 'secret';
`;
/** One user per kind of line, so one cluster covers all three. */
export const HBA = [
  'hostssl all sslonly 127.0.0.1/32 scram-sha-256',
  'hostnossl all nossl 127.0.0.1/32 scram-sha-256',
  'host all test 127.0.0.1/32 scram-sha-256',
].join('\n');
export const LINES = { host: 'test', hostssl: 'sslonly', hostnossl: 'nossl' } as const;
export type Line = keyof typeof LINES;
export const PASSWORDS = { right: 'secret', wrong: 'nope', none: null } as const;
export type Pw = keyof typeof PASSWORDS;

/** A hook in the slot, so every ClientAuthentication call shows up in the trace. */
export const probe: ExtensionModule = {
  name: 'probe',
  _PG_init(ctx) {
    const prev = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => { await prev?.(port, status); };
  },
};
