import * as chai from 'chai';
import { expect } from 'chai';
import { TestCluster, pgAuthsimChai } from 'pg-authsim/testing';
import { lockout } from '../../examples/extensions/lockout.js';
import { WireClient } from '../support/wire-client.js';
import { login } from '../support/raw-login.js';

chai.use(pgAuthsimChai);

const ROLES = `CREATE ROLE alice LOGIN PASSWORD 'right';`;

describe('example extension: lockout', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  const start = (conf: Record<string, string | number | boolean> = {}) => TestCluster.start({
    postgresqlConf: { ssl: true, 'lockout.max_failures': 3, 'lockout.window': '1min', 'lockout.lock_time': '10min', ...conf },
    hba: 'host all all 127.0.0.1/32 scram-sha-256',
    roles: ROLES,
    extensions: [lockout],
  });
  const attempt = async (password: string | null, ssl = false) => {
    const c = WireClient.memory(cluster.server);
    const msgs = await login(c, 'alice', password, 'postgres', { ssl });
    c.end();
    await cluster.idle();
    return msgs.at(-1);
  };

  it('locks the role after max_failures wrong passwords; then even the right password is refused', async () => {
    cluster = await start();
    for (let i = 0; i < 3; i++) expect(await attempt('wrong')).to.include({ code: '28P01' });
    const locked = await attempt('right');
    expect(locked).to.include({ name: 'error', severity: 'FATAL', code: '28000', message: 'role "alice" is locked after too many failed logins' });
    expect(cluster.trace.log('')).to.contain('LOG:  lockout: role "alice" locked for 10min');
  });

  it('the lock expires after lock_time (virtual time)', async () => {
    cluster = await start();
    for (let i = 0; i < 3; i++) await attempt('wrong');
    await cluster.clock.sleep(10 * 60 * 1000 + 1);
    expect(await attempt('right')).to.include({ name: 'readyForQuery' });
  });

  it('failures older than the window do not count', async () => {
    cluster = await start();
    await attempt('wrong');
    await attempt('wrong');
    await cluster.clock.sleep(61_000);
    await attempt('wrong');
    expect(await attempt('right')).to.include({ name: 'readyForQuery' });
  });

  it('a success resets the count', async () => {
    cluster = await start();
    await attempt('wrong');
    await attempt('wrong');
    await attempt('right');
    await attempt('wrong');
    await attempt('wrong');
    expect(await attempt('right')).to.include({ name: 'readyForQuery' });
  });

  it('EOF (psql -w asking for no password) is not counted by default', async () => {
    cluster = await start();
    for (let i = 0; i < 5; i++) await attempt(null);
    expect(cluster.trace).to.have.hookCalls(['EOF/plain', 'EOF/plain', 'EOF/plain', 'EOF/plain', 'EOF/plain']);
    expect(await attempt('right')).to.include({ name: 'readyForQuery' });
  });

  it('EOF counts with lockout.count_eof = on', async () => {
    cluster = await start({ 'lockout.count_eof': true });
    for (let i = 0; i < 3; i++) await attempt(null);
    expect(await attempt('right')).to.include({ code: '28000' });
  });

  it("libpq's prefer retry (TLS failure, then plaintext at once) counts as one failed login", async () => {
    cluster = await start();
    for (let i = 0; i < 2; i++) {
      await attempt('wrong', true);
      await attempt('wrong', false);
    }
    expect(cluster.trace).to.have.hookCalls(['ERROR/ssl', 'ERROR/plain', 'ERROR/ssl', 'ERROR/plain']);
    // Two logins, four hook calls: still under max_failures = 3.
    expect(await attempt('right')).to.include({ name: 'readyForQuery' });
  });

  it('two failures with the same encryption are two logins, even back to back', async () => {
    cluster = await start();
    for (let i = 0; i < 3; i++) await attempt('wrong', false);
    expect(await attempt('right')).to.include({ code: '28000' });
  });
});
