/**
 * The session's SQL against real PostgreSQL 15: every case of sql-cases.ts runs on a fresh
 * connection to both servers (trust, no TLS), and what each sends after its first
 * ReadyForQuery — decoded by pg-protocol, not our codec — must be the same, field by field:
 * RowDescription, rows, CommandComplete tags, ParameterStatus, ReadyForQuery status and
 * every field of errors and notices (code, message, detail, hint, position, context, F/L/R).
 */
import { expect } from 'chai';
import { TestCluster } from '../../src/testing/index.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import type { FrontendMessage } from '../../src/wire/messages.js';
import { RealPg } from '../support/real-pg.js';
import { WireClient, type Received } from '../support/wire-client.js';
import { startupMessage } from '../support/raw-login.js';
import { SQL_CASES, type SqlCase } from './sql-cases.js';
import { backendMessages } from '../support/pg-messages.js';

const ROLES = 'CREATE ROLE test SUPERUSER LOGIN;\nCREATE ROLE plain LOGIN;\n';

/** Send the case and read until as many ReadyForQuery as it asks for (one per Sync or Query). */
async function runCase(c: WireClient, run: SqlCase['run']): Promise<unknown[]> {
  const messages: Array<FrontendMessage | Buffer> = typeof run === 'string' ? [{ type: 'Query', sql: run }] : run;
  // A round ends at a Sync or a Query, whether typed or sent raw.
  const rounds = messages.filter((m) => (Buffer.isBuffer(m) ? m[0] === 0x53 || m[0] === 0x51 : m.type === 'Sync' || m.type === 'Query')).length;
  c.send(Buffer.concat(messages.map((m) => (Buffer.isBuffer(m) ? m : encodeFrontend(m)))));
  const out: Received[] = [];
  for (let i = 0; i < rounds; i++) out.push(...(await c.until('readyForQuery')));
  return backendMessages(out);
}

async function session(open: () => Promise<WireClient>, user: string): Promise<WireClient> {
  const c = await open();
  c.send(startupMessage(user));
  const hello = await c.until('readyForQuery');
  if (hello.at(-1)?.name !== 'readyForQuery') throw new Error(`login as ${user} failed: ${JSON.stringify(hello.at(-1))}`);
  return c;
}

describe('the session\'s SQL against real PostgreSQL 15 (same messages, same fields)', function () {
  this.timeout(60_000);
  let real: RealPg;
  let cluster: TestCluster;

  before(async () => {
    real = await RealPg.start({ hba: 'host all all 127.0.0.1/32 trust', setupSql: ROLES, ssl: false });
    cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
  });
  after(async () => {
    await cluster?.close();
    await real?.stop();
  });

  for (const c of SQL_CASES) {
    const label = typeof c.run === 'string' ? JSON.stringify(c.run) : c.run.map((m) => (Buffer.isBuffer(m) ? `raw ${String.fromCharCode(m[0]!)} ${JSON.stringify(m.subarray(5).toString('latin1'))}` : m.type === 'Parse' ? `Parse(${JSON.stringify(m.sql)})` : m.type === 'Query' ? `Query(${JSON.stringify(m.sql)})` : m.type)).join(' ');
    it(`${label}${c.user === 'plain' ? ' (as a non-superuser)' : ''}`, async () => {
      const user = c.user ?? 'test';
      const pgClient = await session(() => WireClient.tcp(real.port), user);
      const simClient = await session(async () => WireClient.memory(cluster.server), user);
      try {
        const expected = await runCase(pgClient, c.run);
        const actual = await runCase(simClient, c.run);
        expect(actual).to.deep.equal(expected);
      } finally {
        pgClient.end();
        simClient.end();
      }
    });
  }
});
