import * as chai from 'chai';
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TestCluster, pgAuthsimChai } from 'pg-authsim/testing';
import { auditLog } from '../../examples/extensions/audit_log.js';
import { WireClient } from '../support/wire-client.js';
import { login } from '../support/raw-login.js';

chai.use(pgAuthsimChai);

describe('example extension: audit_log', () => {
  let cluster: TestCluster;
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'audit-')); });
  afterEach(async () => { await cluster?.close(); rmSync(dir, { recursive: true, force: true }); });

  it('writes exactly one line per hook call, to the log and to audit_log.file', async () => {
    const file = path.join(dir, 'audit.log');
    cluster = await TestCluster.start({
      postgresqlConf: { ssl: true, 'audit_log.file': file },
      hba: 'host all all 127.0.0.1/32 scram-sha-256\nhost all nobody 127.0.0.1/32 reject',
      roles: `CREATE ROLE bob LOGIN PASSWORD 'pw';`,
      extensions: [auditLog],
    });
    const run = async (user: string, pw: string | null, ssl: boolean) => {
      const c = WireClient.memory(cluster.server);
      await login(c, user, pw, 'postgres', { ssl });
      c.end();
      await cluster.idle();
    };
    await run('bob', 'pw', true);
    await run('bob', 'bad', false);
    await run('bob', null, true);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).to.have.length(3);
    expect(lines.map((l) => l.replace(/^\S+ pid=\d+ /, ''))).to.deep.equal([
      'status=OK user=bob database=postgres host=127.0.0.1 ssl=on hba=scram-sha-256:1 application_name=',
      'status=ERROR user=bob database=postgres host=127.0.0.1 ssl=off hba=scram-sha-256:1 application_name=',
      'status=EOF user=bob database=postgres host=127.0.0.1 ssl=on hba=scram-sha-256:1 application_name=',
    ]);
    expect(cluster.trace.log('').match(/^LOG: {2}audit: /gm)).to.have.length(3);
    expect(cluster.trace).to.have.hookCalls(['OK/ssl', 'ERROR/plain', 'EOF/ssl']);
  });
});
