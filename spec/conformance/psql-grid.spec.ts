/**
 * Real psql (libpq 15) against `pg-authsim` over TCP, case by case against
 * what real PostgreSQL 15 did with the same psql (spec/data/pg15/psql-grid.json,
 * produced by oracle/run-pg15-grid.sh): exit code, psql's error text, the
 * number of TCP connections, every ClientAuthentication_hook call (status,
 * ssl) and each connection's server log.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeServer, devTls, ROOT, CERTS } from '../support/fixtures.js';
import { perConnectionLogs } from '../support/oracle.js';
import { runPsql } from '../support/psql.js';
import type { ServerEvent } from '../../src/events.js';
import type { PgServer } from '../../src/server/server.js';

interface OracleCase {
  group: string; hba: string; method: string; serverSsl: boolean; password: 'right' | 'wrong' | 'none' | 'typed';
  sslmode: string; user: string; conninfo: string; exitCode: number; stdout: string; stderr: string;
  tcpConnections: number; hookCalls: Array<{ status: string; ssl: boolean }>;
  connections: Array<{ log: string[] }>;
}
interface Oracle { passwords: Record<string, string>; cases: OracleCase[] }

const oracle = JSON.parse(readFileSync(path.join(ROOT, 'spec/data/pg15/psql-grid.json'), 'utf8')) as Oracle;
// The interactive cases type at a prompt under script(1); they belong to the psql re-prompt model, not this grid.
const cases = oracle.cases.filter((c) => c.group !== 'interactive');

/** One connection's log lines as the oracle stores them: one entry per message, continuation lines folded in. */
describe(`psql 15 against pg-authsim, compared with real PostgreSQL 15 (${cases.length} cases from oracle/)`, function () {
  this.timeout(30000);
  const groups = new Map<string, OracleCase[]>();
  for (const c of cases) {
    const key = `${c.hba} all all 0.0.0.0/0 ${c.method} | ssl=${c.serverSsl ? 'on' : 'off'}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }

  for (const [key, group] of groups) {
    describe(key, () => {
      let server: PgServer;
      let events: ServerEvent[];
      let hookCalls: Array<{ status: string; ssl: boolean }>;
      let port: number;

      before(async () => {
        const first = group[0]!;
        hookCalls = [];
        const made = makeServer({
          hba: `${first.hba} all all 0.0.0.0/0 ${first.method}`,
          settings: { ssl: first.serverSsl, tls: devTls(true), logConnections: true, hbaPath: '$DATA/pg_hba.conf' },
          hook: (p, status) => { hookCalls.push({ status: status === 0 ? 'OK' : status === -1 ? 'ERROR' : 'EOF', ssl: p.ssl_in_use }); },
        });
        server = made.server;
        events = made.events;
        port = (await server.listen(0, ['127.0.0.1']))[0]!.port;
      });
      after(() => server.close());

      for (const c of group) {
        it(`${c.user}, ${c.password} password, sslmode=${c.sslmode}`, async () => {
          events.length = 0;
          hookCalls.length = 0;
          const conninfo = c.conninfo.replace('$PORT', String(port)).replace('$WORK/certs/ca.crt', path.join(CERTS, 'ca.crt'));
          const pw = c.password === 'right' || c.password === 'wrong' ? oracle.passwords[c.password] : undefined;
          const r = await runPsql(conninfo, pw !== undefined ? { password: pw } : {});
          await server.idle();
          const normalise = (s: string) => s.replaceAll(`port ${port}`, 'port $PORT');
          expect(normalise(r.stderr), 'psql stderr').to.equal(c.stderr);
          expect(r.exitCode, 'psql exit code').to.equal(c.exitCode);
          expect(r.stdout, 'psql stdout').to.equal(c.stdout);
          expect(events.filter((e) => e.type === 'connection-received').length, 'TCP connections').to.equal(c.tcpConnections);
          expect(hookCalls, 'ClientAuthentication_hook calls').to.deep.equal(c.hookCalls);
          const expectedLogs = c.connections.map((conn) => conn.log.filter((l) => !l.startsWith('LOG:  hook_probe:')));
          expect(perConnectionLogs(events), 'server log per connection').to.deep.equal(expectedLogs);
        });
      }
    });
  }
});
