/**
 * Socket errors side by side with a real PostgreSQL 15: a client that gives
 * up during auth_delay by resetting the connection (RST) or by closing it
 * (FIN), in plaintext and inside TLS. PostgreSQL notices only when it next
 * writes: a reset makes that send fail and logs `could not send data to
 * client: Connection reset by peer`; a plain close does not (the kernel still
 * takes the bytes). Both servers run the same configuration, over TCP, and
 * their logs for each case must be the same; the simulator also runs the
 * plaintext cases over the in-memory transport, whose reset must behave alike.
 */
import { expect } from 'chai';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { RealPg } from '../support/real-pg.js';
import { TestCluster } from '../../src/testing/index.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import { startupMessage } from '../support/raw-login.js';
import { logEntries } from '../support/wire-script.js';
import { renderServerLog } from '../../src/views/server-log.js';

const HBA = 'host all all 127.0.0.1/32 password\n';
const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';";
const DELAY_MS = 150;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Ending = 'reset' | 'close';
interface Case { name: string; tls: boolean; ending: Ending }
const CASES: Case[] = [
  { name: 'a wrong password, then RST during auth_delay: the FATAL, then the failed send', tls: false, ending: 'reset' },
  { name: 'a wrong password, then FIN and close during auth_delay: the FATAL only', tls: false, ending: 'close' },
  { name: 'inside TLS, a wrong password, then RST during auth_delay: the FATAL, then the failed send', tls: true, ending: 'reset' },
  { name: 'inside TLS, a wrong password, then a close without close_notify: the FATAL only', tls: true, ending: 'close' },
];

/** Send a wrong password and walk away while the server sleeps in auth_delay. */
async function giveUp(open: () => Promise<Duplex>, c: Case): Promise<void> {
  const sock = await open();
  sock.on('error', () => {});
  let channel: Duplex = sock;
  if (c.tls) {
    sock.write(encodeFrontend({ type: 'SSLRequest' }));
    await new Promise((r) => sock.once('data', r));
    const t = tls.connect({ socket: sock as net.Socket, rejectUnauthorized: false });
    t.on('error', () => {});
    await new Promise((r) => t.once('secureConnect', r));
    channel = t;
  }
  channel.write(startupMessage('test', 'postgres'));
  await sleep(25);
  channel.write(encodeFrontend({ type: 'PasswordMessage', password: 'wrong' }));
  await sleep(25);
  const raw = sock as Duplex & { resetAndDestroy?: () => void };
  if (c.ending === 'reset') raw.resetAndDestroy!();
  else raw.destroy();
}

const normalise = (lines: string[]) => lines.map((l) => l.replace(/port=\d+/, 'port=PORT'));

describe('socket errors during auth_delay: real PostgreSQL 15 vs pg-authsim', function () {
  this.timeout(60_000);
  let pg: RealPg;
  let cluster: TestCluster;
  let port: number;

  before(async () => {
    pg = await RealPg.start({
      hba: HBA, setupSql: ROLES, ssl: true,
      settings: { shared_preload_libraries: "'auth_delay'", 'auth_delay.milliseconds': String(DELAY_MS), log_line_prefix: "'[%p] %e '" },
    });
    cluster = await TestCluster.start({
      postgresqlConf: { ssl: true, shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': DELAY_MS, log_connections: true, log_line_prefix: '%e ' },
      hba: HBA, roles: ROLES, clock: 'real',
    });
    port = await cluster.listen();
  });
  after(async () => {
    await cluster?.close();
    await pg?.stop();
  });

  async function realLog(c: Case): Promise<string[]> {
    const offset = pg.logOffset();
    await giveUp(async () => {
      const s = net.connect({ port: pg.port, host: '127.0.0.1' });
      await new Promise((r) => s.once('connect', r));
      return s;
    }, c);
    await sleep(DELAY_MS + 100);
    await pg.settle();
    return normalise(pg.logSince(offset).map((l) => l.text).flatMap((t) => t.split('\n')));
  }

  async function simLog(c: Case, transport: 'tcp' | 'memory'): Promise<string[]> {
    const from = cluster.trace.events.length;
    await giveUp(async () => {
      if (transport === 'memory') return cluster.socket();
      const s = net.connect({ port, host: '127.0.0.1' });
      await new Promise((r) => s.once('connect', r));
      return s;
    }, c);
    await sleep(DELAY_MS + 100);
    await cluster.idle();
    const events = cluster.trace.events.slice(from).filter((e) => e.connection !== 0);
    const text = renderServerLog(events, { ...cluster.server.settings, logLinePrefix: '%e ' });
    return normalise(logEntries(text.split('\n')).flatMap((t) => t.split('\n')));
  }

  for (const c of CASES) {
    it(c.name, async () => {
      const real = await realLog(c);
      expect(real.some((l) => l.includes('password authentication failed')), 'the real server failed the login').to.equal(true);
      expect(real.some((l) => l.includes('could not send data to client')), 'the real server logged a failed send').to.equal(c.ending === 'reset');
      expect(await simLog(c, 'tcp'), 'pg-authsim over TCP').to.deep.equal(real);
      if (!c.tls) expect(await simLog(c, 'memory'), 'pg-authsim in memory').to.deep.equal(real);
    });
  }
});
