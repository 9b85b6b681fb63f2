/**
 * The libpq 15 model over real TCP (tcpTransport), side by side with the real psql 15
 * on this machine, both against the same pg-authsim listener: cases the oracle grid does
 * not cover (channel binding, cleartext and cert authentication, root certificates, host
 * name checks, several hosts, errors after AuthenticationOk, target_session_attrs, the
 * password file, GSSAPI required). Each case must give the same psql exit code, stderr
 * and stdout, the same number of TCP connections, the same ClientAuthentication_hook calls
 * and the same server log for every connection.
 */
import { expect } from 'chai';
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { makeServer, devTls, CERTS } from '../support/fixtures.js';
import { PSQL } from '../support/psql.js';
import { renderServerLog } from '../../src/views/server-log.js';
import type { ServerEvent } from '../../src/events.js';
import type { PgServer } from '../../src/server/server.js';
import { RealClock } from '../../src/clock.js';
import { SeededRandom } from '../../src/random.js';
import { tcpTransport } from '../../src/clients/libpq/transport.js';
import { runPsql } from '../../src/clients/psql.js';
import { tempDir } from '../support/temp.js';

const work = tempDir('pg-authsim-libpq-tcp-');
const home = path.join(work, 'home');
execFileSync('mkdir', ['-p', home]);

/** Client key files must be 0600 for libpq; git does not keep modes. */
const clientKey = path.join(work, 'client.key');
copyFileSync(path.join(CERTS, 'client.key'), clientKey);
chmodSync(clientKey, 0o600);
/** A CA that did not sign the server certificate. */
const otherCa = path.join(work, 'other-ca.crt');
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(work, 'other-ca.key'),
  '-out', otherCa, '-subj', '/CN=some other CA', '-days', '2'], { stdio: 'ignore' });
const pgpass = path.join(work, 'pgpass');
writeFileSync(pgpass, '*:*:*:test:from-the-file\n');
chmodSync(pgpass, 0o600);

interface Case {
  name: string;
  hba: string;
  ssl?: boolean;
  /** $PORT, $CLOSED (a port nobody listens on), $CA, $OTHERCA, $CERT, $KEY are filled in. */
  conninfo: string;
  env?: Record<string, string>;
  /**
   * A server log line that differs for a reason outside the model: node:tls checks the server
   * certificate only after its handshake has finished, so it cannot send OpenSSL's "unknown ca"
   * alert the way libpq does, and the server sees the client go away instead.
   */
  tlsAlertGap?: true;
}

