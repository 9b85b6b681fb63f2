/**
 * The seed scenarios again, on virtual time: the psql model drives the
 * simulator in-process, auth_delay is 2000 ms, and the whole set costs well
 * under a second of wall time while every timestamp reads as if the delays
 * happened. Expectations are real PostgreSQL 15's (spec/data/pg15/seed-scenarios.json).
 */
import * as chai from 'chai';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestCluster, pgAuthsimChai, hookCallLabel } from '../../src/testing/index.js';
import { ROOT } from '../support/fixtures.js';

chai.use(pgAuthsimChai);

interface Scenario { hba: string; method: string; sslmode: string; stderr: string; exitCode: number; tcpConnections: number; hookCalls: Array<{ status: 'OK' | 'ERROR' | 'EOF'; ssl: boolean }>; serverLog: string[] }
const oracle = JSON.parse(readFileSync(path.join(ROOT, 'spec/data/pg15/seed-scenarios.json'), 'utf8')) as { authDelayMs: number; scenarios: Scenario[]; extra: Array<Scenario & { tty: string; typed: string }> };

describe('seed scenarios on virtual time (psql model, in-process)', () => {
  const clusters: TestCluster[] = [];
  after(() => Promise.all(clusters.map((c) => c.close())));
  const start = async (hba: string) => {
    const c = await TestCluster.start({
      postgresqlConf: { ssl: true, log_connections: true, shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': oracle.authDelayMs },
      hba, roles: "CREATE ROLE test LOGIN PASSWORD 'secret';",
    });
    clusters.push(c);
    return c;
  };

  it('all five scenarios: hook calls, connections, FATAL lines and virtual elapsed time as PostgreSQL 15; well under a second of wall time', async () => {
    const wall = performance.now();
    for (const s of oracle.scenarios) {
      const cluster = await start(`${s.hba} all all 0.0.0.0/0 ${s.method}`);
      const t0 = cluster.clock.now();
      const r = await cluster.psql(`user=test dbname=postgres sslmode=${s.sslmode}`, { password: 'wrong' });
      const clientElapsed = cluster.clock.now() - t0;
      await cluster.idle();
      expect(r.stderr.replaceAll('port 5432', 'port $PORT'), `${s.hba}/${s.sslmode} stderr`).to.equal(s.stderr);
      expect(r.exitCode).to.equal(s.exitCode);
      expect(cluster.trace).to.have.connectionCount(s.tcpConnections);
      expect(cluster.trace).to.have.hookCalls(s.hookCalls.map(hookCallLabel));
      const fatalLines = cluster.trace.log('').split('\n').filter((l) => l.startsWith('FATAL:') || l.startsWith('DETAIL:'));
      expect(fatalLines).to.deep.equal(s.serverLog);
      const expected = s.hookCalls.filter((h) => h.status !== 'OK').length * oracle.authDelayMs;
      expect(clientElapsed, `${s.hba}/${s.sslmode}: virtual ms the client waited`).to.be.at.least(expected).and.below(expected + 100);
    }
    expect(performance.now() - wall, 'wall-clock ms for all five').to.be.below(1000);
  });

  it('interactive psql, wrong password typed at the prompt: three hook calls (EOF, ERROR over TLS, ERROR in plaintext)', async () => {
    const x = oracle.extra[0]!;
    const cluster = await start(`${x.hba} all all 0.0.0.0/0 ${x.method}`);
    let prompts = 0;
    const r = await cluster.psql(`user=test dbname=postgres sslmode=${x.sslmode}`, { prompt: async () => { prompts++; return x.typed; } });
    await cluster.idle();
    expect(prompts).to.equal(1);
    expect(r.exitCode).to.equal(x.exitCode);
    expect(cluster.trace).to.have.connectionCount(x.tcpConnections);
    expect(cluster.trace).to.have.hookCalls(x.hookCalls.map(hookCallLabel));
  });
});
