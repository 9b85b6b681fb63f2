/**
 * The extension context beyond ClientAuthentication_hook: the role catalog, check_password_hook
 * with PostgreSQL's arguments (roles file and sessions alike), the elog/ereport API and its
 * routing, emit_log_hook, and the SQL registry an extension defines objects in.
 */
import * as chai from 'chai';
import { expect } from 'chai';
import { TestCluster, pgAuthsimChai } from '../../src/testing/index.js';
import type { ExtensionContext, ExtensionModule } from '../../src/extensions/extension.js';
import { PASSWORD_TYPE_MD5, PASSWORD_TYPE_PLAINTEXT, PASSWORD_TYPE_SCRAM_SHA_256, type ErrorData } from '../../src/hooks/hook.js';
import { PgError } from '../../src/errors.js';
import { ERROR, LOG } from '../../src/log/elevel.js';
import { WireClient } from '../support/wire-client.js';
import { login } from '../support/raw-login.js';
import { runUtility } from '../support/utility.js';
import { encryptPassword } from '../../src/auth/secrets.js';
import { SeededRandom } from '../../src/random.js';

chai.use(pgAuthsimChai);

const SCRAM = encryptPassword('scram-sha-256', 'b', 'some password', new SeededRandom(5));

/** An extension that hands its context to the test. */
function capture(into: { ctx?: ExtensionContext }, init: (ctx: ExtensionContext) => void = () => {}): ExtensionModule {
  return { name: 'probe', _PG_init(ctx) { into.ctx = ctx; init(ctx); } };
}

async function fails(f: () => unknown): Promise<PgError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof PgError) return e;
    throw e;
  }
  throw new Error('expected a PgError');
}

