/**
 * Shared memory and lifecycle: shmem_request_hook / shmem_startup_hook give each server its own
 * state (two TestClusters with the same module in one process, and specs under mocha
 * --parallel), exit callbacks run at backend exit and at server shutdown and can log, and
 * process_shared_preload_libraries_in_progress says whether _PG_init runs at server start.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { TestCluster } from '../../src/testing/index.js';
import { PgServer } from '../../src/server/server.js';
import { RoleCatalog } from '../../src/roles/index.js';
import type { ExtensionModule } from '../../src/extensions/extension.js';
import { loginCounter } from '../../examples/extensions/login_counter.js';
import { WireClient } from '../support/wire-client.js';
import { login } from '../support/raw-login.js';
import { ROOT } from '../support/fixtures.js';

const run = promisify(execFile);

const HBA = 'host all all 127.0.0.1/32 scram-sha-256';
const ROLES = "CREATE ROLE alice LOGIN PASSWORD 'a-secret-1'; CREATE ROLE bob LOGIN PASSWORD 'b-secret-1';";

async function attempt(cluster: TestCluster, user: string, password: string | null): Promise<void> {
  const c = WireClient.memory(cluster.server);
  await login(c, user, password);
  c.end();
  await cluster.idle();
}

async function counts(cluster: TestCluster): Promise<unknown[]> {
  const view = cluster.server.sql.lookupView('login_counter')!;
  return [...await view.rows({ user: 'postgres', userOid: 10, superuser: true, database: 'postgres', pid: 1, notice: () => {} })];
}

describe('shared memory and lifecycle', () => {
  const clusters: TestCluster[] = [];
  const start = async (extensions: ExtensionModule[] = [loginCounter], extra: Partial<Parameters<typeof TestCluster.start>[0]> = {}) => {
    const c = await TestCluster.start({ hba: HBA, roles: ROLES, extensions, ...extra });
    clusters.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of clusters.splice(0)) await c.close();
  });

  it('two clusters with the same module in one process keep separate shared memory, even interleaved', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    await Promise.all([
      attempt(a!, 'alice', 'a-secret-1'), attempt(b!, 'bob', 'wrong'), attempt(a!, 'alice', 'wrong'), attempt(a!, 'nobody', 'x'),
    ]);
    expect(await counts(a!)).to.deep.equal([[0, '(unknown)', 0, 1, 0], [16384, 'alice', 1, 1, 0]]);
    expect(await counts(b!)).to.deep.equal([[16385, 'bob', 0, 1, 0]]);
  });

  it('a restarted server starts from fresh shared memory', async () => {
    const a = await start();
    await attempt(a, 'alice', 'a-secret-1');
    expect(await counts(a)).to.have.length(1);
    const again = await start();
    expect(await counts(again)).to.deep.equal([]);
  });

  it('shmem_request_hook runs before shmem_startup_hook, once, after every _PG_init; both are traced', async () => {
    const order: string[] = [];
    const probe = (name: string): ExtensionModule => ({
      name,
      _PG_init(ctx) {
        order.push(`${name}:_PG_init:${ctx.process_shared_preload_libraries_in_progress}`);
        const req = ctx.hooks.shmem_request_hook;
        ctx.hooks.shmem_request_hook = () => { req?.(); order.push(`${name}:request`); ctx.RequestNamedLWLockTranche(name, 1); };
        const st = ctx.hooks.shmem_startup_hook;
        ctx.hooks.shmem_startup_hook = () => { st?.(); order.push(`${name}:startup:${ctx.ShmemInitStruct('s', () => name).ptr}`); };
      },
    });
    const c = await start([probe('one'), probe('two')]);
    expect(order).to.deep.equal([
      'one:_PG_init:true', 'two:_PG_init:true', 'one:request', 'two:request', 'one:startup:one', 'two:startup:one',
    ]);
    expect(c.trace.events.filter((e) => e.type === 'hook-entered').map((e) => e.type === 'hook-entered' && `${e.slot}/${e.hook}`))
      .to.deep.equal(['shmem_request_hook/two', 'shmem_request_hook/one', 'shmem_startup_hook/two', 'shmem_startup_hook/one']);
  });

  it('RequestAddinShmemSpace outside shmem_request_hook stops the server (FATAL, as PostgreSQL 15)', async () => {
    const bad: ExtensionModule = { name: 'bad', _PG_init(ctx) { ctx.RequestAddinShmemSpace(1024); } };
    const err = await TestCluster.start({ hba: HBA, extensions: [bad] }).then(() => null, (e: unknown) => e as { fatal: { fields: unknown } });
    expect(err?.fatal.fields).to.deep.include({ severity: 'FATAL', message: 'cannot request additional shared memory outside shmem_request_hook' });
  });

  it('a library loaded after start sees process_shared_preload_libraries_in_progress = false', async () => {
    const server = new PgServer({ hba: [], roles: RoleCatalog.initdb('postgres') });
    let during: boolean | undefined;
    server.loadExtension({ name: 'late', _PG_init(ctx) { during = ctx.process_shared_preload_libraries_in_progress; } });
    expect(during).to.equal(false);
    expect(() => server.loadExtension(loginCounter)).to.throw('login_counter must be loaded via "shared_preload_libraries"');
    await server.close();
  });

  it('postmaster exit callbacks run at shutdown, last registered first, after "database system is shut down", and log', async () => {
    const order: string[] = [];
    const ext: ExtensionModule = {
      name: 'bye',
      _PG_init(ctx) {
        ctx.on_proc_exit((code) => { order.push(`on_proc_exit ${code}`); ctx.elog('LOG', 'bye: on_proc_exit'); });
        ctx.before_shmem_exit(() => { order.push('before_shmem_exit 1'); });
        ctx.before_shmem_exit(() => { order.push('before_shmem_exit 2'); });
        ctx.on_shmem_exit(() => { order.push('on_shmem_exit'); });
      },
    };
    const c = await start([loginCounter, ext]);
    await attempt(c, 'bob', 'b-secret-1');
    clusters.splice(clusters.indexOf(c), 1);
    await c.close();
    expect(order).to.deep.equal(['before_shmem_exit 2', 'before_shmem_exit 1', 'on_shmem_exit', 'on_proc_exit 0']);
    expect(c.trace.log('').split('\n').slice(-5)).to.deep.equal([
      'LOG:  received fast shutdown request',
      'LOG:  database system is shut down',
      'LOG:  login_counter: bob ok=1 failed=0 eof=0',
      'LOG:  bye: on_proc_exit',
      '',
    ]);
  });

  it('exit callbacks registered by a backend run when that backend exits, before its disconnection line', async () => {
    const ext: ExtensionModule = {
      name: 'perbackend',
      _PG_init(ctx) {
        const prev = ctx.hooks.ClientAuthentication_hook;
        ctx.hooks.ClientAuthentication_hook = async (port, status) => {
          await prev?.(port, status);
          ctx.before_shmem_exit(() => ctx.elog('LOG', 'perbackend: pid %d leaving', ctx.MyProcPid()));
        };
      },
    };
    const c = await start([ext], { postgresqlConf: { log_disconnections: true } });
    await attempt(c, 'alice', 'a-secret-1');
    const pid = c.trace.events.find((e) => e.type === 'connection-received')!.pid;
    const lines = c.trace.log('').trim().split('\n');
    expect(lines[0]).to.equal(`LOG:  perbackend: pid ${pid} leaving`);
    expect(lines[1]).to.match(/^LOG: {2}disconnection: session time: /);
    expect(c.trace.events.filter((e) => e.type === 'exit-callback')).to.have.length(1);
  });

  it('runs under mocha --parallel: two spec files using the same module at once', async function () {
    this.timeout(60_000);
    const dir = path.join(ROOT, 'dist', 'spec', 'extensions', 'parallel');
    const { stdout } = await run(path.join(ROOT, 'node_modules', '.bin', 'mocha'), [
      '--parallel', '--jobs', '2', '--reporter', 'dot', path.join(dir, 'counter-a.js'), path.join(dir, 'counter-b.js'),
    ], { cwd: ROOT, timeout: 50_000 });
    expect(stdout).to.match(/\b4 passing\b/);
    expect(stdout).to.not.match(/failing/);
  });
});
