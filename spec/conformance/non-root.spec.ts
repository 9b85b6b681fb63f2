/**
 * The conformance kit as an ordinary user, as hook authors run it on their
 * own machines: PostgreSQL then runs as that user (no runuser, no chown),
 * and only a root invocation switches to the `postgres` OS user.
 *
 * As root, spec/support/non-root.ts makes a throwaway account with its own
 * copy of the built tree; as anyone else the invoking user is that account.
 * Either way the commands below genuinely run without root.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { PG15_BIN } from '../../src/conformance/real-server.js';
import { nonRootTree, type NonRootTree } from '../support/non-root.js';

/** Starts RealPostgres and the specs' RealPg, and reports who owns each postmaster. */
const OWNER_SCRIPT = `
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RealPostgres } from './dist/src/conformance/real-server.js';
import { RealPg } from './dist/spec/support/real-pg.js';
const uidOf = (dataDir) => {
  const pid = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\\n')[0];
  return Number(/^Uid:\\s+(\\d+)/m.exec(readFileSync('/proc/' + pid + '/status', 'utf8'))[1]);
};
const out = { self: process.getuid() };
const pg = await RealPostgres.start({ major: 15, hba: 'host all all 127.0.0.1/32 trust', rolesSql: 'CREATE ROLE test LOGIN;' });
try {
  out.realPostgres = { uid: uidOf(pg.dataDir), roles: await pg.sql("SELECT rolname FROM pg_roles WHERE rolname = 'test'") };
} finally { await pg.stop(); }
const spec = await RealPg.start({ hba: 'host all all 127.0.0.1/32 trust', setupSql: 'CREATE ROLE test LOGIN;', ssl: true });
try {
  out.realPg = { uid: uidOf(spec.data), ssl: (await spec.sql('SHOW ssl')).trim() };
} finally { await spec.stop(); }
console.log(JSON.stringify(out));
`;

describe('conformance as an ordinary (non-root) user', function () {
  this.timeout(180_000);
  let tree: NonRootTree;

  before(function () {
    if (!existsSync(`${PG15_BIN}/postgres`)) this.skip(); // no PostgreSQL 15 to compare with
    tree = nonRootTree();
  });
  after(() => tree?.dispose());

  it('runs the account without root', () => {
    expect(tree.uid).to.not.equal(0);
  });

  it('starts RealPostgres and the specs\' RealPg as that account, TLS key and all', async () => {
    const r = await tree.node(['--input-type=module', '-e', OWNER_SCRIPT]);
    expect(r.stderr, r.stderr).to.not.include('must run as root');
    expect(r.exitCode, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { self: number; realPostgres: { uid: number; roles: string }; realPg: { uid: number; ssl: string } };
    expect(out.self).to.equal(tree.uid);
    expect(out.realPostgres).to.deep.equal({ uid: tree.uid, roles: 'test' });
    expect(out.realPg).to.deep.equal({ uid: tree.uid, ssl: 'on' });
  });

  it('passes `pg-authsim conformance --versions 15` on a hostssl grid (every sslmode x right/wrong/no password)', async () => {
    const r = await tree.node(['dist/src/cli.js', 'conformance', '--versions', '15', '--clients', 'psql', '--filter', 'hostssl-scram-sha-256/ssl=on/test/', '--format', 'json']);
    expect(r.stderr).to.not.include('must run as root');
    const report = JSON.parse(r.stdout) as { versions: Array<{ cases: number; agreeing: number }>; differences: unknown[]; errors: unknown[] };
    expect(report.errors, r.stdout).to.deep.equal([]);
    expect(report.differences, r.stdout).to.deep.equal([]);
    expect(report.versions).to.deep.equal([{ ...report.versions[0], cases: 18, agreeing: 18 }]);
    expect(r.exitCode).to.equal(0);
  });
});
