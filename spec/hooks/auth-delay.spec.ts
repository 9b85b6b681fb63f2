import * as chai from 'chai';
import { expect } from 'chai';
import { TestCluster } from '../../src/testing/cluster.js';
import { pgAuthsimChai } from '../../src/testing/chai.js';
import { WireClient } from '../support/wire-client.js';
import { login } from '../support/raw-login.js';

chai.use(pgAuthsimChai);

const ROLES = `CREATE ROLE test LOGIN PASSWORD 'secret';`;
const conf = (ms: number | string, extra: Record<string, string | number | boolean> = {}) => ({
  shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': ms, log_connections: true, ...extra,
});

describe('auth_delay under the virtual clock', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  const cases: Array<{ name: string; password: string | null; hook: string; delay: number; fatal: boolean }> = [
    { name: 'wrong password: ERROR, sleeps', password: 'wrong', hook: 'ERROR/plain', delay: 2000, fatal: true },
    { name: 'client hangs up at the password request: EOF, still sleeps', password: null, hook: 'EOF/plain', delay: 2000, fatal: false },
    { name: 'right password: OK, no sleep', password: 'secret', hook: 'OK/plain', delay: 0, fatal: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      cluster = await TestCluster.start({ postgresqlConf: conf(2000), hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES });
      const wall = performance.now();
      const t0 = cluster.clock.now();
      const client = WireClient.memory(cluster.server);
      const msgs = await login(client, 'test', c.password);
      client.end();
      await cluster.idle();
      expect(performance.now() - wall, 'wall-clock ms').to.be.below(500);
      expect(cluster.trace).to.have.hookCalls([c.hook]);
      expect(cluster.trace).to.have.hookCalls([c.hook], 'auth_delay');
      const closed = cluster.trace.events.find((e) => e.type === 'connection-closed')!;
      const invoked = cluster.trace.events.find((e) => e.type === 'hook-invoked')!;
      expect(closed.time - invoked.time, 'virtual ms spent in the hook and after').to.be.at.least(c.delay).and.below(c.delay + 50);
      expect(cluster.clock.now() - t0).to.be.at.least(c.delay);
      const fatals = cluster.trace.errorsLogged().filter((e) => e.severity === 'FATAL');
      expect(fatals.map((e) => e.message)).to.deep.equal(c.fatal ? ['password authentication failed for user "test"'] : []);
      if (c.fatal) expect(msgs.at(-1)).to.include({ name: 'error', code: '28P01' });
    });
  }

  it('a reject line and an implicit reject never reach the hook, so no delay', async () => {
    cluster = await TestCluster.start({
      postgresqlConf: conf(2000),
      hba: 'host all bad 127.0.0.1/32 reject\nhost all test 127.0.0.1/32 scram-sha-256',
      roles: `${ROLES}\nCREATE ROLE bad LOGIN;`,
    });
    const t0 = cluster.clock.now();
    await login(WireClient.memory(cluster.server), 'bad', 'x');
    await login(WireClient.memory(cluster.server), 'nobody', 'x');
    await cluster.idle();
    expect(cluster.trace).to.have.hookCalls([]);
    expect(cluster.clock.now() - t0).to.be.below(100);
    expect(cluster.trace.errorsSent().map((e) => e.message)).to.deep.equal([
      'pg_hba.conf rejects connection for host "127.0.0.1", user "bad", database "postgres", no encryption',
      'no pg_hba.conf entry for host "127.0.0.1", user "nobody", database "postgres", no encryption',
    ]);
  });

  it('authentication_timeout cuts the sleep short, and the password error is still what is sent', async () => {
    cluster = await TestCluster.start({ postgresqlConf: conf(3000, { authentication_timeout: '1s' }), hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES });
    const msgs = await login(WireClient.memory(cluster.server), 'test', 'wrong');
    await cluster.idle();
    const sent = cluster.trace.errorsSent();
    expect(sent.map((e) => e.sqlstate)).to.deep.equal(['28P01']);
    expect(msgs.at(-1)).to.include({ name: 'error', code: '28P01' });
    const start = cluster.trace.events.find((e) => e.type === 'hba-matched')!.time;
    const fatal = cluster.trace.events.find((e) => e.type === 'error')!.time;
    expect(fatal - start).to.be.at.least(1000).and.below(1100);
  });
});

describe('auth_delay.milliseconds as a GUC', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  const table: Array<{ value: string | number; shows: string; warning?: string }> = [
    { value: 2000, shows: '2s' },
    { value: '500ms', shows: '500ms' },
    { value: '2s', shows: '2s' },
    { value: 'abc', shows: '0', warning: 'invalid value for parameter "auth_delay.milliseconds": "abc"' },
    { value: 99999999, shows: '0', warning: '99999999 ms is outside the valid range for parameter "auth_delay.milliseconds" (0 .. 2147483)' },
  ];
  for (const t of table) {
    it(`auth_delay.milliseconds = ${JSON.stringify(t.value)} → SHOW ${t.shows}${t.warning ? ' with a WARNING' : ''}`, async () => {
      cluster = await TestCluster.start({ postgresqlConf: conf(t.value), hba: 'host all all 127.0.0.1/32 trust' });
      expect(cluster.server.gucs.show('auth_delay.milliseconds')).to.equal(t.shows);
      const warnings = cluster.startupMessages.filter((m) => m.severity === 'WARNING').map((m) => m.message);
      expect(warnings).to.deep.equal(t.warning ? [t.warning] : []);
    });
  }

  it('reserves its prefix: a stray auth_delay.x is removed with a WARNING', async () => {
    cluster = await TestCluster.start({ postgresqlConf: { ...conf(10), 'auth_delay.bogus': 1 }, hba: 'host all all 127.0.0.1/32 trust' });
    const w = cluster.startupMessages.find((m) => m.severity === 'WARNING');
    expect(w?.message).to.equal('invalid configuration parameter name "auth_delay.bogus", removing it');
    expect(w && 'detail' in w ? w.detail : undefined).to.equal('"auth_delay" is now a reserved prefix.');
  });
});
