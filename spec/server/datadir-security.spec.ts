/**
 * Issue 8, items 4-6: nothing trusted or exposed that the user did not ask for.
 *  - the repository's development certificates only on request (dev_certificates / --dev-certs),
 *    and its CA (whose key is public) never trusted for client certificates implicitly;
 *  - loopback addresses only, unless --allow-remote, which is then logged;
 *  - private key files checked as PostgreSQL 15 checks them (mode and owner), compared with the
 *    real server's own startup messages.
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { TestCluster } from '../../src/testing/index.js';
import { loadDataDirectory, StartupError } from '../../src/server/datadir.js';
import { checkListenAddresses, isLoopbackAddress } from '../../src/server/listen-addresses.js';
import { PgServer } from '../../src/server/server.js';
import { RoleCatalog } from '../../src/roles/index.js';
import { SeededRandom } from '../../src/random.js';
import { PgError } from '../../src/errors.js';
import { CERTS, ROOT } from '../support/fixtures.js';
import { PGBIN } from '../support/real-pg.js';

const CLI = path.join(ROOT, 'dist/src/cli.js');
const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';";

function dataDir(conf: string, hba = 'host all all 127.0.0.1/32 trust\n', files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-sec-'));
  writeFileSync(path.join(dir, 'postgresql.conf'), conf);
  writeFileSync(path.join(dir, 'pg_hba.conf'), hba);
  writeFileSync(path.join(dir, 'roles.sql'), ROLES);
  for (const [f, t] of Object.entries(files)) writeFileSync(path.join(dir, f), t);
  return dir;
}

function startupFailure(dir: string): StartupError {
  try {
    loadDataDirectory(dir, new SeededRandom(1));
  } catch (e) {
    if (e instanceof StartupError) return e;
    throw e;
  }
  throw new Error('the data directory loaded');
}

describe('development certificates only on request (issue 8 item 4)', () => {
  const dirs: string[] = [];
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  // libpq refuses a client key others can read; a checkout may have it 0644.
  let clientKey: string;
  before(() => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-sec-key-'));
    dirs.push(dir);
    clientKey = path.join(dir, 'client.key');
    copyFileSync(path.join(CERTS, 'client.key'), clientKey);
    chmodSync(clientKey, 0o600);
  });

  it('ssl = on without a certificate fails as PostgreSQL does, with a hint naming the opt-in', () => {
    const dir = dataDir('ssl = on\n');
    dirs.push(dir);
    const e = startupFailure(dir);
    expect(e.fatal.fields).to.include({ severity: 'FATAL', sqlstate: 'F0000', message: 'could not load server certificate file "server.crt": No such file or directory' });
    expect(e.fatal.hint).to.match(/dev_certificates = on/);
  });

  it('dev_certificates = on uses the development server certificate, warns, and trusts no CA for client certificates', () => {
    const dir = dataDir('ssl = on\ndev_certificates = on\n');
    dirs.push(dir);
    const loaded = loadDataDirectory(dir, new SeededRandom(1));
    expect(loaded.settings.tls?.cert.equals(readFileSync(path.join(CERTS, 'server.crt')))).to.equal(true);
    expect(loaded.settings.tls?.ca).to.equal(null);
    const warning = loaded.startupMessages.find((m) => m.severity === 'WARNING' && /TEST-ONLY/.test(m.message));
    expect(warning?.message).to.match(/private key is public/);
  });

  it('a certificate signed by the public development CA does not pass `cert` authentication', async () => {
    const cluster = await TestCluster.start({ postgresqlConf: { ssl: true }, hba: 'hostssl all all 127.0.0.1/32 cert', roles: ROLES });
    try {
      // certs/client.crt is CN=test, signed with certs/ca.key, which anyone can read.
      const r = await cluster.psql(`user=test dbname=postgres sslmode=require sslcert=${path.join(CERTS, 'client.crt')} sslkey=${clientKey}`);
      await cluster.idle();
      expect(r.exitCode).to.equal(2);
      expect(r.stderr).to.include('FATAL:  client certificates can only be checked if a root certificate store is available');
      expect(cluster.trace.hookCalls()).to.deep.equal([]);
    } finally {
      await cluster.close();
    }
  });

  it('naming the development CA in ssl_ca_file is the explicit way to trust it', async () => {
    const cluster = await TestCluster.start({ postgresqlConf: { ssl: true, ssl_ca_file: path.join(CERTS, 'ca.crt') }, hba: 'hostssl all all 127.0.0.1/32 cert', roles: ROLES });
    try {
      const r = await cluster.psql(`user=test dbname=postgres sslmode=require sslcert=${path.join(CERTS, 'client.crt')} sslkey=${clientKey}`);
      await cluster.idle();
      expect(r.exitCode, r.stderr).to.equal(0);
    } finally {
      await cluster.close();
    }
  });

  it('TestCluster with ssl on needs no ceremony (development server certificate, TLS works)', async () => {
    const cluster = await TestCluster.start({ postgresqlConf: { ssl: true }, hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
    try {
      const r = await cluster.psql('user=test dbname=postgres sslmode=verify-full host=localhost hostaddr=127.0.0.1');
      expect(r.exitCode, r.stderr).to.equal(0);
      expect(cluster.trace.events.filter((e) => e.type === 'tls-established')).to.have.length(1);
    } finally {
      await cluster.close();
    }
  });
});

describe('loopback only, unless --allow-remote (issue 8 item 5)', () => {
  const table: Array<[string, boolean]> = [
    ['127.0.0.1', true], ['127.1.2.3', true], ['::1', true], ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false], ['::', false], ['10.1.2.3', false], ['192.168.1.10', false], ['fe80::1', false], ['::ffff:10.0.0.1', false],
  ];
  for (const [address, loopback] of table) {
    it(`${address} is ${loopback ? '' : 'not '}loopback`, () => expect(isLoopbackAddress(address)).to.equal(loopback));
  }

  it('refuses 0.0.0.0, ::, and names that resolve beyond loopback; accepts localhost', async () => {
    for (const h of ['0.0.0.0', '::']) {
      const e = await checkListenAddresses([h], { origin: '--host' }).then(() => null, (err: unknown) => err);
      expect(e).to.be.instanceOf(PgError);
      expect((e as PgError).message).to.equal(`pg-authsim listens on loopback addresses only, and "${h}" (--host) is not one`);
    }
    expect(await checkListenAddresses(['localhost', '127.0.0.1', '::1'])).to.deep.equal([]);
  });

  it('with allowRemote, binds and returns the warning to log', async () => {
    expect(await checkListenAddresses(['0.0.0.0'], { allowRemote: true })).to.deep.equal([
      'listening beyond loopback on "0.0.0.0" (--allow-remote): any host that can reach this machine can connect to this simulated server',
    ]);
  });

  it('PgServer.listen refuses a non-loopback address for library users too, binding nothing', async () => {
    const server = new PgServer({ hba: [], roles: new RoleCatalog() });
    const e = await server.listen(0, ['0.0.0.0']).then(() => null, (err: unknown) => err);
    expect((e as PgError).sqlstate).to.equal('F0000');
    await server.close();
  });

  it('serve --host 0.0.0.0 exits 1 with the FATAL, binding nothing', function () {
    this.timeout(20_000);
    const dir = dataDir('');
    try {
      const r = spawnSync('node', [CLI, 'serve', '-D', dir, '--port', '0', '--host', '0.0.0.0'], { encoding: 'utf8', timeout: 15_000 });
      expect(r.status).to.equal(1);
      expect(r.stdout).to.not.include('listening on');
      expect(r.stderr).to.match(/FATAL:  pg-authsim listens on loopback addresses only, and "0\.0\.0\.0" \(--host\) is not one\n.*HINT:  .*--allow-remote/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("listen_addresses = '*' in postgresql.conf is refused, naming the file and line", function () {
    this.timeout(20_000);
    const dir = dataDir("port = 5433\nlisten_addresses = '*'\n");
    try {
      const r = spawnSync('node', [CLI, 'serve', '-D', dir, '--port', '0'], { encoding: 'utf8', timeout: 15_000 });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.include(`"0.0.0.0" (listen_addresses, line 2 of configuration file "${path.join(dir, 'postgresql.conf')}") is not one`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve --allow-remote binds 0.0.0.0 and logs a WARNING', async function () {
    this.timeout(20_000);
    const dir = dataDir('');
    const child = spawn('node', [CLI, 'serve', '-D', dir, '--port', '0', '--host', '0.0.0.0', '--allow-remote'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    try {
      while (!/listening on/.test(out)) {
        if (child.exitCode !== null) throw new Error(`serve exited: ${err}`);
        await once(child.stdout, 'data');
      }
      expect(out).to.match(/listening on 0\.0\.0\.0:\d+/);
      expect(err).to.match(/WARNING:  listening beyond loopback on "0\.0\.0\.0" \(--allow-remote\)/);
    } finally {
      child.kill('SIGINT');
      await once(child, 'exit');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the example data directory accepts loopback clients only', () => {
    const hba = readFileSync(path.join(ROOT, 'examples/seed/pg_hba.conf'), 'utf8');
    const addresses = hba.split('\n').filter((l) => /^host/.test(l)).map((l) => l.split(/\s+/)[3]!);
    expect(addresses).to.deep.equal(['127.0.0.1/32', '::1/128']);
  });
});

describe('private key file permissions as PostgreSQL 15 checks them (issue 8 item 6)', function () {
  this.timeout(60_000);
  let work: string;
  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'pg-authsim-keys-'));
    chmodSync(work, 0o755);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /** A data directory with the dev certificate and key under their default names, key in `mode`. */
  function withKey(dir: string, mode: number | 'directory' | 'missing', owner?: number): void {
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(CERTS, 'server.crt'), path.join(dir, 'server.crt'));
    rmSync(path.join(dir, 'server.key'), { recursive: true, force: true });
    if (mode === 'directory') mkdirSync(path.join(dir, 'server.key'));
    else if (mode !== 'missing') {
      copyFileSync(path.join(CERTS, 'server.key'), path.join(dir, 'server.key'));
      chmodSync(path.join(dir, 'server.key'), mode);
      if (owner !== undefined) chownSync(path.join(dir, 'server.key'), owner, -1);
    }
  }

  /** What pg-authsim logs: the FATAL and its DETAIL, as `FATAL:  ...` lines. */
  function simulated(mode: number | 'directory' | 'missing'): string[] {
    const dir = path.join(work, `sim-${mode}`);
    withKey(dir, mode);
    writeFileSync(path.join(dir, 'postgresql.conf'), 'ssl = on\n');
    writeFileSync(path.join(dir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\n');
    writeFileSync(path.join(dir, 'roles.sql'), '');
    try {
      loadDataDirectory(dir, new SeededRandom(1));
      return [];
    } catch (e) {
      if (!(e instanceof StartupError)) throw e;
      const f = e.fatal.fields;
      return [`FATAL:  ${f.message}`, ...(f.detail ? [`DETAIL:  ${f.detail}`] : [])];
    }
  }

  const root = process.getuid?.() === 0;
  const cases: Array<{ mode: number | 'directory' | 'missing'; ok: boolean }> = [
    { mode: 0o600, ok: true }, { mode: 0o400, ok: true }, { mode: 0o644, ok: false }, { mode: 0o640, ok: false },
    { mode: 0o604, ok: false }, { mode: 'directory', ok: false }, { mode: 'missing', ok: false },
  ];
  for (const c of cases) {
    it(`key ${typeof c.mode === 'number' ? `0${c.mode.toString(8)}` : c.mode} owned by the server's user: ${c.ok ? 'starts' : 'refuses to start'}, as the real PostgreSQL 15`, function () {
      if (!root) this.skip(); // the real server runs as the postgres OS user through runuser
      const sim = simulated(c.mode);
      expect(sim.length === 0).to.equal(c.ok);
      expect(sim).to.deep.equal(realStartup(c.mode));
    });
  }

  for (const [mode, ok] of [[0o640, true], [0o644, false], [0o660, false]] as const) {
    it(`key 0${mode.toString(8)} owned by root, group postgres, server running as postgres: ${ok ? 'starts (the root exception)' : 'refuses'}, as the real PostgreSQL 15`, function () {
      if (!root) this.skip();
      const pgUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const pgGid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      const dir = path.join(work, `root-owned-${mode.toString(8)}`);
      withKey(dir, mode, 0);
      chownSync(path.join(dir, 'server.key'), 0, pgGid);
      writeFileSync(path.join(dir, 'postgresql.conf'), 'ssl = on\n');
      writeFileSync(path.join(dir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\n');
      writeFileSync(path.join(dir, 'roles.sql'), '');
      chownSync(dir, pgUid, -1);
      // The simulator as a non-root server: the same check, run by the postgres OS user.
      const script = `import(${JSON.stringify(path.join(ROOT, 'dist/src/server/datadir.js'))}).then(async (m) => {
        const { SeededRandom } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/random.js'))});
        try { m.loadDataDirectory(${JSON.stringify(dir)}, new SeededRandom(1)); console.log('[]'); }
        catch (e) { const f = e.fatal.fields; console.log(JSON.stringify(['FATAL:  ' + f.message, ...(f.detail ? ['DETAIL:  ' + f.detail] : [])])); }
      })`;
      const sim = JSON.parse(execFileSync('runuser', ['-u', 'postgres', '--', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
      expect(sim.length === 0).to.equal(ok);
      expect(sim).to.deep.equal(realStartup(mode, { uid: 0, gid: pgGid }));
    });
  }

  it('the development key is tightened to 0600 when dev_certificates uses it (git checks it out 0644)', () => {
    const key = path.join(CERTS, 'server.key');
    chmodSync(key, 0o644);
    const dir = path.join(work, 'dev');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'postgresql.conf'), 'ssl = on\ndev_certificates = on\n');
    writeFileSync(path.join(dir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\n');
    writeFileSync(path.join(dir, 'roles.sql'), '');
    loadDataDirectory(dir, new SeededRandom(1));
    expect(execFileSync('stat', ['-c', '%a', key], { encoding: 'utf8' }).trim()).to.equal('600');
  });

  let initialized: string | null = null;
  /** Start the real postgres on a data directory whose key is in `mode`; return its FATAL/DETAIL lines. */
  function realStartup(mode: number | 'directory' | 'missing', keyOwner?: { uid: number; gid: number }): string[] {
    const pgUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    if (!initialized) {
      initialized = path.join(work, 'real');
      mkdirSync(initialized);
      chownSync(initialized, pgUid, -1);
      execFileSync('runuser', ['-u', 'postgres', '--', path.join(PGBIN, 'initdb'), '-D', path.join(initialized, 'data'), '-A', 'trust', '-U', 'boot'], { stdio: 'ignore' });
      writeFileSync(path.join(initialized, 'data/postgresql.auto.conf'), "ssl = on\nlisten_addresses = ''\n");
    }
    const data = path.join(initialized, 'data');
    withKey(data, mode, pgUid);
    if (keyOwner) chownSync(path.join(data, 'server.key'), keyOwner.uid, keyOwner.gid);
    for (const f of ['server.crt']) chownSync(path.join(data, f), pgUid, -1);
    if (mode === 'directory') chownSync(path.join(data, 'server.key'), pgUid, -1);
    const log = path.join(initialized, 'server.log');
    rmSync(log, { force: true });
    const pgctl = (...args: string[]) => spawnSync('runuser', ['-u', 'postgres', '--', path.join(PGBIN, 'pg_ctl'), '-D', data, ...args], { encoding: 'utf8', timeout: 30_000 });
    const started = pgctl('-l', log, '-w', '-o', `-k ${initialized} -c log_line_prefix=`, 'start');
    if (started.status === 0) pgctl('-m', 'immediate', '-w', 'stop');
    const r = { stderr: readFileSync(log, 'utf8') };
    return r.stderr.split('\n').filter((l) => /^(FATAL|DETAIL):/.test(l));
  }
});
