/**
 * connect_timeout in the libpq 15 model, on pg-authsim's virtual clock with auth_delay
 * holding failed logins: the timer covers one address (every encryption retry on it),
 * restarts for the next host, rounds 1 s up to 2 s, and a login that is still sleeping in
 * the server when the client gives up still counts as a hook call there.
 */
import { expect } from 'chai';
import * as path from 'node:path';
import { TestCluster } from '../../src/testing/cluster.js';
import { hookCallLabel } from '../../src/testing/trace.js';
import { SeededRandom } from '../../src/random.js';
import { inProcessTransport } from '../../src/clients/libpq/transport.js';
import { connectLibpq } from '../../src/clients/libpq/connect.js';
import { CERTS } from '../support/fixtures.js';

const ROLES = `CREATE ROLE test LOGIN PASSWORD 'secret';`;

describe('libpq 15 model: connect_timeout on the virtual clock (auth_delay 3 s)', () => {
  let cluster: TestCluster;
  beforeEach(async () => {
    cluster = await TestCluster.start({
      postgresqlConf: {
        shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 3000, log_connections: true,
        ssl: true, ssl_cert_file: path.join(CERTS, 'server.crt'), ssl_key_file: path.join(CERTS, 'server.key'),
      },
      hba: 'host all all 0.0.0.0/0 scram-sha-256',
      roles: ROLES,
    });
  });
  afterEach(() => cluster.close());

  const connect = (conninfo: string) => connectLibpq(`user=test dbname=postgres ${conninfo}`, {
    transport: inProcessTransport(cluster.server), clock: cluster.clock, random: new SeededRandom(1), version: 15,
    environ: {}, osUser: 'test', homeDir: null,
  });

  const cases: Array<{ name: string; conninfo: string; message: string; hooks: string[]; tcp: number; giveUpAfterMs: [number, number] }> = [
    {
      name: 'timeout shorter than the delay: the prefer fallback never happens',
      conninfo: 'host=127.0.0.1 sslmode=prefer password=wrong connect_timeout=2',
      message: 'connection to server at "127.0.0.1", port 5432 failed: timeout expired\n',
      hooks: ['ERROR/ssl'], tcp: 1, giveUpAfterMs: [2000, 2050],
    },
    {
      name: 'connect_timeout=1 waits 2 s, as libpq ≤16 rounds it up',
      conninfo: 'host=127.0.0.1 sslmode=prefer password=wrong connect_timeout=1',
      message: 'connection to server at "127.0.0.1", port 5432 failed: timeout expired\n',
      hooks: ['ERROR/ssl'], tcp: 1, giveUpAfterMs: [2000, 2050],
    },
    {
      name: 'each host gets its own timer and its own SSL try',
      conninfo: 'host=127.0.0.1,127.0.0.2 sslmode=prefer password=wrong connect_timeout=2',
      message: 'connection to server at "127.0.0.1", port 5432 failed: timeout expired\n'
        + 'connection to server at "127.0.0.2", port 5432 failed: timeout expired\n',
      hooks: ['ERROR/ssl', 'ERROR/ssl'], tcp: 2, giveUpAfterMs: [4000, 4100],
    },
    {
      name: 'a timeout longer than both tries together: both fail on their own',
      conninfo: 'host=127.0.0.1 sslmode=prefer password=wrong connect_timeout=10',
      message: 'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "test"\n'
        + 'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "test"\n',
      hooks: ['ERROR/ssl', 'ERROR/plain'], tcp: 2, giveUpAfterMs: [6000, 6100],
    },
    {
      name: 'but one timer covers both tries on the same address',
      conninfo: 'host=127.0.0.1 sslmode=prefer password=wrong connect_timeout=5',
      message: 'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "test"\n'
        + 'connection to server at "127.0.0.1", port 5432 failed: timeout expired\n',
      hooks: ['ERROR/ssl', 'ERROR/plain'], tcp: 2, giveUpAfterMs: [5000, 5050],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const t0 = cluster.clock.now();
      const r = await connectLibpq(`user=test dbname=postgres ${c.conninfo}`, {
        transport: inProcessTransport(cluster.server), clock: cluster.clock, random: new SeededRandom(1), version: 15,
        environ: {}, osUser: 'test', homeDir: null,
      });
      const gaveUp = cluster.clock.now() - t0;
      await cluster.idle();
      expect(r.ok).to.equal(false);
      if (r.ok) return;
      expect(r.errorMessage).to.equal(c.message);
      expect(gaveUp, 'virtual ms until libpq gave up').to.be.at.least(c.giveUpAfterMs[0]).and.below(c.giveUpAfterMs[1]);
      expect(cluster.trace.hookCalls().map(hookCallLabel), 'hook calls').to.deep.equal(c.hooks);
      expect(cluster.trace.connectionCount(), 'TCP connections').to.equal(c.tcp);
      expect(r.attempts.map((a) => a.outcome.kind)).to.include(c.message.includes('timeout') ? 'timeout' : 'server-error');
    });
  }

  it('the right password is not delayed, so the timer never fires', async () => {
    const r = await connect('host=127.0.0.1 sslmode=prefer password=secret connect_timeout=2');
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.connection.info.sslInUse).to.equal(true);
    const res = await r.connection.query('select 1');
    expect(res.rows).to.deep.equal([['1']]);
    await r.connection.close();
    await cluster.idle();
    expect(cluster.trace.hookCalls().map(hookCallLabel)).to.deep.equal(['OK/ssl']);
  });
});
