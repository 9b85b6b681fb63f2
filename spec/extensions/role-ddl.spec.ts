/**
 * Role DDL from sessions (RENAME TO included) and contrib passwordcheck, statement by statement against a real
 * PostgreSQL 15 with passwordcheck.so preloaded: the same errors (message, SQLSTATE, DETAIL),
 * the same NOTICEs, and afterwards the same pg_authid (OIDs included, as a fresh cluster hands
 * them out, failed statements that got as far as an OID included).
 */
import { expect } from 'chai';
import pg from 'pg';
import { TestCluster } from '../../src/testing/index.js';
import { encryptPassword, md5Secret } from '../../src/auth/secrets.js';
import { SeededRandom } from '../../src/random.js';
import { RealPg, BOOT_USER } from '../support/real-pg.js';
import { runUtility } from '../support/utility.js';

const SCRAM_OF_OWN_NAME = encryptPassword('scram-sha-256', 'p6', 'p6', new SeededRandom(3));

/** [who runs it, statement]. `boot` is the bootstrap superuser on both sides. */
const STATEMENTS: Array<[string, string]> = [
  ['boot', 'CREATE ROLE cr CREATEROLE'],
  ['boot', 'CREATE ROLE plain LOGIN'],
  ['boot', 'CREATE ROLE su SUPERUSER'],
  ['boot', "CREATE ROLE p1 PASSWORD 'short'"],
  ['boot', "CREATE ROLE p2 PASSWORD 'abcdefghij'"],
  ['boot', "CREATE ROLE p3 PASSWORD 'xxp3xxxx1'"],
  ['boot', "CREATE ROLE p4 PASSWORD '12345678'"],
  ['boot', `CREATE ROLE p5 PASSWORD '${md5Secret('p5', 'p5')}'`],
  ['boot', `CREATE ROLE p6 PASSWORD '${SCRAM_OF_OWN_NAME}'`],
  ['boot', "CREATE ROLE p7 PASSWORD 'md5a3556571e93b0d20722ba62be61e8c2d'"],
  ['boot', "CREATE ROLE p8 LOGIN PASSWORD 'Secret-123' VALID UNTIL '2030-01-01 00:00:00+00'"],
  ['boot', "ALTER ROLE p8 PASSWORD 'p8p8p8p8p8x'"],
  ['boot', 'ALTER ROLE p8 PASSWORD NULL'],
  ['boot', "CREATE ROLE p9 PASSWORD ''"],
  ['boot', "CREATE ROLE p10 PASSWORD 'ünïcode1'"],
  ['boot', 'CREATE ROLE x IN ROLE nosuch'],
  ['boot', 'CREATE ROLE y'],
  ['boot', 'CREATE ROLE pg_x'],
  ['boot', 'CREATE ROLE cr'],
  ['boot', 'CREATE ROLE z CONNECTION LIMIT -2'],
  ['boot', "CREATE ROLE z VALID UNTIL 'junk'"],
  ['boot', 'CREATE ROLE z SYSID 3 LOGIN LOGIN'],
  ['boot', 'CREATE ROLE z SYSID 3 IN ROLE y'],
  ['boot', 'CREATE ROLE z2 SYSID 1 SYSID 2 PASSWORD NULL PASSWORD NULL'],
  ['boot', 'CREATE ROLE w ROLE z ADMIN y'],
  ['boot', 'CREATE ROLE v IN ROLE w ROLE w'],
  ['boot', 'ALTER ROLE nosuch LOGIN'],
  ['boot', 'ALTER ROLE z CONNECTION LIMIT 5 NOINHERIT CREATEDB'],
  ['boot', 'DROP ROLE IF EXISTS nosuch, w'],
  ['boot', 'DROP ROLE nosuch'],
  ['boot', 'DROP ROLE current_user'],
  ['boot', 'DROP ROLE boot'],
  ['cr', 'CREATE ROLE q SUPERUSER'],
  ['cr', 'CREATE ROLE q REPLICATION'],
  ['cr', 'CREATE ROLE q BYPASSRLS'],
  ['cr', 'CREATE ROLE q LOGIN'],
  ['cr', "ALTER ROLE su PASSWORD 'abc12345x'"],
  ['cr', 'ALTER ROLE q BYPASSRLS'],
  ['cr', 'ALTER ROLE q CREATEDB'],
  ['cr', 'DROP ROLE su'],
  ['cr', 'DROP ROLE q'],
  ['plain', 'CREATE ROLE q2'],
  ['plain', "ALTER ROLE plain PASSWORD 'abcd1234y'"],
  ['plain', "ALTER ROLE current_user PASSWORD 'abcd1234z'"],
  ['plain', 'ALTER ROLE plain NOLOGIN'],
  ['plain', "ALTER ROLE cr PASSWORD 'abcd1234y'"],
  ['plain', 'DROP ROLE y'],
  ['boot', 'ALTER ROLE y RENAME TO cr'],
  ['boot', 'ALTER ROLE boot RENAME TO b2'],
  ['boot', 'ALTER ROLE y RENAME TO pg_y'],
  ['boot', 'ALTER ROLE pg_monitor RENAME TO mon'],
  ['boot', 'ALTER ROLE nosuch RENAME TO n2'],
  ['boot', 'ALTER ROLE p7 RENAME TO p7b'],
  ['boot', 'ALTER ROLE y RENAME TO y2'],
  ['cr', 'ALTER ROLE su RENAME TO su2'],
  ['cr', 'ALTER ROLE y2 RENAME TO y3'],
  ['cr', 'ALTER ROLE cr RENAME TO cr2'],
  ['plain', 'ALTER ROLE y3 RENAME TO y4'],
];

