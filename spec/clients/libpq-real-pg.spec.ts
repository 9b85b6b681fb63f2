/**
 * The libpq 15 model and its psql wrapper against a throwaway real PostgreSQL 15 (over TCP),
 * next to the real psql 15 against the same server: same stderr, stdout and exit code, and the
 * same server log for each case (connections, FATALs and, with hook_probe, every
 * ClientAuthentication_hook call). This is where SCRAM-SHA-256-PLUS meets a real server's
 * channel binding, and md5 a real md5 secret.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RealPg } from '../support/real-pg.js';
import { PSQL } from '../support/psql.js';
import { CERTS } from '../support/fixtures.js';
import { RealClock } from '../../src/clock.js';
import { SeededRandom } from '../../src/random.js';
import { tcpTransport } from '../../src/clients/libpq/transport.js';
import { runPsql } from '../../src/clients/psql.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('pg-authsim-realpg-');

const HBA = [
  'hostssl all cbuser 127.0.0.1/32 scram-sha-256',
  'host all cbuser 127.0.0.1/32 reject',
  'host all md5user 127.0.0.1/32 md5',
  'host all trusty 127.0.0.1/32 trust',
  'host all all 127.0.0.1/32 scram-sha-256',
].join('\n');

const SETUP = `
CREATE ROLE test LOGIN PASSWORD 'secret';
CREATE ROLE cbuser LOGIN PASSWORD 'secret';
CREATE ROLE trusty LOGIN;
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'secret';
`;

const CASES: Array<{ name: string; conninfo: string; password?: string; hooks?: string[] }> = [
  { name: 'prefer, wrong password: SSL, then plaintext', conninfo: 'user=test sslmode=prefer', password: 'wrong', hooks: ['status=ERROR ssl=on', 'status=ERROR ssl=off'] },
  { name: 'allow, wrong password: plaintext, then SSL', conninfo: 'user=test sslmode=allow', password: 'wrong' },
  { name: 'prefer, right password', conninfo: 'user=test sslmode=prefer', password: 'secret' },
  { name: 'no password: one connection, the server sees EOF', conninfo: 'user=test sslmode=prefer' },
  { name: 'md5 secret, right password', conninfo: 'user=md5user sslmode=disable', password: 'secret' },
  { name: 'md5 secret, wrong password, prefer', conninfo: 'user=md5user sslmode=prefer', password: 'wrong' },
  { name: 'SCRAM-SHA-256-PLUS with channel_binding=require, verify-full', conninfo: `user=cbuser host=localhost hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=${path.join(CERTS, 'ca.crt')} channel_binding=require`, password: 'secret' },
  { name: 'allow against hostssl-then-reject: reject first, SSL second', conninfo: 'user=cbuser sslmode=allow', password: 'secret' },
  { name: 'trust with channel_binding=require is refused by the client', conninfo: 'user=trusty sslmode=require channel_binding=require' },
  { name: 'database that does not exist', conninfo: 'user=trusty dbname=nosuchdb sslmode=prefer' },
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

describe(`libpq 15 model vs real psql 15, both against a real PostgreSQL 15 (${CASES.length} cases)`, function () {
  this.timeout(120_000);
  let pg: RealPg;
  before(async () => {
    pg = await RealPg.start({ hba: HBA, setupSql: SETUP, ssl: true });
  });
  after(async () => { await pg?.stop(); });

  /** One case's log: PIDs dropped, client ports and the data directory normalised. */
  const logOf = (offset: number) => pg.logSince(offset).map((l) => l.text
    .replace(/port=\d+/g, 'port=$CLIENTPORT').replace(/ pid=\d+/g, '').replaceAll(pg.hbaPath, '$HBA'));

  for (const c of CASES) {
    it(c.name, async () => {
      const conninfo = `${/\bhost=/.test(c.conninfo) ? '' : 'host=127.0.0.1 '}port=${pg.port} dbname=postgres ${c.conninfo}`;
      const environ: Record<string, string> = c.password ? { PGPASSWORD: c.password } : {};

      let offset = pg.logOffset();
      const real = await realPsql(conninfo, environ);
      await pg.settle();
      const realLog = logOf(offset);

      offset = pg.logOffset();
      const mine = await runPsql({ dbname: conninfo, command: 'select 1', noPassword: true }, {
        transport: tcpTransport(), clock: new RealClock(), random: new SeededRandom(11), version: 15,
        environ: { LC_ALL: 'C', PGPASSFILE: path.join(home, 'none'), ...environ }, osUser: 'root', homeDir: home,
      });
      await pg.settle();
      const myLog = logOf(offset);

      const norm = (s: string) => s.replaceAll(String(pg.port), '$PORT');
      expect(norm(mine.stderr), 'stderr').to.equal(norm(real.stderr));
      expect(mine.stdout, 'stdout').to.equal(real.stdout);
      expect(mine.exitCode, 'exit code').to.equal(real.exitCode);
      expect(myLog, 'server log').to.deep.equal(realLog);
      // hook_probe is built when the server headers are installed; then its lines prove the hook calls.
      if (c.hooks && pg.hookProbe) {
        expect(myLog.flatMap((l) => /hook_probe: (status=\w+ ssl=\w+)/.exec(l)?.[1] ?? []), 'hook calls').to.deep.equal(c.hooks);
      }
      expect(myLog.filter((l) => l.startsWith('LOG:  connection received')).length, 'TCP connections')
        .to.equal(mine.attempts.filter((a) => a.tcp).length);
    });
  }
});
