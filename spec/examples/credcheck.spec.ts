/**
 * examples/extensions/credcheck.ts on its own, in-process on virtual time: the ban and the
 * finding it makes plain (0.5 per failure is right only for a host line under prefer/allow),
 * auth_delay_ms, the superuser recovery by reload, the password policy at role creation, and
 * separate state per server. spec/examples/extension-differential.spec.ts compares it with the
 * C original.
 */
import * as chai from 'chai';
import { expect } from 'chai';
import { TestCluster, pgAuthsimChai } from 'pg-authsim/testing';
import { credcheck } from '../../examples/extensions/credcheck.js';

chai.use(pgAuthsimChai);

const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';\nALTER ROLE postgres PASSWORD 'secret';\n";
const BANNED = "FATAL:  rejecting connection, user 'test' has been banned";

function start(hba: string, conf: Record<string, string | number | boolean> = {}, roles = ROLES): Promise<TestCluster> {
  return TestCluster.start({
    postgresqlConf: { ssl: true, 'credcheck.max_auth_failure': 2, ...conf },
    hba, roles, extensions: [credcheck],
  });
}

/** Wrong-password psql runs until the ban message shows; how many it took (null: never within `max`). */
async function loginsUntilBanned(cluster: TestCluster, conninfo: string, max = 6): Promise<number | null> {
  for (let i = 1; i <= max; i++) {
    const r = await cluster.psql(conninfo, { password: 'wrong' });
    await cluster.idle();
    if (r.stderr.includes(BANNED)) return i;
  }
  return null;
}

