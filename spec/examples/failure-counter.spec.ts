// The README's example test, kept here so it always runs.
import * as chai from 'chai';
import { expect } from 'chai';
import { TestCluster, pgAuthsimChai } from 'pg-authsim/testing';
import { failureCounter, failures } from '../../examples/extensions/failure_counter.js';

chai.use(pgAuthsimChai);

describe('failure_counter', () => {
  let cluster: TestCluster;
  beforeEach(async () => {
    failures.clear();
    cluster = await TestCluster.start({
      postgresqlConf: { ssl: true, shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 2000 },
      hba: 'host all all 0.0.0.0/0 scram-sha-256',
      roles: "CREATE ROLE test LOGIN PASSWORD 'secret';",
      extensions: [failureCounter], // loaded after auth_delay, so it runs first
    });
  });
  afterEach(() => cluster.close());

  it('sees one wrong password twice under sslmode=prefer (TLS, then plaintext)', async () => {
    const psql = await cluster.psql('user=test dbname=postgres', { password: 'wrong' });
    await cluster.idle();
    expect(psql.exitCode).to.equal(2);
    expect(cluster.trace).to.have.hookCalls(['ERROR/ssl', 'ERROR/plain']);
    expect(failures.get('test')).to.equal(2);
  });

  it('sees it once with sslmode=require, and auth_delay sleeps 2 s of virtual time', async () => {
    const t0 = cluster.clock.now();
    await cluster.psql('user=test dbname=postgres sslmode=require', { password: 'wrong' });
    await cluster.idle();
    expect(cluster.trace).to.have.hookCalls(['ERROR/ssl'], 'auth_delay');
    expect(cluster.clock.now() - t0).to.be.at.least(2000);
    expect(failures.get('test')).to.equal(1);
  });

  it('also counts psql -w hanging up at the password prompt (status EOF): decide whether yours should', async () => {
    await cluster.psql('user=test dbname=postgres');
    await cluster.idle();
    expect(cluster.trace).to.have.hookCalls(['EOF/ssl']);
    expect(failures.get('test')).to.equal(1);
  });
});
