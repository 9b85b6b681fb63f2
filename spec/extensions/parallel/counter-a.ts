/**
 * Run by lifecycle.spec.ts with mocha --parallel next to its twin: the same extension module,
 * its own cluster, its own counts. (3ot named *.spec.ts: only that run picks it up.)
 */
import { expect } from 'chai';
import { TestCluster } from '../../../src/testing/index.js';
import type { SqlCallContext } from '../../../src/sql/registry.js';
import { loginCounter } from '../../../examples/extensions/login_counter.js';
import { WireClient } from '../../support/wire-client.js';
import { login } from '../../support/raw-login.js';

const AS_POSTGRES: SqlCallContext = { user: 'postgres', userOid: 10, superuser: true, database: 'postgres', pid: 1, notice: () => {} };

describe('parallel counter a', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({
      hba: 'host all all 127.0.0.1/32 scram-sha-256',
      roles: "CREATE ROLE auser LOGIN PASSWORD 'pw-a-1234';",
      extensions: [loginCounter],
    });
  });
  after(() => cluster.close());

  it('counts 3 failed logins of its own', async () => {
    for (let i = 0; i < 3; i++) {
      const c = WireClient.memory(cluster.server);
      await login(c, 'auser', 'wrong');
      c.end();
      await cluster.idle();
    }
    const rows = [...await cluster.server.sql.lookupView('login_counter')!.rows(AS_POSTGRES)];
    expect(rows).to.deep.equal([[16384, 'auser', 0, 3, 0]]);
  });

  it('resets to nothing', async () => {
    await cluster.server.sql.lookupFunctions('login_counter_reset')[0]!.call([], AS_POSTGRES);
    expect([...await cluster.server.sql.lookupView('login_counter')!.rows(AS_POSTGRES)]).to.deep.equal([]);
  });
});
