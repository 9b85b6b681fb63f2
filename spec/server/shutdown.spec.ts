/**
 * Shutdown as PostgreSQL 15.20 does it, per mode. Observed live (pg_ctl's
 * signals to a 15.20 postmaster with four clients: an idle session, one
 * waiting for its password, one that sent nothing, one asleep in auth_delay):
 *
 *   fast (SIGINT)      LOG received fast shutdown request / LOG aborting any active transactions
 *                      session: 57P01 "terminating connection due to administrator command", sent and logged
 *                      waiting for the password: 57014 "canceling authentication due to timeout", logged only
 *                      nothing sent yet: silent; in auth_delay: wakes, 28P01 sent as usual
 *                      (background worker "logical replication launcher" exited: not simulated)
 *                      LOG shutting down / LOG database system is shut down
 *   smart (SIGTERM)    LOG received smart shutdown request; sessions go on; a new connection gets
 *                      57P03 "the database system is shutting down" after its startup packet;
 *                      when the last backend is gone: shutting down / database system is shut down
 *   immediate (SIGQUIT) LOG received immediate shutdown request; a session hears a WARNING 57P01
 *                      "terminating connection due to immediate shutdown command" (client only);
 *                      nothing else is logged but database system is shut down
 *
 * `PgServer.close()` and `TestCluster.close()` are a fast shutdown; `serve`
 * maps the three signals as the postmaster does.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TestCluster } from '../../src/testing/cluster.js';
import { renderServerLog } from '../../src/views/server-log.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import { WireClient, type Received } from '../support/wire-client.js';
import { login, startupMessage } from '../support/raw-login.js';
import { ROOT } from '../support/fixtures.js';

const HBA = 'host trustdb all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 password';
const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';";
const CONF = { shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 4000, log_line_prefix: '%e ' };

const turns = async (n = 30) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

/** The four clients of the live observation, each at its point. */
async function fourClients(cluster: TestCluster): Promise<{ session: WireClient; password: WireClient; silent: WireClient; delayed: WireClient }> {
  cluster.server.settings.databases.push({ name: 'trustdb', allowConnections: true, connectionLimit: -1 });
  const session = WireClient.memory(cluster.server);
  await login(session, 'test', null, 'trustdb');
  const password = WireClient.memory(cluster.server);
  password.send(startupMessage('test'));
  await password.next();
  const silent = WireClient.memory(cluster.server);
  const delayed = WireClient.memory(cluster.server);
  delayed.send(startupMessage('test'));
  await delayed.next();
  delayed.send(encodeFrontend({ type: 'PasswordMessage', password: 'wrong' }));
  for (let i = 0; i < 100 && !cluster.trace.events.some((e) => e.type === 'hook-invoked' && e.status === 'ERROR'); i++) await turns(1);
  return { session, password, silent, delayed };
}

/** Postmaster lines (connection 0) and each backend's lines, with the SQLSTATE prefix. */
function logOf(cluster: TestCluster, from: number): { postmaster: string[]; backends: string[] } {
  const events = cluster.trace.events.slice(from);
  const render = (evs: typeof events) => renderServerLog(evs, { ...cluster.server.settings }).split('\n').filter(Boolean);
  return { postmaster: render(events.filter((e) => e.connection === 0)), backends: render(events.filter((e) => e.connection !== 0)) };
}

const names = (ms: Received[]) => ms.map((m) => (m.name === 'error' || m.name === 'notice' ? `${m.name} ${String(m.severity)} ${String(m.code)}` : m.name));