describe('extension context', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => { await cluster?.close(); cluster = undefined; });

  describe('role catalog', () => {
    it('has the bootstrap superuser as OID 10 under its configured name, and the roles file from 16384', async () => {
      const got: { ctx?: ExtensionContext } = {};
      cluster = await TestCluster.start({
        hba: 'host all all 127.0.0.1/32 trust',
        roles: "CREATE ROLE grp; CREATE ROLE alice LOGIN CREATEROLE IN ROLE grp VALID UNTIL '2030-01-01 00:00:00+00' CONNECTION LIMIT 3;",
        bootstrapSuperuser: 'admin',
        extensions: [capture(got)],
      });
      const ctx = got.ctx!;
      expect(ctx.BOOTSTRAP_SUPERUSERID).to.equal(10);
      expect(ctx.get_role_oid('admin', false)).to.equal(10);
      expect(ctx.get_role_oid('grp', false)).to.equal(16384);
      expect(ctx.get_role_oid('alice', false)).to.equal(16385);
      expect(ctx.get_role_oid('pg_monitor', false)).to.equal(3373);
      expect(ctx.get_role_oid('nobody', true)).to.equal(0);
      const missing = await fails(() => ctx.get_role_oid('nobody', false));
      expect(missing.fields).to.deep.equal({ severity: 'ERROR', sqlstate: '42704', message: 'role "nobody" does not exist' });
      expect(ctx.GetUserNameFromId(16385, false)).to.equal('alice');
      expect(ctx.GetUserNameFromId(99999, true)).to.equal(null);
      expect((await fails(() => ctx.GetUserNameFromId(99999, false))).message).to.equal('invalid role OID: 99999');
      expect(ctx.superuser_arg(10)).to.equal(true);
      expect(ctx.superuser_arg(16385)).to.equal(false);
      expect(ctx.superuser_arg(99999)).to.equal(false);
      expect(ctx.is_member_of_role(16385, 16384)).to.equal(true);
      expect(ctx.is_member_of_role(16384, 16385)).to.equal(false);
      expect(ctx.getRoleByOid(16385)).to.deep.include({
        rolname: 'alice', rolsuper: false, rolcreaterole: true, rolcanlogin: true, rolconnlimit: 3,
        rolvaliduntil: Date.UTC(2030, 0, 1), rolpassword: null,
      });
      expect(ctx.getRoleByOid(16385)!.memberof).to.deep.equal([16384]);
      expect(ctx.getRoleByName('admin')).to.deep.include({ oid: 10, rolsuper: true, rolcanlogin: true, rolreplication: true, rolbypassrls: true });
      expect(ctx.listRoles().map((r) => r.oid).slice(0, 2)).to.deep.equal([10, 3373]);
    });

    it('defaults the bootstrap superuser to postgres; a roles file that creates it describes it', async () => {
      const got: { ctx?: ExtensionContext } = {};
      cluster = await TestCluster.start({
        hba: 'host all all 127.0.0.1/32 trust',
        roles: "CREATE ROLE test LOGIN; CREATE ROLE postgres SUPERUSER LOGIN PASSWORD 'secret';",
        extensions: [capture(got)],
      });
      expect(got.ctx!.get_role_oid('postgres', false)).to.equal(10);
      expect(got.ctx!.getRoleByOid(10)!.rolpassword).to.match(/^SCRAM-SHA-256\$/);
      expect(got.ctx!.get_role_oid('test', false)).to.equal(16384);
    });

    it('GetUserId() is the session role once logged in, InvalidOid while authenticating', async () => {
      const seen: Array<[string, number, boolean]> = [];
      const got: { ctx?: ExtensionContext } = {};
      cluster = await TestCluster.start({
        hba: 'host all all 127.0.0.1/32 trust',
        roles: 'CREATE ROLE bob LOGIN;',
        extensions: [capture(got, (ctx) => {
          ctx.hooks.ClientAuthentication_hook = (port) => { seen.push(['auth', ctx.GetUserId(), ctx.superuser()]); void port; };
        })],
      });
      const c = WireClient.memory(cluster.server);
      await login(c, 'bob', null, 'postgres');
      c.end();
      await cluster.idle();
      expect(seen).to.deep.equal([['auth', 0, false]]);
    });
  });

  describe('check_password_hook', () => {
    type Call = [string, string, number, number, boolean];
    function recorder(calls: Call[], refuse?: string): ExtensionModule {
      return {
        name: 'recorder',
        _PG_init(ctx) {
          const prev = ctx.hooks.check_password_hook;
          ctx.hooks.check_password_hook = (u, p, t, v, vnull) => {
            prev?.(u, p, t, v, vnull);
            calls.push([u, p, t, v, vnull]);
            if (refuse !== undefined && p === refuse) ctx.ereport('ERROR', ctx.errcode('28P01'), ctx.errmsg('refused by recorder'));
          };
        },
      };
    }

    it('sees every PASSWORD of the roles file, before encryption, with the password type and VALID UNTIL', async () => {
      const calls: Call[] = [];
      cluster = await TestCluster.start({
        hba: 'host all all 127.0.0.1/32 trust',
        roles: [
          "CREATE ROLE a LOGIN PASSWORD 'plain-1';",
          "CREATE ROLE b PASSWORD 'md5a3556571e93b0d20722ba62be61e8c2d' VALID UNTIL '2031-02-03 00:00:00+00';",
          'CREATE ROLE c PASSWORD NULL;',
          `ALTER ROLE b PASSWORD '${SCRAM}';`,
          'CREATE ROLE d;',
        ].join('\n'),
        extensions: [recorder(calls)],
      });
      expect(calls).to.deep.equal([
        ['a', 'plain-1', PASSWORD_TYPE_PLAINTEXT, 0, true],
        ['b', 'md5a3556571e93b0d20722ba62be61e8c2d', PASSWORD_TYPE_MD5, Date.UTC(2031, 1, 3), false],
        // ALTER ROLE without VALID UNTIL hands the hook the role's current one.
        ['b', SCRAM, PASSWORD_TYPE_SCRAM_SHA_256, Date.UTC(2031, 1, 3), false],
      ]);
      const traced = cluster.trace.events.filter((e) => e.type === 'hook-entered');
      expect(traced.map((e) => e.type === 'hook-entered' && [e.slot, e.hook, e.args.username])).to.deep.equal([
        ['check_password_hook', 'recorder', 'a'], ['check_password_hook', 'recorder', 'b'], ['check_password_hook', 'recorder', 'b'],
      ]);
    });

    it('a refusal in the roles file stops the server like any roles-file error', async () => {
      const err = await TestCluster.start({
        hba: 'host all all 127.0.0.1/32 trust',
        roles: "CREATE ROLE a LOGIN;\nCREATE ROLE b LOGIN\n  PASSWORD 'weak';",
        postgresqlConf: { shared_preload_libraries: 'passwordcheck' },
      }).then(() => null, (e: unknown) => e as { fatal: PgError });
      expect(err?.fatal.fields).to.deep.include({ severity: 'FATAL', sqlstate: '22023', message: 'password is too short' });
      expect(err?.fatal.context).to.match(/^line 2 of roles file ".*roles\.sql"$/);
    });

    it('is called from session DDL the same way, and its error fails the statement', async () => {
      const calls: Call[] = [];
      cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 trust', extensions: [recorder(calls, 'nope-nope-1')] });
      const ok = await runUtility(cluster.server, "CREATE USER s PASSWORD 'fine-pass-1' VALID UNTIL 'infinity'", 'postgres');
      expect(ok.result).to.deep.equal({ tag: 'CREATE ROLE' });
      const refused = await runUtility(cluster.server, "ALTER USER s PASSWORD 'nope-nope-1'", 'postgres');
      expect(refused.error).to.deep.equal({ severity: 'ERROR', sqlstate: '28P01', message: 'refused by recorder' });
      expect(calls).to.deep.equal([
        ['s', 'fine-pass-1', PASSWORD_TYPE_PLAINTEXT, Infinity, false],
        ['s', 'nope-nope-1', PASSWORD_TYPE_PLAINTEXT, Infinity, false],
      ]);
      // The refused ALTER changed nothing.
      expect(cluster.server.roles.get('s')!.secret).to.match(/^SCRAM-SHA-256\$/);
    });

    it('the session\'s password_encryption decides how the password is stored', async () => {
      cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 trust' });
      await runUtility(cluster.server, "CREATE ROLE m PASSWORD 'pw-md5-1'", 'postgres', { password_encryption: 'md5' });
      expect(cluster.server.roles.get('m')!.secret).to.match(/^md5[0-9a-f]{32}$/);
    });
  });

  describe('elog / ereport', () => {
    async function withCtx(conf: Record<string, string | number | boolean> = {}) {
      const got: { ctx?: ExtensionContext } = {};
      cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 trust', postgresqlConf: conf, extensions: [capture(got)] });
      return got.ctx!;
    }

    it('ERROR and above throw with C\'s default SQLSTATEs; errcode/errdetail/errhint fill the fields', async () => {
      const ctx = await withCtx();
      expect((await fails(() => ctx.ereport('ERROR', ctx.errmsg('plain error')))).fields)
        .to.deep.equal({ severity: 'ERROR', sqlstate: 'XX000', message: 'plain error' });
      expect((await fails(() => ctx.ereport('FATAL', ctx.errcode('28000'), ctx.errmsg('role "%s" is banned', 'bob'), ctx.errdetail('After %d failures.', 3), ctx.errhint('Ask an admin.')))).fields)
        .to.deep.equal({ severity: 'FATAL', sqlstate: '28000', message: 'role "bob" is banned', detail: 'After 3 failures.', hint: 'Ask an admin.' });
      expect((await fails(() => ctx.elog('PANIC', 'cache lookup failed for role %u', 42))).fields)
        .to.deep.equal({ severity: 'PANIC', sqlstate: 'XX000', message: 'cache lookup failed for role 42' });
      expect((await fails(() => ctx.elog(ERROR, 'numeric level'))).severity).to.equal('ERROR');
      expect(ctx.error({ message: 'no code' }).fields).to.deep.equal({ severity: 'ERROR', sqlstate: 'XX000', message: 'no code' });
    });

    it('log_min_messages decides what the postmaster log gets; WARNING defaults to 01000, LOG to 00000', async () => {
      const ctx = await withCtx({ log_min_messages: 'info' });
      ctx.elog('DEBUG1', 'not logged');
      ctx.ereport('NOTICE', ctx.errmsg('a notice'));
      ctx.elog('WARNING', 'careful %s', 'now');
      ctx.elog(LOG, 'as before', { detail: 'legacy extra' });
      ctx.elog('INFO', '100% literal without arguments');
      const log = cluster!.trace.log('%e ');
      expect(log).to.equal([
        '00000 NOTICE:  a notice', '01000 WARNING:  careful now', '00000 LOG:  as before', '00000 DETAIL:  legacy extra',
        '00000 INFO:  100% literal without arguments', '',
      ].join('\n'));
    });

    it('with log_min_messages = fatal, LOG lines are still not written (LOG ranks below FATAL)', async () => {
      const ctx = await withCtx({ log_min_messages: 'fatal' });
      ctx.elog('LOG', 'hidden');
      ctx.elog('WARNING', 'hidden too');
      expect(cluster!.trace.log('')).to.equal('');
      expect(cluster!.trace.events.filter((e) => e.type === 'log').map((e) => e.type === 'log' && e.toLog)).to.deep.equal([false, false]);
    });

    it('a backend\'s NOTICE goes to the client after authentication only; LOG_SERVER_ONLY never', async () => {
      const got: { ctx?: ExtensionContext } = {};
      cluster = await TestCluster.start({
        hba: 'host all all 127.0.0.1/32 trust', roles: 'CREATE ROLE bob LOGIN;',
        extensions: [capture(got, (ctx) => {
          ctx.hooks.ClientAuthentication_hook = () => {
            ctx.ereport('WARNING', ctx.errmsg('during authentication'));
          };
        })],
      });
      const c = WireClient.memory(cluster.server);
      const seen = await login(c, 'bob', null, 'postgres');
      c.end();
      await cluster.idle();
      expect(JSON.stringify(seen)).to.not.include('during authentication');
      const ev = cluster.trace.events.find((e) => e.type === 'log' && e.message === 'during authentication');
      expect(ev).to.deep.include({ toLog: true, toClient: false, severity: 'WARNING', sqlstate: '01000' });
    });
  });

  describe('emit_log_hook', () => {
    it('sees every record before it is written; output_to_server = false keeps it out of the log but not out of the events', async () => {
      const seen: Array<Pick<ErrorData, 'elevel' | 'severity' | 'sqlerrcode' | 'message' | 'output_to_client'>> = [];
      const hider: ExtensionModule = {
        name: 'hider',
        _PG_init(ctx) {
          ctx.hooks.emit_log_hook = (edata) => {
            seen.push({ elevel: edata.elevel, severity: edata.severity, sqlerrcode: edata.sqlerrcode, message: edata.message, output_to_client: edata.output_to_client });
            if (edata.message.includes('password')) edata.output_to_server = false;
            if (edata.message.startsWith('connection received')) edata.message = edata.message.replace(/port=\d+/, 'port=X');
          };
        },
      };
      cluster = await TestCluster.start({
        hba: 'host all all 127.0.0.1/32 scram-sha-256',
        postgresqlConf: { log_connections: true },
        roles: "CREATE ROLE bob LOGIN PASSWORD 'right';",
        extensions: [hider],
      });
      const c = WireClient.memory(cluster.server);
      await login(c, 'bob', 'wrong', 'postgres');
      c.end();
      await cluster.idle();
      const received = cluster.trace.events.find((e) => e.type === 'connection-received');
      const port = received?.type === 'connection-received' ? received.remotePort : null;
      expect(seen.map((s) => [s.elevel, s.severity, s.sqlerrcode, s.message, s.output_to_client])).to.deep.equal([
        [LOG, 'LOG', '00000', `connection received: host=127.0.0.1 port=${port}`, false],
        [22, 'FATAL', '28P01', 'password authentication failed for user "bob"', true],
      ]);
      expect(cluster.trace.log('')).to.equal('LOG:  connection received: host=127.0.0.1 port=X\n');
      // The FATAL still happened and still reached the client: only the log line is hidden.
      expect(cluster.trace.errorsSent().map((e) => e.message)).to.deep.equal(['password authentication failed for user "bob"']);
      const fatal = cluster.trace.events.find((e) => e.type === 'error');
      expect(fatal?.hiddenBy).to.deep.equal([{ hook: 'hider', message: 'password authentication failed for user "bob"' }]);
    });
  });

  it('emit_log_hook can read debug_query_string() for the statement that failed', async () => {
    const seen: Array<string | null> = [];
    cluster = await TestCluster.start({
      hba: 'host all all 127.0.0.1/32 trust', roles: 'CREATE ROLE bob LOGIN;',
      extensions: [{ name: 'q', _PG_init(ctx) {
        ctx.hooks.emit_log_hook = (edata) => { if (edata.elevel >= ERROR) seen.push(ctx.debug_query_string()); };
      } }],
    });
    const psql = await cluster.psql('user=bob dbname=postgres sslmode=disable', { command: "select 'secret' from nowhere" });
    await cluster.idle();
    expect(psql.exitCode).to.equal(1);
    expect(seen).to.deep.equal(["select 'secret' from nowhere"]);
  });

  describe('SQL objects', () => {
    it('ctx.sql is the server\'s registry: a function defined in _PG_init is there, superuser-only by default', async () => {
      cluster = await TestCluster.start({
        hba: 'host all all 127.0.0.1/32 trust',
        extensions: [{ name: 'counter', _PG_init(ctx) {
          const { ptr } = ctx.ShmemInitStruct('counter', () => ({ n: 0 }));
          ctx.sql.defineFunction({ name: 'counter_next', args: [], returns: 'int4', call: () => ++ptr.n });
        } }],
      });
      const [def] = cluster.server.sql.lookupFunctions('counter_next');
      expect(def?.execute ?? 'superuser').to.equal('superuser');
      expect(cluster.server.sql.lookupFunctions('pg_reload_conf')).to.have.length(1);
      expect(cluster.server.sql.lookupUtility('CreateRoleStmt')).to.be.a('function');
    });
  });
});