const CASES: Case[] = [
  { name: 'channel_binding=require over plaintext stops before the password', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=disable channel_binding=require', env: { PGPASSWORD: 'secret' } },
  { name: 'channel_binding=require with sslmode=allow never reaches the SSL try', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=allow channel_binding=require', env: { PGPASSWORD: 'secret' } },
  { name: 'channel_binding=require over SSL uses SCRAM-SHA-256-PLUS', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=require channel_binding=require', env: { PGPASSWORD: 'secret' } },
  { name: 'channel_binding=require, prefer, wrong password: SSL try, then plaintext refused client-side', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=prefer channel_binding=require', env: { PGPASSWORD: 'nope' } },
  { name: 'channel_binding=require against md5', hba: 'host all all 0.0.0.0/0 md5',
    conninfo: 'user=md5user sslmode=require channel_binding=require', env: { PGPASSWORD: 'secret' } },
  { name: 'channel_binding=require against trust', hba: 'host all all 0.0.0.0/0 trust',
    conninfo: 'sslmode=require channel_binding=require' },
  { name: 'channel_binding=disable over SSL picks plain SCRAM-SHA-256', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=require channel_binding=disable', env: { PGPASSWORD: 'secret' } },
  { name: 'cleartext password method', hba: 'host all all 0.0.0.0/0 password',
    conninfo: 'sslmode=prefer', env: { PGPASSWORD: 'secret' } },
  { name: 'md5 method with an md5 secret, right password, plaintext', hba: 'host all all 0.0.0.0/0 md5',
    conninfo: 'user=md5user sslmode=disable', env: { PGPASSWORD: 'secret' } },
  { name: 'an empty PGPASSWORD is no password', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=prefer', env: { PGPASSWORD: '' } },
  { name: 'the password file supplies a wrong password: libpq says where it came from', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=prefer passfile=$PGPASS' },
  { name: 'verify-full by name', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'host=localhost hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=$CA', env: { PGPASSWORD: 'secret' } },
  { name: 'verify-full against an address not in the certificate', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'host=127.0.0.2 sslmode=verify-full sslrootcert=$CA', env: { PGPASSWORD: 'secret' } },
  { name: 'verify-ca with a root file that does not exist', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=verify-ca sslrootcert=$WORK/missing.crt', env: { PGPASSWORD: 'secret' } },
  { name: 'require with the wrong root CA fails the handshake', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=require sslrootcert=$OTHERCA', env: { PGPASSWORD: 'secret' }, tlsAlertGap: true },
  { name: 'prefer with the wrong root CA falls back to plaintext on a new connection', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'sslmode=prefer sslrootcert=$OTHERCA', env: { PGPASSWORD: 'secret' }, tlsAlertGap: true },
  { name: 'cert authentication with a client certificate', hba: 'hostssl all all 0.0.0.0/0 cert',
    conninfo: 'sslmode=require sslcert=$CERT sslkey=$KEY' },
  { name: 'cert authentication without one', hba: 'hostssl all all 0.0.0.0/0 cert',
    conninfo: 'sslmode=prefer' },
  { name: 'gssencmode=require without a Kerberos ticket', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'gssencmode=require', env: { PGPASSWORD: 'secret' } },
  { name: 'the first host refuses, the second one logs in', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'host=127.0.0.1,127.0.0.1 port=$CLOSED,$PORT', env: { PGPASSWORD: 'secret' } },
  { name: 'authentication failure does not move on to the next host', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'host=127.0.0.1,127.0.0.2', env: { PGPASSWORD: 'nope' } },
  { name: 'database does not exist: after AuthenticationOk, so no prefer retry', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'dbname=nosuchdb sslmode=prefer', env: { PGPASSWORD: 'secret' } },
  { name: 'role not permitted to log in', hba: 'host all all 0.0.0.0/0 trust',
    conninfo: 'user=nologin sslmode=prefer' },
  { name: 'expired password fails before AuthenticationOk, so prefer retries', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'user=expired sslmode=prefer', env: { PGPASSWORD: 'secret' } },
  { name: 'an unknown setting in options: 42704 makes libpq retry once without application_name', hba: 'host all all 0.0.0.0/0 trust',
    conninfo: "sslmode=disable options='-c no_such_setting=1'" },
  { name: 'target_session_attrs=read-only on a primary', hba: 'host all all 0.0.0.0/0 trust',
    conninfo: 'target_session_attrs=read-only' },
  { name: 'target_session_attrs=standby over two primaries', hba: 'host all all 0.0.0.0/0 trust',
    conninfo: 'host=127.0.0.1,127.0.0.2 target_session_attrs=standby sslmode=disable' },
  { name: 'target_session_attrs=prefer-standby over two primaries takes a second pass', hba: 'host all all 0.0.0.0/0 trust',
    conninfo: 'host=127.0.0.1,127.0.0.2 target_session_attrs=prefer-standby sslmode=disable' },
  { name: 'a host name that resolves: the address is shown next to it', hba: 'host all all 0.0.0.0/0 scram-sha-256',
    conninfo: 'host=localhost sslmode=disable', env: { PGPASSWORD: 'nope' } },
  { name: 'a Unix socket directory with no server', hba: 'host all all 0.0.0.0/0 trust',
    conninfo: 'host=$WORK' },
  { name: 'connect_timeout that is not a number', hba: 'host all all 0.0.0.0/0 trust',
    conninfo: 'connect_timeout=soon' },
  { name: 'ssl=off server, allow, wrong password: 15 logs in twice in plaintext', hba: 'host all all 0.0.0.0/0 scram-sha-256', ssl: false,
    conninfo: 'sslmode=allow', env: { PGPASSWORD: 'nope' } },
];

function realPsql(conninfo: string, env: Record<string, string>): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PSQL, ['-X', '-w', '-c', 'select 1', conninfo], {
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: home, PGPASSFILE: path.join(home, 'none'), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
  });
}

function perConnectionLogs(events: ServerEvent[]): string[] {
  const byConn = new Map<number, ServerEvent[]>();
  for (const e of events) {
    if (e.connection === 0) continue;
    byConn.set(e.connection, [...(byConn.get(e.connection) ?? []), e]);
  }
  return [...byConn.values()].map((evs) => renderServerLog(evs, {
    logConnections: true, logDisconnections: false, logLinePrefix: '', hbaPath: '$DATA/pg_hba.conf', serverVersion: '15',
  }).replace(/port=\d+/g, 'port=$CLIENTPORT'));
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe(`libpq 15 model over TCP vs real psql 15, both against pg-authsim (${CASES.length} cases)`, function () {
  this.timeout(30000);
  for (const c of CASES) {
    describe(c.name, () => {
      let server: PgServer;
      let events: ServerEvent[];
      let hooks: Array<{ status: string; ssl: boolean }>;
      let port: number;
      let closed: number;

      before(async () => {
        hooks = [];
        const made = makeServer({
          hba: c.hba,
          settings: { ssl: c.ssl ?? true, tls: devTls(true), logConnections: true, hbaPath: '$DATA/pg_hba.conf' },
          hook: (p, status) => { hooks.push({ status: status === 0 ? 'OK' : status === -1 ? 'ERROR' : 'EOF', ssl: p.ssl_in_use }); },
        });
        server = made.server;
        events = made.events;
        port = (await server.listen(0, ['127.0.0.1', '127.0.0.2']))[0]!.port;
        closed = await closedPort();
      });
      after(() => server.close());

      it('gives what real psql gives', async () => {
        const fill = (s: string) => s.replaceAll('$PORT', String(port)).replaceAll('$CLOSED', String(closed))
          .replaceAll('$OTHERCA', otherCa).replaceAll('$CA', path.join(CERTS, 'ca.crt')).replaceAll('$CERT', path.join(CERTS, 'client.crt'))
          .replaceAll('$KEY', clientKey).replaceAll('$PGPASS', pgpass).replaceAll('$WORK', work);
        let conninfo = fill(c.conninfo);
        if (!/\bhost=/.test(conninfo)) conninfo = `host=127.0.0.1 ${conninfo}`;
        if (!/\bport=/.test(conninfo)) conninfo = `port=${port} ${conninfo}`;
        if (!/\buser=/.test(conninfo)) conninfo = `user=test ${conninfo}`;
        conninfo = `dbname=postgres ${conninfo}`;

        const run = async (who: 'real' | 'model') => {
          events.length = 0;
          hooks.length = 0;
          const r = who === 'real'
            ? await realPsql(conninfo, c.env ?? {})
            : await runPsql({ dbname: conninfo, command: 'select 1', noPassword: true }, {
              transport: tcpTransport(), clock: new RealClock(), random: new SeededRandom(1), version: 15,
              environ: { LC_ALL: 'C', PGPASSFILE: path.join(home, 'none'), ...c.env }, osUser: 'root', homeDir: home,
            });
          await server.idle();
          return {
            exitCode: r.exitCode,
            stdout: r.stdout,
            stderr: r.stderr.replaceAll(String(port), '$PORT').replaceAll(String(closed), '$CLOSED'),
            tcpConnections: events.filter((e) => e.type === 'connection-received').length,
            hooks: [...hooks],
            logs: perConnectionLogs(events),
          };
        };
        const real = await run('real');
        const model = await run('model');
        expect(model.stderr, 'stderr').to.equal(real.stderr);
        expect(model.exitCode, 'exit code').to.equal(real.exitCode);
        expect(model.stdout, 'stdout').to.equal(real.stdout);
        expect(model.tcpConnections, 'TCP connections').to.equal(real.tcpConnections);
        expect(model.hooks, 'hook calls').to.deep.equal(real.hooks);
        if (c.tlsAlertGap) {
          const alert = 'LOG:  could not accept SSL connection: tlsv1 alert unknown ca';
          const eof = 'LOG:  could not accept SSL connection: EOF detected';
          expect(real.logs[0], 'real libpq alerts the server').to.include(alert);
          expect(model.logs[0], 'the model just goes away').to.include(eof);
          expect(model.logs.map((l) => l.replace(eof, alert)), 'server log per connection, otherwise').to.deep.equal(real.logs);
        } else {
          expect(model.logs, 'server log per connection').to.deep.equal(real.logs);
        }
      });
    });
  }
});