describe('shutdown modes (PostgreSQL 15.20 observed live)', () => {
  let cluster: TestCluster;
  beforeEach(async () => {
    cluster = await TestCluster.start({ postgresqlConf: CONF, hba: HBA, roles: ROLES });
  });
  afterEach(() => cluster.close());

  it('fast (close()): 57P01 to the session, 57014 logged for the one awaiting a password, silence for the rest, then the two closing lines', async () => {
    const c = await fourClients(cluster);
    const from = cluster.trace.events.length;
    const t0 = cluster.clock.now();
    await cluster.close();
    expect(cluster.clock.now() - t0, 'auth_delay is cut short').to.be.below(100);
    expect(names(await c.session.drain())).to.deep.equal(['error FATAL 57P01']);
    expect(await c.password.drain()).to.deep.equal([]);
    expect(await c.silent.readRawUntilClose()).to.have.length(0);
    expect(names(await c.delayed.drain())).to.deep.equal(['error FATAL 28P01']);
    const log = logOf(cluster, from);
    expect(log.postmaster).to.deep.equal([
      '00000 LOG:  received fast shutdown request',
      '00000 LOG:  aborting any active transactions',
      '00000 LOG:  shutting down',
      '00000 LOG:  database system is shut down',
    ]);
    expect([...log.backends].sort()).to.deep.equal([
      '\tConnection matched pg_hba.conf line 2: "host all all 127.0.0.1/32 password"',
      '28P01 DETAIL:  Password does not match for user "test".',
      '28P01 FATAL:  password authentication failed for user "test"',
      '57014 FATAL:  canceling authentication due to timeout',
      '57P01 FATAL:  terminating connection due to administrator command',
    ]);
    // The postmaster's closing lines come after every backend's.
    const kinds = cluster.trace.events.slice(from).map((e) => (e.type === 'server-stopped' ? 'stopped' : e.type === 'connection-closed' ? 'closed' : null)).filter(Boolean);
    expect(kinds).to.deep.equal(['closed', 'closed', 'closed', 'closed', 'stopped']);
    // Nothing accepts connections any more.
    const late = cluster.server.connect();
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => late.once('error', resolve));
    expect(err.code).to.equal('ECONNREFUSED');
  });

  it('smart: sessions go on, a new connection gets 57P03 after its startup packet, and the server stops when the last session ends', async () => {
    cluster.server.settings.databases.push({ name: 'trustdb', allowConnections: true, connectionLimit: -1 });
    const session = WireClient.memory(cluster.server);
    await login(session, 'test', null, 'trustdb');
    const from = cluster.trace.events.length;
    let stopped = false;
    const stopping = cluster.server.shutdown('smart').then(() => { stopped = true; });
    const late = WireClient.memory(cluster.server);
    const refused = await login(late, 'test', 'secret');
    expect(names(refused)).to.deep.equal(['error FATAL 57P03']);
    session.send(encodeFrontend({ type: 'Query', sql: 'SELECT 1' }));
    expect(names(await session.until('readyForQuery')).at(-1)).to.equal('readyForQuery');
    await turns();
    expect(stopped, 'still waiting for the session').to.equal(false);
    session.send(encodeFrontend({ type: 'Terminate' }));
    await stopping;
    expect(logOf(cluster, from).postmaster).to.deep.equal([
      '00000 LOG:  received smart shutdown request',
      '00000 LOG:  shutting down',
      '00000 LOG:  database system is shut down',
    ]);
    expect(logOf(cluster, from).backends).to.deep.equal(['57P03 FATAL:  the database system is shutting down']);
  });

  it('a fast shutdown takes over a smart one still waiting', async () => {
    cluster.server.settings.databases.push({ name: 'trustdb', allowConnections: true, connectionLimit: -1 });
    const session = WireClient.memory(cluster.server);
    await login(session, 'test', null, 'trustdb');
    const from = cluster.trace.events.length;
    const smart = cluster.server.shutdown('smart');
    await turns();
    await cluster.server.shutdown('fast');
    await smart;
    expect(names(await session.drain())).to.deep.equal(['error FATAL 57P01']);
    expect(logOf(cluster, from).postmaster).to.deep.equal([
      '00000 LOG:  received smart shutdown request',
      '00000 LOG:  received fast shutdown request',
      '00000 LOG:  aborting any active transactions',
      '00000 LOG:  shutting down',
      '00000 LOG:  database system is shut down',
    ]);
  });

  it('immediate: the session hears a WARNING only it sees, nothing else is logged', async () => {
    const c = await fourClients(cluster);
    const from = cluster.trace.events.length;
    await cluster.server.shutdown('immediate');
    expect(names(await c.session.drain())).to.deep.equal(['notice WARNING 57P01']);
    expect(await c.password.drain()).to.deep.equal([]);
    expect(await c.delayed.drain()).to.deep.equal([]);
    const log = logOf(cluster, from);
    expect(log.postmaster).to.deep.equal(['00000 LOG:  received immediate shutdown request', '00000 LOG:  database system is shut down']);
    expect(log.backends).to.deep.equal([]);
  });

  it('shutdownCallbacks run after the last backend, last registered first, before the closing lines', async () => {
    const c = await fourClients(cluster);
    void c;
    const seen: string[] = [];
    cluster.server.shutdownCallbacks.push(async (mode) => {
      seen.push(`first ${mode} backends=${cluster.server.backends().length} stopped=${cluster.trace.events.some((e) => e.type === 'server-stopped')}`);
    });
    cluster.server.shutdownCallbacks.push(() => { seen.push('second'); throw new Error('boom'); });
    await cluster.close();
    expect(seen).to.deep.equal(['second', 'first fast backends=0 stopped=false']);
    expect(cluster.trace.events.some((e) => e.type === 'log' && e.connection === 0 && e.message === 'shutdown callback failed: boom')).to.equal(true);
  });
});

describe('serve: SIGINT, SIGTERM and SIGQUIT as the postmaster takes them', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-shutdown-'));
    writeFileSync(path.join(dir, 'postgresql.conf'), "listen_addresses = '127.0.0.1'\nlog_line_prefix = ''\n");
    writeFileSync(path.join(dir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\n');
    writeFileSync(path.join(dir, 'roles.sql'), 'CREATE ROLE test LOGIN;\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[NodeJS.Signals, string[]]> = [
    ['SIGINT', ['received fast shutdown request', 'aborting any active transactions', 'shutting down', 'database system is shut down']],
    ['SIGTERM', ['received smart shutdown request', 'shutting down', 'database system is shut down']],
    ['SIGQUIT', ['received immediate shutdown request', 'database system is shut down']],
  ];
  for (const [signal, lines] of cases) {
    it(`${signal}: ${lines[0]}`, async () => {
      const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli.js'), 'serve', '-D', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      for (let i = 0; i < 200 && !/listening on/.test(out); i++) await new Promise((r) => setTimeout(r, 25));
      const port = Number(/listening on [^:]+:(\d+)/.exec(out)?.[1]);
      // One session that logs in and leaves, so the server has served someone.
      const c = await WireClient.tcp(port);
      await login(c, 'test', null);
      c.send(encodeFrontend({ type: 'Terminate' }));
      await c.closedPromise;
      child.kill(signal);
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      expect(code).to.equal(0);
      const logged = err.split('\n').filter((l) => l.startsWith('LOG:  ')).map((l) => l.slice(6));
      expect(logged.slice(-lines.length)).to.deep.equal(lines);
      const refused = await new Promise<boolean>((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' });
        s.once('connect', () => { s.destroy(); resolve(false); });
        s.once('error', () => resolve(true));
      });
      expect(refused, 'nothing listens after the shutdown').to.equal(true);
    });
  }
});
