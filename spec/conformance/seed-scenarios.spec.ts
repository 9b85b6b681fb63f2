/**
 * The scenarios that started the project (shared/reference/seed-scenarios.md),
 * with the real psql 15 against `pg-authsim` on the real clock,
 * auth_delay.milliseconds = 2000, ssl = on, a wrong password. Expected values
 * come from real PostgreSQL 15 (spec/data/pg15/seed-scenarios.json). The
 * scenarios run side by side, so the whole spec costs about 4 s.
 */
import * as chai from 'chai';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestCluster, pgAuthsimChai, hookCallLabel } from '../../src/testing/index.js';
import { ROOT } from '../support/fixtures.js';
import { runPsql } from '../support/psql.js';

chai.use(pgAuthsimChai);

interface Scenario {
  hba: string; method: string; sslmode: string; conninfo: string; exitCode: number; stderr: string; elapsedMs: number;
  tcpConnections: number; hookCalls: Array<{ status: 'OK' | 'ERROR' | 'EOF'; ssl: boolean }>; serverLog: string[];
}
const oracle = JSON.parse(readFileSync(path.join(ROOT, 'spec/data/pg15/seed-scenarios.json'), 'utf8')) as { authDelayMs: number; scenarios: Scenario[] };

describe('seed scenarios with real psql and the real clock (auth_delay 2000 ms)', function () {
  this.timeout(20000);

  const results = new Map<Scenario, { stderr: string; exitCode: number; elapsedMs: number; cluster: TestCluster }>();

  before(async () => {
    await Promise.all(oracle.scenarios.map(async (s) => {
      const cluster = await TestCluster.start({
        clock: 'real',
        postgresqlConf: { ssl: true, log_connections: true, shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': oracle.authDelayMs },
        hba: `${s.hba} all all 0.0.0.0/0 ${s.method}`,
        roles: "CREATE ROLE test LOGIN PASSWORD 'secret';",
      });
      const port = await cluster.listen();
      const r = await runPsql(s.conninfo.replace('$PORT', String(port)), { password: 'wrong' });
      await cluster.idle();
      results.set(s, { stderr: r.stderr.replaceAll(`port ${port}`, 'port $PORT'), exitCode: r.exitCode, elapsedMs: r.elapsedMs, cluster });
    }));
  });
  after(() => Promise.all([...results.values()].map((r) => r.cluster.close())));

  for (const s of oracle.scenarios) {
    it(`${s.hba} line, sslmode=${s.sslmode}: ${s.hookCalls.length} hook call(s), ${s.tcpConnections} connection(s), about ${Math.round(s.elapsedMs / 1000)} s like PostgreSQL 15`, () => {
      const r = results.get(s)!;
      expect(r.stderr, "psql's error output").to.equal(s.stderr);
      expect(r.exitCode).to.equal(s.exitCode);
      expect(r.cluster.trace).to.have.connectionCount(s.tcpConnections);
      expect(r.cluster.trace).to.have.hookCalls(s.hookCalls.map(hookCallLabel));
      const fatals = r.cluster.trace.events.filter((e) => e.type === 'error' && e.toLog && e.error.severity === 'FATAL');
      const logLines = r.cluster.trace.log('').split('\n').filter((l) => l.startsWith('FATAL:') || l.startsWith('DETAIL:'));
      expect(logLines, 'FATAL/DETAIL lines of the server log').to.deep.equal(s.serverLog);
      expect(new Set(fatals.map((e) => e.pid)).size, 'each FATAL from its own backend PID').to.equal(fatals.length);
      // Wall time is the behaviour under test here (auth_delay doubling), with slack for process start-up.
      const expectedMs = s.hookCalls.filter((h) => h.status !== 'OK').length * oracle.authDelayMs;
      expect(r.elapsedMs).to.be.at.least(expectedMs - 50).and.below(expectedMs + 1500);
    });
  }

  it('the two FATALs of the prefer case are 2 s apart on the server clock', () => {
    const prefer = oracle.scenarios.find((s) => s.hba === 'host' && s.sslmode === 'prefer')!;
    const fatals = results.get(prefer)!.cluster.trace.events.filter((e) => e.type === 'error' && e.error.severity === 'FATAL');
    expect(fatals).to.have.length(2);
    expect(fatals[1]!.time - fatals[0]!.time).to.be.at.least(1990).and.below(3000);
  });
});

describe('psql -w without a password (real clock): one hook call with EOF, no FATAL, auth_delay still sleeps', function () {
  this.timeout(10000);
  it('connects, is asked for a password, hangs up; the backend lingers for the delay', async () => {
    const cluster = await TestCluster.start({
      clock: 'real',
      postgresqlConf: { ssl: true, log_connections: true, shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 500 },
      hba: 'host all all 0.0.0.0/0 scram-sha-256',
      roles: "CREATE ROLE test LOGIN PASSWORD 'secret';",
    });
    try {
      const port = await cluster.listen();
      const r = await runPsql(`host=127.0.0.1 port=${port} user=test dbname=postgres`);
      expect(r.stderr).to.equal(`psql: error: connection to server at "127.0.0.1", port ${port} failed: fe_sendauth: no password supplied\n`);
      expect(r.elapsedMs, 'psql itself does not wait').to.be.below(450);
      await cluster.idle();
      expect(cluster.trace).to.have.hookCalls(['EOF/ssl']);
      expect(cluster.trace.errorsLogged()).to.deep.equal([]);
      const invoked = cluster.trace.events.find((e) => e.type === 'hook-invoked')!;
      const closed = cluster.trace.events.find((e) => e.type === 'connection-closed')!;
      expect(closed.time - invoked.time, 'backend busy in auth_delay after the client left').to.be.at.least(495);
    } finally {
      await cluster.close();
    }
  });
});
