import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runMatrix, type MatrixRow } from '../../src/matrix/matrix.js';
import { ROOT } from '../support/fixtures.js';

const SEED = path.join(ROOT, 'examples/seed');
const CLI = path.join(ROOT, 'dist/src/cli.js');

const pick = (rows: MatrixRow[], sslmode: string, password = 'wrong', user = 'test') => rows.find((r) => r.user === user && r.sslmode === sslmode && r.password === password)!;

describe('pg-authsim matrix', () => {
  it('on the seed configuration: prefer → 2 calls / 4000 ms, disable → 1 / 2000 ms, require → 1 / 2000 ms', async () => {
    const { rows } = await runMatrix({ dataDirectory: SEED });
    expect(rows).to.have.length(2 * 6 * 3); // test + the missing role, every sslmode, three password kinds
    expect(pick(rows, 'prefer')).to.deep.include({ tcpConnections: 2, hookCalls: ['ERROR/ssl', 'ERROR/plain'], authDelayMs: 4000, outcome: 'error' });
    expect(pick(rows, 'disable')).to.deep.include({ tcpConnections: 1, hookCalls: ['ERROR/plain'], authDelayMs: 2000 });
    expect(pick(rows, 'require')).to.deep.include({ tcpConnections: 1, hookCalls: ['ERROR/ssl'], authDelayMs: 2000 });
    expect(pick(rows, 'allow')).to.deep.include({ tcpConnections: 2, hookCalls: ['ERROR/plain', 'ERROR/ssl'], authDelayMs: 4000 });
    expect(pick(rows, 'prefer', 'right')).to.deep.include({ tcpConnections: 1, hookCalls: ['OK/ssl'], authDelayMs: 0, outcome: 'ok', message: '' });
    expect(pick(rows, 'prefer', 'none')).to.deep.include({ tcpConnections: 1, hookCalls: ['EOF/ssl'], authDelayMs: 2000 });
    expect(pick(rows, 'prefer').message).to.equal(
      'psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "test"\n' +
      'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "test"');
  });

  it('with a hostssl line: prefer → 1 hook call plus the no-encryption rejection, 2000 ms', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'matrix-hostssl-'));
    try {
      cpSync(SEED, dir, { recursive: true });
      writeFileSync(path.join(dir, 'pg_hba.conf'), 'hostssl all all 0.0.0.0/0 scram-sha-256\n');
      const { rows } = await runMatrix({ dataDirectory: dir, users: ['test'] });
      const prefer = pick(rows, 'prefer');
      expect(prefer).to.deep.include({ tcpConnections: 2, hookCalls: ['ERROR/ssl'], authDelayMs: 2000 });
      expect(prefer.message).to.equal(
        'psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "test"\n' +
        'connection to server at "127.0.0.1", port 5432 failed: FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "test", database "postgres", no encryption');
      expect(pick(rows, 'disable')).to.deep.include({ tcpConnections: 1, hookCalls: [], authDelayMs: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the CLI prints JSON, Markdown and CSV views of the same rows', () => {
    const json = JSON.parse(execFileSync('node', [CLI, 'matrix', '-D', SEED, '--format', 'json', '--user', 'test', '--sslmode', 'prefer'], { encoding: 'utf8' })) as Array<Record<string, unknown>>;
    expect(json.map((r) => [r.password, r.connections, r['hook calls'], r['auth_delay ms']])).to.deep.equal([
      ['right', 1, 'OK/ssl', 0], ['wrong', 2, 'ERROR/ssl ERROR/plain', 4000], ['none', 1, 'EOF/ssl', 2000],
    ]);
    const md = execFileSync('node', [CLI, 'matrix', '-D', SEED, '--format', 'markdown', '--user', 'test', '--sslmode', 'disable'], { encoding: 'utf8' });
    expect(md.split('\n')[0]).to.equal('| user | sslmode | password | connections | hook calls | auth_delay ms | outcome | client error |');
    const csv = execFileSync('node', [CLI, 'matrix', '-D', SEED, '--format', 'csv', '--user', 'test', '--sslmode', 'require'], { encoding: 'utf8' });
    expect(csv.split('\n')[2]).to.match(/^test,require,wrong,1,ERROR\/ssl,2000,error,"psql: error: /);
  });

  it('the Go drivers by name or alias: pgx pays twice for a wrong scram password under prefer, lib/pq refuses prefer', () => {
    const rows = (client: string) => JSON.parse(execFileSync('node', [CLI, 'matrix', '-D', SEED, '--format', 'json', '--user', 'test', '--sslmode', 'prefer', '--client', client], { encoding: 'utf8' })) as Array<Record<string, unknown>>;
    const wrong = (client: string) => rows(client).find((r) => r.password === 'wrong')!;
    expect(wrong('pgx')).to.deep.include({ connections: 2, 'hook calls': 'ERROR/ssl ERROR/plain', 'auth_delay ms': 4000 });
    expect(wrong('pgconn')).to.deep.include({ connections: 2, 'hook calls': 'ERROR/ssl ERROR/plain' });
    for (const client of ['lib/pq', 'pq']) {
      expect(wrong(client)).to.deep.include({ connections: 1, 'hook calls': '-', 'auth_delay ms': 0 });
      expect(wrong(client)['client error']).to.match(/^pq: unsupported sslmode "prefer"/);
    }
  });

  it('refuses unknown clients, formats and sslmodes with a clear message', () => {
    const run = (args: string[]) => {
      try { execFileSync('node', [CLI, 'matrix', '-D', SEED, ...args], { encoding: 'utf8', stdio: 'pipe' }); return ''; } catch (e) { return String((e as { stderr: string }).stderr); }
    };
    expect(run(['--client', 'nope'])).to.match(/unknown client "nope"; known clients: psql/);
    expect(run(['--format', 'xml'])).to.contain('unknown format "xml"');
    expect(run(['--sslmode', 'maybe'])).to.contain('invalid sslmode value: "maybe"');
  });
});
