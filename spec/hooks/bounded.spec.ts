/**
 * A ClientAuthentication_hook cannot hold a connection or its
 * max_connections slot past authentication_timeout, nor keep the server from
 * stopping. In PostgreSQL the timeout (and shutdown) interrupts a waiting
 * hook: `canceling authentication due to timeout` (57014) is logged, not
 * sent, and the backend exits. Here a hook's promise that never settles is
 * abandoned at that moment; one that sleeps with pg_usleep returns early and
 * the connection ends the way the hook's status says.
 */
import { expect } from 'chai';
import { TestCluster } from '../../src/testing/cluster.js';
import type { ExtensionModule } from '../../src/extensions/extension.js';
import { WireClient } from '../support/wire-client.js';
import { login, startupMessage } from '../support/raw-login.js';

const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';";
const HBA = 'host all all 127.0.0.1/32 password';

/** A hook whose promise never settles (it awaits something that never happens). */
const hangs: ExtensionModule = {
  name: 'hangs',
  _PG_init(ctx) {
    ctx.hooks.ClientAuthentication_hook = () => new Promise<void>(() => {});
  },
};

/** A hook that sleeps far longer than authentication_timeout, the interruptible way. */
const sleepsLong: ExtensionModule = {
  name: 'sleeps_long',
  _PG_init(ctx) {
    ctx.hooks.ClientAuthentication_hook = async () => { await ctx.pg_usleep(3_600_000); };
  },
};

const procs = (cluster: TestCluster) => cluster.server.procCount();
const fatalMessages = (cluster: TestCluster) => cluster.trace.errorsLogged().filter((e) => e.severity === 'FATAL').map((e) => `${e.sqlstate} ${e.message}`);

describe('hooks are bounded by authentication_timeout and by shutdown', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  it('a hook that never returns: 57014 at authentication_timeout, logged not sent, slot freed', async () => {
    cluster = await TestCluster.start({ postgresqlConf: { authentication_timeout: '5s' }, hba: HBA, roles: ROLES, extensions: [hangs] });
    const t0 = cluster.clock.now();
    const c = WireClient.memory(cluster.server);
    const seen = await login(c, 'test', 'secret');
    await cluster.idle();
    expect(seen.map((m) => m.name)).to.deep.equal(['authenticationCleartextPassword']);
    expect(cluster.clock.now() - t0).to.be.at.least(5000);
    expect(fatalMessages(cluster)).to.deep.equal(['57014 canceling authentication due to timeout']);
    expect(cluster.trace.errorsSent()).to.deep.equal([]);
    expect(cluster.trace.events.filter((e) => e.type === 'hook-returned')).to.have.length(0);
    expect(procs(cluster)).to.equal(0);
    expect(cluster.server.backends()).to.have.length(0);
  });

  it('hung hooks on every slot: others get 53300 meanwhile; once the timeout frees the slots, a login works', async () => {
    let hang = true;
    const sometimes: ExtensionModule = {
      name: 'sometimes',
      _PG_init(ctx) {
        ctx.hooks.ClientAuthentication_hook = () => (hang ? new Promise<void>(() => {}) : undefined);
      },
    };
    cluster = await TestCluster.start({
      postgresqlConf: { authentication_timeout: '60s', max_connections: 5, superuser_reserved_connections: 0 },
      hba: HBA, roles: ROLES, extensions: [sometimes],
    });
    const hung = Array.from({ length: 5 }, () => WireClient.memory(cluster.server));
    // Each waits in the hook; then the clients give up and disconnect.
    await Promise.all(hung.map(async (c) => {
      c.send(startupMessage('test'));
      await c.next();
      c.send(Buffer.from([0x70, 0, 0, 0, 11, ...Buffer.from('secret\0')]));
    }));
    for (let i = 0; i < 50 && procs(cluster) < 5; i++) await new Promise((r) => setImmediate(r));
    expect(procs(cluster)).to.equal(5);
    const refused = await login(WireClient.memory(cluster.server), 'test', 'secret');
    expect(refused.at(-1)).to.include({ name: 'error', code: '53300' });
    for (const c of hung) c.destroy();
    await cluster.idle();
    expect(procs(cluster)).to.equal(0);
    expect(fatalMessages(cluster).filter((m) => m.startsWith('57014'))).to.have.length(5);
    hang = false;
    const ok = await login(WireClient.memory(cluster.server), 'test', 'secret');
    expect(ok.at(-1)?.name).to.equal('readyForQuery');
  });

  it('a hook asleep in pg_usleep wakes at the timeout and returns: the status it had decides (wrong password: 28P01 sent)', async () => {
    cluster = await TestCluster.start({ postgresqlConf: { authentication_timeout: '5s' }, hba: HBA, roles: ROLES, extensions: [sleepsLong] });
    const t0 = cluster.clock.now();
    const seen = await login(WireClient.memory(cluster.server), 'test', 'wrong');
    await cluster.idle();
    expect(cluster.clock.now() - t0).to.be.within(5000, 5100);
    expect(seen.at(-1)).to.include({ name: 'error', code: '28P01' });
    expect(cluster.trace.events.filter((e) => e.type === 'hook-returned')).to.have.length(1);
  });

  it('a hook asleep in pg_usleep on the success path: 57014 once it returns (the timeout is checked after the hook)', async () => {
    cluster = await TestCluster.start({ postgresqlConf: { authentication_timeout: '5s' }, hba: HBA, roles: ROLES, extensions: [sleepsLong] });
    const seen = await login(WireClient.memory(cluster.server), 'test', 'secret');
    await cluster.idle();
    expect(seen.map((m) => m.name)).to.deep.equal(['authenticationCleartextPassword']);
    expect(fatalMessages(cluster)).to.deep.equal(['57014 canceling authentication due to timeout']);
  });

  it('close() does not wait for a hung hook: the backend ends (57014, as 15 reports any SIGTERM during authentication) and the server stops', async () => {
    cluster = await TestCluster.start({ postgresqlConf: { authentication_timeout: '600s' }, hba: HBA, roles: ROLES, extensions: [hangs] });
    const c = WireClient.memory(cluster.server);
    void login(c, 'test', 'secret');
    for (let i = 0; i < 50 && cluster.trace.events.every((e) => e.type !== 'hook-invoked'); i++) await new Promise((r) => setImmediate(r));
    const t0 = cluster.clock.now();
    await cluster.server.close();
    expect(cluster.clock.now() - t0).to.be.below(1000);
    expect(fatalMessages(cluster)).to.deep.equal(['57014 canceling authentication due to timeout']);
    expect(cluster.trace.log().trimEnd().split('\n').slice(-2).map((l) => l.replace(/^.*LOG: {2}/, ''))).to.deep.equal(['shutting down', 'database system is shut down']);
    expect(cluster.server.backends()).to.have.length(0);
  });
});
