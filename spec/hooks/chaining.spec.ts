import * as chai from 'chai';
import { expect } from 'chai';
import { TestCluster } from '../../src/testing/cluster.js';
import { pgAuthsimChai } from '../../src/testing/chai.js';
import type { ExtensionModule } from '../../src/extensions/extension.js';
import { WireClient } from '../support/wire-client.js';
import { login } from '../support/raw-login.js';

chai.use(pgAuthsimChai);

const ROLES = `CREATE ROLE test LOGIN PASSWORD 'secret';`;

/** An extension written the C way: save the previous hook, install ours, call the previous one first. */
function recorder(name: string, calls: string[]): ExtensionModule {
  return {
    name,
    _PG_init(ctx) {
      const previous = ctx.hooks.ClientAuthentication_hook;
      ctx.hooks.ClientAuthentication_hook = async (port, status) => {
        calls.push(`${name} enter ${status}`);
        if (previous) await previous(port, status);
        calls.push(`${name} leave`);
      };
    },
  };
}

describe('hook chaining, as in C', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  it('the last extension loaded runs first and calls back down the chain', async () => {
    const calls: string[] = [];
    cluster = await TestCluster.start({
      hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES,
      extensions: [recorder('first', calls), recorder('second', calls), recorder('third', calls)],
    });
    await login(WireClient.memory(cluster.server), 'test', 'wrong');
    await cluster.idle();
    expect(calls).to.deep.equal(['third enter -1', 'second enter -1', 'first enter -1', 'first leave', 'second leave', 'third leave']);
    expect(cluster.trace.events.filter((e) => e.type === 'hook-invoked').map((e) => e.type === 'hook-invoked' && e.hook)).to.deep.equal(['third', 'second', 'first']);
    expect(cluster.trace).to.have.hookCalls(['ERROR/plain']);
    expect(cluster.trace).to.have.hookCalls(['ERROR/plain'], 'first');
  });

  it('auth_delay from shared_preload_libraries comes first, so a hook loaded after it runs before it', async () => {
    const calls: string[] = [];
    cluster = await TestCluster.start({
      postgresqlConf: { shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 1000 },
      hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES,
      extensions: [recorder('probe', calls)],
    });
    await login(WireClient.memory(cluster.server), 'test', 'wrong');
    await cluster.idle();
    const names = cluster.trace.events.flatMap((e) => (e.type === 'hook-invoked' ? [e.hook] : []));
    expect(names).to.deep.equal(['probe', 'auth_delay']);
    // probe returns only after auth_delay (below it) has slept.
    const probeIn = cluster.trace.events.find((e) => e.type === 'hook-invoked')!.time;
    const probeOut = cluster.trace.events.filter((e) => e.type === 'hook-returned').at(-1)!.time;
    expect(probeOut - probeIn).to.equal(1000);
  });

  it('a user extension loads from a module path in shared_preload_libraries', async () => {
    cluster = await TestCluster.start({
      postgresqlConf: { shared_preload_libraries: 'auth_delay, ./my_hook.mjs' },
      hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES,
      files: {
        'my_hook.mjs': `
          export function _PG_init(ctx) {
            const previous = ctx.hooks.ClientAuthentication_hook;
            ctx.hooks.ClientAuthentication_hook = async (port, status) => {
              ctx.elog('LOG', 'my_hook: ' + port.user_name + ' status=' + status + ' ssl=' + port.ssl_in_use);
              if (previous) await previous(port, status);
            };
          }`,
      },
    });
    await login(WireClient.memory(cluster.server), 'test', 'wrong');
    await cluster.idle();
    expect(cluster.trace.log('')).to.contain('LOG:  my_hook: test status=-1 ssl=false\n');
    expect(cluster.trace.events.flatMap((e) => (e.type === 'hook-invoked' ? [e.hook] : []))).to.deep.equal(['./my_hook.mjs', 'auth_delay']);
  });

  it('a library that cannot be found stops the server from starting, naming the file', async () => {
    let err: unknown;
    try {
      cluster = await TestCluster.start({ postgresqlConf: { shared_preload_libraries: 'no_such_lib' }, hba: 'host all all 127.0.0.1/32 trust' });
    } catch (e) { err = e; }
    expect((err as { fatal?: { message: string } }).fatal?.message).to.equal('could not access file "no_such_lib": No such file or directory');
  });
});

describe('hooks that throw or stall', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  const thrower = (thrown: () => unknown): ExtensionModule => ({
    name: 'thrower',
    _PG_init(ctx) { ctx.hooks.ClientAuthentication_hook = () => { throw thrown(); }; },
  });

  it('an Error thrown by a hook ends that connection with FATAL XX000; the next connection is served', async () => {
    let n = 0;
    cluster = await TestCluster.start({
      hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES,
      extensions: [{ name: 'flaky', _PG_init(ctx) { ctx.hooks.ClientAuthentication_hook = () => { if (n++ === 0) throw new Error('boom'); }; } }],
    });
    const first = await login(WireClient.memory(cluster.server), 'test', 'secret');
    expect(first.at(-1)).to.include({ name: 'error', severity: 'FATAL', code: 'XX000', message: 'boom' });
    const second = WireClient.memory(cluster.server);
    const ok = await login(second, 'test', 'secret');
    expect(ok.at(-1)?.name).to.equal('readyForQuery');
    second.end();
    await cluster.idle();
  });

  it('ereport(ERROR) from a hook is promoted to FATAL with its own SQLSTATE and detail', async () => {
    cluster = await TestCluster.start({
      hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES,
      extensions: [{ name: 'locker', _PG_init(ctx) {
        ctx.hooks.ClientAuthentication_hook = () => { throw ctx.error({ sqlstate: '28000', message: 'role "test" is locked', detail: 'Too many failures.' }); };
      } }],
    });
    const msgs = await login(WireClient.memory(cluster.server), 'test', 'secret');
    expect(msgs.at(-1)).to.include({ name: 'error', severity: 'FATAL', code: '28000', message: 'role "test" is locked', detail: 'Too many failures.' });
    await cluster.idle();
  });

  it('a hook that outlives authentication_timeout on success meets the timeout: 57014 logged, not sent', async () => {
    cluster = await TestCluster.start({
      postgresqlConf: { authentication_timeout: '1s' },
      hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES,
      extensions: [{ name: 'slow', _PG_init(ctx) { ctx.hooks.ClientAuthentication_hook = async () => { await ctx.pg_usleep(5000); }; } }],
    });
    const msgs = await login(WireClient.memory(cluster.server), 'test', 'secret');
    await cluster.idle();
    expect(msgs.some((m) => m.name === 'error' || m.name === 'readyForQuery')).to.equal(false);
    expect(cluster.trace.errorsSent()).to.deep.equal([]);
    expect(cluster.trace.errorsLogged().map((e) => [e.sqlstate, e.message])).to.deep.equal([['57014', 'canceling authentication due to timeout']]);
  });

  it('thrown non-errors are reported too', async () => {
    cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 trust', roles: ROLES, extensions: [thrower(() => 'plain string')] });
    const msgs = await login(WireClient.memory(cluster.server), 'test', null);
    expect(msgs.at(-1)).to.include({ name: 'error', code: 'XX000', message: 'plain string' });
    await cluster.idle();
  });
});
