/**
 * The libpq 15 model and psql's wrapper, driven in-process against pg-authsim, case by
 * case against what real psql 15 did with real PostgreSQL 15 (spec/data/pg15/psql-grid.json,
 * from oracle/run-pg15-grid.sh): exit code, psql's stderr and stdout, the number of TCP
 * connections, every ClientAuthentication_hook call and each connection's server log.
 * The two interactive cases answer the password prompt as the oracle's typist did.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { makeServer, devTls, ROOT, CERTS } from '../support/fixtures.js';
import { perConnectionLogs } from '../support/oracle.js';
import type { ServerEvent } from '../../src/events.js';
import type { PgServer } from '../../src/server/server.js';
import { RealClock } from '../../src/clock.js';
import { SeededRandom } from '../../src/random.js';
import { inProcessTransport } from '../../src/clients/libpq/transport.js';
import { runPsql, type PsqlEnv } from '../../src/clients/psql.js';
import { tempDir } from '../support/temp.js';

interface OracleCase {
  group: string; hba: string; method: string; serverSsl: boolean; password: 'right' | 'wrong' | 'none' | 'typed';
  typed?: 'right' | 'wrong'; sslmode: string; user: string; conninfo: string; exitCode: number;
  stdout?: string; stderr?: string; tty?: string;
  tcpConnections: number; hookCalls: Array<{ status: string; ssl: boolean }>;
  connections: Array<{ log: string[] }>;
}
interface Oracle { passwords: Record<string, string>; cases: OracleCase[] }

const oracle = JSON.parse(readFileSync(path.join(ROOT, 'spec/data/pg15/psql-grid.json'), 'utf8')) as Oracle;
/** The port written into the conninfo; in-process connections ignore it, messages show it. */
const PORT = 55432;
/** The oracle ran psql with HOME set to an empty directory and PGPASSFILE naming a missing file. */
const emptyHome = tempDir('pg-authsim-libpq-home-');

describe(`libpq 15 model + psql wrapper against pg-authsim in-process, compared with real psql/PostgreSQL 15 (${oracle.cases.length} cases)`, function () {
  this.timeout(20000);
  const groups = new Map<string, OracleCase[]>();
  for (const c of oracle.cases) {
    const key = `${c.hba} all all 0.0.0.0/0 ${c.method} | ssl=${c.serverSsl ? 'on' : 'off'}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }

  for (const [key, group] of groups) {
    describe(key, () => {
      let server: PgServer;
      let events: ServerEvent[];
      let hookCalls: Array<{ status: string; ssl: boolean }>;

      before(() => {
        const first = group[0]!;
        hookCalls = [];
        const made = makeServer({
          hba: `${first.hba} all all 0.0.0.0/0 ${first.method}`,
          settings: { ssl: first.serverSsl, tls: devTls(true), logConnections: true, hbaPath: '$DATA/pg_hba.conf' },
          hook: (p, status) => { hookCalls.push({ status: status === 0 ? 'OK' : status === -1 ? 'ERROR' : 'EOF', ssl: p.ssl_in_use }); },
        });
        server = made.server;
        events = made.events;
      });
      after(() => server.close());

      for (const c of group) {
        const title = c.group === 'interactive'
          ? `${c.user}, interactive psql, ${c.typed} password typed at the prompt, sslmode=${c.sslmode}`
          : `${c.user}, ${c.password} password, sslmode=${c.sslmode}`;
        it(title, async () => {
          events.length = 0;
          hookCalls.length = 0;
          const conninfo = c.conninfo.replace('$PORT', String(PORT)).replace('$WORK/certs/ca.crt', path.join(CERTS, 'ca.crt'));
          const environ: Record<string, string> = { LC_ALL: 'C', PGPASSFILE: path.join(emptyHome, 'no-such-pgpass') };
          if (c.password === 'right' || c.password === 'wrong') environ.PGPASSWORD = oracle.passwords[c.password]!;
          const prompts: string[] = [];
          const env: PsqlEnv = {
            transport: inProcessTransport(server),
            clock: new RealClock(),
            random: new SeededRandom(c.conninfo),
            version: 15,
            environ,
            osUser: 'root',
            homeDir: emptyHome,
            ...(c.group === 'interactive' ? {
              prompt: async (text: string) => { prompts.push(text); return oracle.passwords[c.typed!]!; },
            } : {}),
          };
          const r = c.group === 'interactive'
            ? await runPsql({ dbname: conninfo, command: 'select 1', tty: true }, env)
            : await runPsql({ dbname: conninfo, command: 'select 1', noPassword: true }, env);
          await server.idle();
          const normalise = (s: string) => s.replaceAll(`port ${PORT}`, 'port $PORT');
          if (c.group === 'interactive') {
            expect(normalise(r.terminal), 'what the terminal showed').to.equal(c.tty);
            expect(prompts, 'prompts').to.deep.equal([`Password for user ${c.user}: `]);
          } else {
            expect(normalise(r.stderr), 'psql stderr').to.equal(c.stderr);
            expect(r.stdout, 'psql stdout').to.equal(c.stdout);
          }
          expect(r.exitCode, 'psql exit code').to.equal(c.exitCode);
          expect(events.filter((e) => e.type === 'connection-received').length, 'TCP connections').to.equal(c.tcpConnections);
          expect(r.attempts.filter((a) => a.tcp).length, 'attempts the model recorded').to.equal(c.tcpConnections);
          expect(hookCalls, 'ClientAuthentication_hook calls').to.deep.equal(c.hookCalls);
          const expectedLogs = c.connections.map((conn) => conn.log.filter((l) => !l.startsWith('LOG:  hook_probe:')));
          expect(perConnectionLogs(events), 'server log per connection').to.deep.equal(expectedLogs);
        });
      }
    });
  }
});