interface Outcome { error: string | null; notices: string[] }

const describeError = (e: { severity?: string; code?: string; sqlstate?: string; message: string; detail?: string; hint?: string }) =>
  `${e.code ?? e.sqlstate} ${e.message}${e.detail ? ` / DETAIL: ${e.detail}` : ''}${e.hint ? ` / HINT: ${e.hint}` : ''}`;

const CATALOG_QUERY = 'SELECT oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, rolpassword IS NULL AS nopw, rolvaliduntil FROM pg_authid ORDER BY oid';

describe('role DDL and passwordcheck vs PostgreSQL 15 (passwordcheck.so)', function () {
  this.timeout(120_000);
  let real: RealPg;
  let cluster: TestCluster;
  const realOutcomes: Outcome[] = [];
  const simOutcomes: Outcome[] = [];
  let realCatalog: string[] = [];

  before(async () => {
    real = await RealPg.start({
      hba: `host all ${BOOT_USER} 127.0.0.1/32 trust`,
      setupSql: 'SELECT 1;',
      ssl: false,
      settings: { shared_preload_libraries: "'passwordcheck'" },
    });
    const client = new pg.Client({ host: '127.0.0.1', port: real.port, user: BOOT_USER, database: 'postgres' });
    await client.connect();
    let notices: string[] = [];
    client.on('notice', (n) => { notices.push(`${n.severity} ${n.code} ${n.message}`); });
    for (const [who, sql] of STATEMENTS) {
      notices = [];
      let error: string | null = null;
      if (who !== 'boot') await client.query(`SET ROLE ${who}`);
      try {
        await client.query(sql);
      } catch (e) {
        error = describeError(e as { code: string; message: string });
      }
      if (who !== 'boot') await client.query('RESET ROLE');
      realOutcomes.push({ error, notices });
    }
    const rows = await client.query(CATALOG_QUERY);
    realCatalog = rows.rows.map((r) => JSON.stringify({ ...r, oid: Number(r.oid), rolvaliduntil: r.rolvaliduntil === null ? null : new Date(r.rolvaliduntil).getTime() }));
    await client.end();

    cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 trust', postgresqlConf: { shared_preload_libraries: 'passwordcheck' }, bootstrapSuperuser: 'boot' });
    for (const [who, sql] of STATEMENTS) {
      const r = await runUtility(cluster.server, sql, who, {}, 'boot');
      simOutcomes.push({
        error: r.error ? describeError(r.error) : null,
        notices: r.notices.map((n) => `${n.severity} ${n.sqlstate} ${n.message}`),
      });
    }
  });
  after(async () => {
    await real?.stop();
    await cluster?.close();
  });

  STATEMENTS.forEach(([who, sql], i) => {
    it(`${who}: ${sql}`, () => {
      expect(simOutcomes[i]).to.deep.equal(realOutcomes[i]);
    });
  });

  it('covers refusals and notices on the real server (not a run of empty outcomes)', () => {
    expect(realOutcomes.filter((o) => o.error !== null)).to.have.length.at.least(25);
    expect(realOutcomes.flatMap((o) => o.notices)).to.include.members([
      'NOTICE 00000 SYSID can no longer be specified', 'NOTICE 00000 role "nosuch" does not exist, skipping',
    ]);
    expect(realOutcomes[3]!.error).to.equal('22023 password is too short');
  });

  it('leaves the same pg_authid: OIDs, attributes, passwords set or not, VALID UNTIL', () => {
    const sim = cluster.server.roles.roles().map((r) => JSON.stringify({
      oid: r.oid, rolname: r.name, rolsuper: r.superuser, rolinherit: r.inherit, rolcreaterole: r.createrole,
      rolcreatedb: r.createdb, rolcanlogin: r.canLogin, rolreplication: r.replication, rolbypassrls: r.bypassrls,
      rolconnlimit: r.connectionLimit, nopw: r.secret === null, rolvaliduntil: r.validUntil,
    }));
    expect(sim).to.deep.equal(realCatalog);
  });
});