describe('example extension: credcheck', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  const HOST = 'host all all 127.0.0.1/32 scram-sha-256';
  const HOSTSSL = 'hostssl all all 127.0.0.1/32 scram-sha-256';
  // What real PostgreSQL 15 with credcheck 2.8.0 did (spec/data/extensions/credcheck.pg15.json): logins until banned.
  const measured: Array<[string, string, number | null]> = [
    [HOST, 'prefer', 2], [HOST, 'allow', 2], [HOST, 'require', 4], [HOST, 'disable', 4],
    [HOSTSSL, 'prefer', 4], [HOSTSSL, 'allow', 4], [HOSTSSL, 'require', 4], [HOSTSSL, 'disable', null],
  ];
  for (const [hba, sslmode, logins] of measured) {
    it(`max_auth_failure = 2 bans ${logins === null ? 'never' : `after ${logins} wrong logins`} on "${hba.split(' ')[0]}" with sslmode=${sslmode}`, async () => {
      cluster = await start(hba);
      expect(await loginsUntilBanned(cluster, `user=test dbname=postgres sslmode=${sslmode}`)).to.equal(logins);
    });
  }

  it('refuses the right password once banned, lets other roles in, and never counts unknown roles', async () => {
    cluster = await start(HOST);
    expect(await loginsUntilBanned(cluster, 'user=test dbname=postgres sslmode=prefer')).to.equal(2);
    const right = await cluster.psql('user=test dbname=postgres sslmode=require', { password: 'secret' });
    expect(right.stderr).to.include(BANNED);
    expect((await cluster.psql('user=postgres dbname=postgres sslmode=require', { password: 'secret' })).exitCode).to.equal(0);
    for (let i = 0; i < 6; i++) await cluster.psql('user=ghost dbname=postgres sslmode=require', { password: 'wrong' });
    await cluster.idle();
    expect(cluster.trace.errorsSent().filter((e) => e.message.includes('ghost')).map((e) => e.message))
      .to.deep.equal(Array(6).fill('password authentication failed for user "ghost"'));
  });

  it('ends a banned login in the hook with FATAL XX000, so a hook installed before it is not called', async () => {
    // A probe loaded first is credcheck's "previous hook": credcheck calls it last, after its own work.
    const probe = { name: 'probe', _PG_init(ctx: Parameters<typeof credcheck._PG_init>[0]) {
      const prev = ctx.hooks.ClientAuthentication_hook;
      ctx.hooks.ClientAuthentication_hook = async (port, status) => { if (prev) await prev(port, status); };
    } };
    cluster = await TestCluster.start({
      postgresqlConf: { ssl: true, 'credcheck.max_auth_failure': 2 }, hba: HOST, roles: ROLES, extensions: [probe, credcheck],
    });
    expect(await loginsUntilBanned(cluster, 'user=test dbname=postgres sslmode=require')).to.equal(4);
    expect(cluster.trace).to.have.hookCalls(['ERROR/ssl', 'ERROR/ssl', 'ERROR/ssl'], 'probe');
    expect(cluster.trace).to.have.hookCalls(['ERROR/ssl', 'ERROR/ssl', 'ERROR/ssl', 'ERROR/ssl'], 'credcheck');
    const sent = cluster.trace.errorsSent().at(-1)!;
    expect({ severity: sent.severity, sqlstate: sent.sqlstate, message: sent.message })
      .to.deep.equal({ severity: 'FATAL', sqlstate: 'XX000', message: "rejecting connection, user 'test' has been banned" });
  });

  it('sleeps credcheck.auth_delay_ms before a failure or an EOF, not before a success', async () => {
    cluster = await start(HOST, { 'credcheck.max_auth_failure': 0, 'credcheck.auth_delay_ms': 1500 });
    const timed = async (password: string | undefined) => {
      const t0 = cluster.clock.now();
      await cluster.psql('user=test dbname=postgres sslmode=require', password === undefined ? {} : { password });
      await cluster.idle();
      return cluster.clock.now() - t0;
    };
    expect(await timed('wrong')).to.be.within(1500, 1600);
    expect(await timed(undefined)).to.be.within(1500, 1600); // psql -w hangs up: STATUS_EOF
    expect(await timed('secret')).to.be.below(100);
  });

  it('lets a banned bootstrap superuser in again once credcheck.reset_superuser is on and the server reloads', async () => {
    cluster = await start(HOST);
    const su = 'user=postgres dbname=postgres sslmode=require';
    for (let i = 0; i < 4; i++) await cluster.psql(su, { password: 'wrong' });
    await cluster.idle();
    expect((await cluster.psql(su, { password: 'secret' })).stderr).to.include("user 'postgres' has been banned");
    cluster.writeFile('postgresql.auto.conf', 'credcheck.reset_superuser = on\n');
    cluster.reload();
    expect((await cluster.psql(su, { password: 'secret' })).exitCode).to.equal(0);
    // The entry is gone: four more failures are needed before the next ban.
    expect(await loginsUntilBanned(cluster, su, 3)).to.equal(null);
  });

  it('applies its password policy to the roles file\'s CREATE ROLE, with credcheck\'s messages (28000)', async () => {
    const refused = async (conf: Record<string, string | number | boolean>, roles: string) => {
      try {
        cluster = await start(HOST, conf, roles);
      } catch (e) {
        return (e as Error).message;
      }
      return 'started';
    };
    expect(await refused({ 'credcheck.password_min_length': 12 }, "CREATE ROLE test LOGIN PASSWORD 'secret';"))
      .to.include('password length should match the configured credcheck.password_min_length (12)');
    expect(await refused({}, "CREATE ROLE test LOGIN PASSWORD 'xtestx';")).to.include('password should not contain username');
    expect(await refused({ 'credcheck.password_min_digit': 2 }, "CREATE ROLE test LOGIN PASSWORD 's3cret';"))
      .to.include('password does not contain the configured credcheck.password_min_digit characters (2)');
    expect(await refused({ 'credcheck.whitelist': 'Test', 'credcheck.password_min_length': 12 }, "CREATE ROLE test LOGIN PASSWORD 'secret';"))
      .to.equal('started');
  });

  it('shows pg_banned_role to everyone with the C columns, resets for superusers, and keeps a reused element\'s old ban date', async () => {
    cluster = await start(HOST, {}, `${ROLES}CREATE ROLE admin SUPERUSER LOGIN PASSWORD 'pw';\nCREATE ROLE reader LOGIN PASSWORD 'pw';\n`);
    const admin = { user: 'admin', password: 'pw', sslmode: 'disable' };
    const reader = { user: 'reader', password: 'pw', sslmode: 'disable' };
    await loginsUntilBanned(cluster, 'user=test dbname=postgres sslmode=require');
    const banned = await cluster.query('SELECT * FROM pg_banned_role', reader);
    // As \\d pg_banned_role shows them on PostgreSQL 15 with credcheck 2.8.0: oid, integer, timestamp without time zone.
    expect(banned.columns.map((c) => `${c.name} ${c.typeOid}`)).to.deep.equal(['roleid 26', 'failure_count 23', 'banned_date 1114']);
    expect(banned.rows.map((r) => [r[0], r[1], r[2] !== null])).to.deep.equal([['16384', '2', true]]);
    const denied = await cluster.query('SELECT pg_banned_role_reset()', reader).then(() => null, (e: Error & { sqlstate: string }) => e);
    expect([denied?.sqlstate, denied?.message]).to.deep.equal(['42501', 'permission denied for function pg_banned_role_reset']);
    expect((await cluster.query("SELECT pg_banned_role_reset('test')", admin)).rows).to.deep.equal([['1']]);
    expect((await cluster.query('SELECT * FROM pg_banned_role', admin)).rows).to.deep.equal([]);
    // The next failure re-uses the freed hash element: count 0 (0.5), the old banned_date still in it.
    await cluster.psql('user=test dbname=postgres sslmode=require', { password: 'wrong' });
    await cluster.idle();
    const after = await cluster.query('SELECT * FROM pg_banned_role', admin);
    expect(after.rows.map((r) => [r[1], r[2]])).to.deep.equal([['0', banned.rows[0]![2]]]);
  });

  it('keeps two servers\' ban counts apart', async () => {
    cluster = await start(HOST);
    const other = await start(HOST);
    try {
      expect(await loginsUntilBanned(cluster, 'user=test dbname=postgres sslmode=prefer')).to.equal(2);
      expect((await other.psql('user=test dbname=postgres sslmode=require', { password: 'secret' })).exitCode).to.equal(0);
    } finally {
      await other.close();
    }
  });
});
