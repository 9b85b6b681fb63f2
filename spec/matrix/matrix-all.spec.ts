/**
 * matrix with every client side by side, and the questions beyond sslmode × password: sslmode
 * left unset, psql's interactive prompt, libpq options each client maps (or not), what
 * node-postgres's application does after a rejection, and CA trust for every client from the
 * data directory's certificates (without this process's NODE_EXTRA_CA_CERTS).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runMatrix, type MatrixOptions, type MatrixRow } from '../../src/matrix/matrix.js';
import { MATRIX_CLIENTS } from '../../src/matrix/clients.js';
import { matrixCell } from '../../src/matrix/cli.js';
import { ROOT } from '../support/fixtures.js';

const SEED = path.join(ROOT, 'examples/seed');
const CLI = path.join(ROOT, 'dist/src/cli.js');
const cell = (rows: MatrixRow[], client: string, sslmode: string, password: string) =>
  matrixCell(rows.find((r) => r.client === client && r.sslmode === sslmode && r.password === password && r.user === 'test')!);

describe('pg-authsim matrix --client all', () => {
  let rows: MatrixRow[];
  before(async () => {
    ({ rows } = await runMatrix({ dataDirectory: SEED, clients: Object.values(MATRIX_CLIENTS), users: ['test'], passwords: ['right', 'wrong', 'none', 'prompt'] }));
  });

  it('runs every client over the same cases, sslmode unset first', () => {
    const names = Object.keys(MATRIX_CLIENTS);
    expect(rows).to.have.length(names.length * 7 * 4);
    expect([...new Set(rows.map((r) => r.client))]).to.deep.equal(names);
    expect([...new Set(rows.map((r) => r.sslmode))]).to.deep.equal(['unset', 'disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);
  });

  it("unset is each driver's own default: libpq and asyncpg prefer (two calls), node-postgres and postgres.js plaintext, pgjdbc one SSL call", () => {
    expect(cell(rows, 'psql', 'unset', 'wrong')).to.equal('ERROR/ssl ERROR/plain');
    expect(cell(rows, 'psycopg', 'unset', 'wrong')).to.equal('ERROR/ssl ERROR/plain');
    expect(cell(rows, 'asyncpg', 'unset', 'wrong')).to.equal('ERROR/ssl ERROR/plain');
    expect(cell(rows, 'pg', 'unset', 'wrong')).to.equal('ERROR/plain');
    expect(cell(rows, 'postgres.js', 'unset', 'wrong')).to.equal('ERROR/plain');
    expect(cell(rows, 'pgjdbc', 'unset', 'wrong')).to.equal('ERROR/ssl');
    expect(cell(rows, 'pg', 'unset', 'right')).to.equal('OK/plain ✓');
  });

  it("prompt: psql hangs up, asks, and a wrong password typed under prefer costs three hook calls; clients without a prompt behave as with none", () => {
    expect(cell(rows, 'psql', 'prefer', 'prompt')).to.equal('EOF/ssl ERROR/ssl ERROR/plain');
    expect(cell(rows, 'psql-libpq17', 'prefer', 'prompt')).to.equal('EOF/ssl ERROR/ssl ERROR/plain');
    expect(cell(rows, 'psql', 'require', 'prompt')).to.equal('EOF/ssl ERROR/ssl');
    for (const c of ['psycopg', 'pg', 'postgres.js', 'pgjdbc', 'asyncpg']) expect(cell(rows, c, 'prefer', 'prompt'), c).to.equal(cell(rows, c, 'prefer', 'none'));
  });

  it('trusts the data directory CA in every client: verify-full with the right password logs in everywhere', () => {
    for (const c of Object.keys(MATRIX_CLIENTS)) expect(cell(rows, c, 'verify-full', 'right'), c).to.match(/^OK\/ssl ✓$/);
  });

  it("... and without this process's NODE_EXTRA_CA_CERTS (postgres.js and node-postgres read their own)", () => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const out = JSON.parse(execFileSync('node', [CLI, 'matrix', '-D', SEED, '--client', 'postgres.js', '--client', 'pg', '--user', 'test', '--sslmode', 'verify-full', '--password', 'right', '--format', 'json'], { encoding: 'utf8', env })) as Array<{ clients: Record<string, { outcome: string; hookCalls: string[] }> }>;
    expect(out).to.have.length(1);
    expect(out[0]!.clients['postgres.js']).to.deep.include({ outcome: 'ok', hookCalls: ['OK/ssl'] });
    expect(out[0]!.clients.pg).to.deep.include({ outcome: 'ok', hookCalls: ['OK/ssl'] });
  });
});

describe('matrix with a second lane (a worker thread with a server of its own)', () => {
  const all: MatrixOptions = { dataDirectory: SEED, clients: Object.values(MATRIX_CLIENTS), users: ['test', 'no_such_role'], sslmodes: ['unset', 'prefer', 'verify-full'], passwords: ['right', 'wrong', 'none', 'prompt'] };

  it('gives the rows one server gives, in the same order, when the cases cannot affect each other', async function () {
    this.timeout(60_000);
    const one = await runMatrix({ ...all, parallel: false });
    const two = await runMatrix({ ...all, parallel: true });
    expect(two).to.deep.equal(one);
  });

  it('runs on one server when an extension keeps state between connections (a failure counter sees every case)', async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-lanes-'));
    try {
      cpSync(SEED, dir, { recursive: true });
      cpSync(path.join(ROOT, 'dist/examples/extensions/lockout.js'), path.join(dir, 'lockout.js'));
      appendFileSync(path.join(dir, 'postgresql.conf'), "shared_preload_libraries = 'auth_delay,lockout'\n");
      const opts = { ...all, dataDirectory: dir, users: ['test'] };
      const one = await runMatrix({ ...opts, parallel: false });
      // Earlier cases locked the role: a later right password is refused.
      expect(one.rows.filter((r) => r.password === 'right' && r.outcome === 'error').length).to.be.greaterThan(0);
      expect(await runMatrix({ ...opts, parallel: true })).to.deep.equal(one);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pg-authsim matrix options', () => {
  const only = (names: string[]) => names.map((n) => MATRIX_CLIENTS[n]!);

  it('--sslnegotiation direct: libpq 15 refuses the keyword, libpq 17, pgjdbc and asyncpg start TLS at once (a 17 server), postgres.js too; each client says what it does not map', async () => {
    const { rows, clients } = await runMatrix({
      dataDirectory: SEED, clients: only(['psql', 'psql-libpq17', 'pgjdbc', 'asyncpg', 'postgres.js', 'pg']), users: ['test'], sslmodes: ['require'], passwords: ['right'],
      options: { sslnegotiation: 'direct' }, overrides: { server_version: '17' },
    });
    const by = (c: string) => rows.find((r) => r.client === c)!;
    expect(by('psql').message).to.contain('invalid connection option "sslnegotiation"');
    for (const c of ['psql-libpq17', 'pgjdbc', 'asyncpg', 'postgres.js', 'pg']) expect(by(c), c).to.deep.include({ outcome: 'ok', hookCalls: ['OK/ssl'] });
    expect(clients.every((c) => c.ignored.length === 0)).to.equal(true);
  });

  it('--channel-binding require: libpq refuses a plaintext SCRAM; node-postgres has no equivalent and says so', async () => {
    const { rows, clients } = await runMatrix({
      dataDirectory: SEED, clients: only(['psql', 'pgjdbc', 'pg']), users: ['test'], sslmodes: ['disable', 'require'], passwords: ['right'], options: { channel_binding: 'require' },
    });
    const at = (c: string, m: string) => rows.find((r) => r.client === c && r.sslmode === m)!;
    expect(at('psql', 'disable')).to.deep.include({ outcome: 'error', hookCalls: ['EOF/plain'] });
    expect(at('psql', 'disable').message).to.contain('channel binding required, but SSL not in use');
    expect(at('psql', 'require')).to.deep.include({ outcome: 'ok', hookCalls: ['OK/ssl'] });
    expect(at('pgjdbc', 'disable')).to.deep.include({ outcome: 'error', hookCalls: ['EOF/plain'] });
    expect(clients.find((c) => c.name === 'pg')!.ignored).to.deep.equal(['channel_binding=require']);
  });

  it('--after-rejection: node-postgres without a password: client.end() → no hook call; process exit → EOF; nothing → authentication_timeout, no hook call', async () => {
    const run = async (after: string) => (await runMatrix({
      dataDirectory: SEED, client: MATRIX_CLIENTS.pg!, users: ['test'], sslmodes: ['disable'], passwords: ['none'], options: { afterRejection: after },
    })).rows[0]!;
    expect(await run('end')).to.deep.include({ tcpConnections: 1, hookCalls: [] });
    expect(await run('destroy')).to.deep.include({ tcpConnections: 1, hookCalls: ['EOF/plain'] });
    expect(await run('keep-open')).to.deep.include({ tcpConnections: 1, hookCalls: [] });
  });

  it('the CLI: --client all prints one column per client; --help documents the options; bad values are refused', () => {
    const table = execFileSync('node', [CLI, 'matrix', '-D', SEED, '--client', 'all', '--user', 'test', '--sslmode', 'unset', '--password', 'wrong'], { encoding: 'utf8' });
    const header = table.split('\n').find((l) => l.startsWith('user'))!;
    expect(header.split(/\s{2,}/)).to.deep.equal(['user', 'sslmode', 'password', ...Object.keys(MATRIX_CLIENTS)]);
    expect(table).to.match(/test\s+unset\s+wrong\s+ERROR\/ssl ERROR\/plain/);
    expect(execFileSync('node', [CLI, 'matrix', '--help'], { encoding: 'utf8' })).to.contain('--after-rejection');
    const run = (args: string[]) => {
      try { execFileSync('node', [CLI, 'matrix', '-D', SEED, ...args], { encoding: 'utf8', stdio: 'pipe' }); return ''; } catch (e) { return String((e as { stderr: string }).stderr); }
    };
    expect(run(['--password', 'maybe'])).to.contain('invalid password value: "maybe"');
    expect(run(['--after-rejection', 'later'])).to.contain('invalid after-rejection value');
  });
});
