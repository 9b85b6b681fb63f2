/**
 * psql 15's wrapper around libpq: when it prompts for a password and reconnects, -W and -w,
 * what it prints and its exit codes. The prompt table is the one measured with real psql 15
 * under a pseudo-terminal (shared/reference/client-negotiation.md §3.8); the rest is compared
 * with the real psql on this machine, over TCP against pg-authsim.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { makeServer, devTls } from '../support/fixtures.js';
import { PSQL } from '../support/psql.js';
import type { PgServer } from '../../src/server/server.js';
import type { FieldDescription } from '../../src/wire/messages.js';
import { RealClock } from '../../src/clock.js';
import { SeededRandom } from '../../src/random.js';
import { inProcessTransport, tcpTransport } from '../../src/clients/libpq/transport.js';
import { runPsql, printResult, type PsqlEnv, type PsqlInvocation } from '../../src/clients/psql.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('pg-authsim-psql-');
const label = (h: { status: string; ssl: boolean }) => `${h.status}/${h.ssl ? 'ssl' : 'plain'}`;

function serverWithHooks(hba: string): { server: PgServer; hooks: string[] } {
  const hooks: string[] = [];
  const { server } = makeServer({
    hba,
    settings: { ssl: true, tls: devTls(true), logConnections: true },
    hook: (p, status) => { hooks.push(label({ status: status === 0 ? 'OK' : status === -1 ? 'ERROR' : 'EOF', ssl: p.ssl_in_use })); },
  });
  return { server, hooks };
}

describe("psql's password prompt and reconnect (psql 15 startup.c)", () => {
  let server: PgServer;
  let hooks: string[];
  before(() => { ({ server, hooks } = serverWithHooks('host all all 0.0.0.0/0 scram-sha-256')); });
  after(() => server.close());

  type Row = { flags: 'none' | '-W' | '-w'; sslmode: string; typed: 'right' | 'wrong' | null; hooks: string[]; exit: number; prompts: string[] };
  const promptFor = 'Password for user test: ';
  const table: Row[] = [
    { flags: 'none', sslmode: 'disable', typed: 'right', hooks: ['EOF/plain', 'OK/plain'], exit: 0, prompts: [promptFor] },
    { flags: 'none', sslmode: 'disable', typed: 'wrong', hooks: ['EOF/plain', 'ERROR/plain'], exit: 2, prompts: [promptFor] },
    { flags: 'none', sslmode: 'allow', typed: 'right', hooks: ['EOF/plain', 'OK/plain'], exit: 0, prompts: [promptFor] },
    { flags: 'none', sslmode: 'allow', typed: 'wrong', hooks: ['EOF/plain', 'ERROR/plain', 'ERROR/ssl'], exit: 2, prompts: [promptFor] },
    { flags: 'none', sslmode: 'prefer', typed: 'right', hooks: ['EOF/ssl', 'OK/ssl'], exit: 0, prompts: [promptFor] },
    { flags: 'none', sslmode: 'prefer', typed: 'wrong', hooks: ['EOF/ssl', 'ERROR/ssl', 'ERROR/plain'], exit: 2, prompts: [promptFor] },
    { flags: 'none', sslmode: 'require', typed: 'right', hooks: ['EOF/ssl', 'OK/ssl'], exit: 0, prompts: [promptFor] },
    { flags: 'none', sslmode: 'require', typed: 'wrong', hooks: ['EOF/ssl', 'ERROR/ssl'], exit: 2, prompts: [promptFor] },
    { flags: '-W', sslmode: 'prefer', typed: 'right', hooks: ['OK/ssl'], exit: 0, prompts: ['Password: '] },
    { flags: '-W', sslmode: 'prefer', typed: 'wrong', hooks: ['ERROR/ssl', 'ERROR/plain'], exit: 2, prompts: ['Password: '] },
    { flags: '-w', sslmode: 'prefer', typed: null, hooks: ['EOF/ssl'], exit: 2, prompts: [] },
  ];
  for (const row of table) {
    it(`${row.flags === 'none' ? 'no -w/-W' : row.flags}, sslmode=${row.sslmode}${row.typed ? `, ${row.typed} password typed` : ''}: ${row.hooks.join(', ')}`, async () => {
      hooks.length = 0;
      const prompts: string[] = [];
      const env: PsqlEnv = {
        transport: inProcessTransport(server), clock: new RealClock(), random: new SeededRandom(3), version: 15,
        environ: { LC_ALL: 'C' }, osUser: 'root', homeDir: home,
        prompt: async (text) => { prompts.push(text); return row.typed === 'right' ? 'secret' : 'not-it'; },
      };
      const inv: PsqlInvocation = {
        dbname: `host=127.0.0.1 user=test dbname=postgres sslmode=${row.sslmode}`, command: 'select 1', tty: true,
        ...(row.flags === '-W' ? { forcePassword: true } : {}), ...(row.flags === '-w' ? { noPassword: true } : {}),
      };
      const r = await runPsql(inv, env);
      await server.idle();
      expect(hooks, 'hook calls').to.deep.equal(row.hooks);
      expect(prompts, 'prompts').to.deep.equal(row.prompts);
      expect(r.exitCode).to.equal(row.exit);
      expect(r.connectCalls, 'PQconnectdbParams calls').to.equal(row.flags === 'none' ? 2 : 1);
      if (row.exit === 0) expect(r.stdout).to.equal(' ?column? \n----------\n        1\n(1 row)\n\n');
    });
  }

  it('a password from the environment is never followed by a prompt, even when wrong', async () => {
    hooks.length = 0;
    let asked = 0;
    const r = await runPsql({ dbname: 'host=127.0.0.1 user=test dbname=postgres sslmode=disable', command: 'select 1', tty: true }, {
      transport: inProcessTransport(server), clock: new RealClock(), random: new SeededRandom(3), version: 15,
      environ: { PGPASSWORD: 'nope' }, osUser: 'root', homeDir: home, prompt: async () => { asked++; return 'secret'; },
    });
    await server.idle();
    expect([asked, r.exitCode, hooks]).to.deep.equal([0, 2, ['ERROR/plain']]);
    expect(r.stderr).to.equal('psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "test"\n');
  });

  it('a server that wants no password means no prompt', async () => {
    const trust = serverWithHooks('host all all 0.0.0.0/0 trust');
    let asked = 0;
    const r = await runPsql({ dbname: 'host=127.0.0.1 user=test dbname=nosuchdb', command: 'select 1', tty: true }, {
      transport: inProcessTransport(trust.server), clock: new RealClock(), random: new SeededRandom(3), version: 15,
      environ: {}, osUser: 'root', homeDir: home, prompt: async () => { asked++; return 'secret'; },
    });
    await trust.server.close();
    expect([asked, r.exitCode]).to.deep.equal([0, 2]);
    expect(r.stderr).to.equal('psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "nosuchdb" does not exist\n');
  });
});

/** The real psql with no terminal at all (setsid, stdin from /dev/null). */
function realPsql(args: string[], env: Record<string, string> = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('setsid', ['-w', PSQL, ...args], {
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: home, PGPASSFILE: path.join(home, 'none'), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
  });
}

describe('psql wrapper vs the real psql 15 over TCP', function () {
  this.timeout(20000);
  let server: PgServer;
  let hooks: string[];
  let port: number;
  before(async () => {
    ({ server, hooks } = serverWithHooks('host all all 0.0.0.0/0 scram-sha-256'));
    port = (await server.listen(0, ['127.0.0.1']))[0]!.port;
  });
  after(() => server.close());

  const model = (inv: PsqlInvocation, environ: Record<string, string> = {}) => runPsql(inv, {
    transport: tcpTransport(), clock: new RealClock(), random: new SeededRandom(5), version: 15,
    environ: { LC_ALL: 'C', PGPASSFILE: path.join(home, 'none'), ...environ }, osUser: 'root', homeDir: home,
  });

  const cases: Array<{ name: string; sql: string; sslmode: string; password?: string; noPassword?: boolean }> = [
    { name: 'no terminal, no password: the prompt goes to stderr, stdin is empty, psql tries again', sql: 'select 1', sslmode: 'prefer' },
    { name: 'the same without SSL', sql: 'select 1', sslmode: 'disable' },
    { name: 'several columns, booleans and text left-aligned, the header centered', sql: 'select ssl, version, cipher from pg_stat_ssl where pid = pg_backend_pid()', sslmode: 'require', password: 'secret' },
    { name: 'a name column', sql: 'select current_user', sslmode: 'disable', password: 'secret' },
    { name: 'SHOW', sql: 'show ssl', sslmode: 'disable', password: 'secret' },
    { name: 'a query error: ERROR and DETAIL on stderr, exit code 1', sql: 'select 2', sslmode: 'disable', password: 'secret' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const conninfo = `host=127.0.0.1 port=${port} user=test dbname=postgres sslmode=${c.sslmode}`;
      const environ: Record<string, string> = c.password ? { PGPASSWORD: c.password } : {};
      hooks.length = 0;
      const real = await realPsql(['-X', '-c', c.sql, conninfo], environ);
      await server.idle();
      const realHooks = [...hooks];
      hooks.length = 0;
      const mine = await model({ dbname: conninfo, command: c.sql }, environ);
      await server.idle();
      expect(mine.stderr, 'stderr').to.equal(real.stderr);
      expect(mine.stdout, 'stdout').to.equal(real.stdout);
      expect(mine.exitCode, 'exit code').to.equal(real.exitCode);
      expect(hooks, 'hook calls').to.deep.equal(realHooks);
    });
  }
});

describe("psql's aligned output", () => {
  const field = (name: string, typeOid: number): FieldDescription => ({ name, tableOid: 0, columnAttr: 0, typeOid, typeSize: -1, typeModifier: -1, format: 0 });
  it('numbers right, text left, NULL empty, the last column not padded, plural footer', () => {
    const text = printResult({
      status: 'tuples', fields: [field('n', 23), field('name', 25), field('x', 25)], commandTag: 'SELECT 2', error: null, errorMessage: '',
      rows: [['1', 'alpha', 'a'], ['100', null, 'bb']],
    });
    expect(text).to.equal('  n  | name  | x  \n-----+-------+----\n   1 | alpha | a\n 100 |       | bb\n(2 rows)\n\n');
  });
  it('no rows', () => {
    expect(printResult({ status: 'tuples', fields: [field('a', 25)], rows: [], commandTag: 'SELECT 0', error: null, errorMessage: '' }))
      .to.equal(' a \n---\n(0 rows)\n\n');
  });
});
