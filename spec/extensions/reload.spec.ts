/**
 * Reload (SIGHUP, pg_reload_conf(), ALTER SYSTEM) against a real PostgreSQL 15: the same edits
 * to pg_hba.conf and postgresql.conf on both sides, the postmaster's log lines compared line
 * for line (data directory paths normalised), and the rules in force afterwards compared by
 * logging in.
 */
import { expect } from 'chai';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import pg from 'pg';
import { TestCluster } from '../../src/testing/index.js';
import { renderServerLog } from '../../src/views/server-log.js';
import { RealPg, BOOT_USER } from '../support/real-pg.js';
import { WireClient } from '../support/wire-client.js';
import { login } from '../support/raw-login.js';
import { runUtility, callFunction } from '../support/utility.js';

const HBA = `host all all 127.0.0.1/32 trust\nlocal all ${BOOT_USER} trust\n`;

describe('reload vs PostgreSQL 15', function () {
  this.timeout(120_000);
  let real: RealPg;
  let cluster: TestCluster;

  before(async () => {
    real = await RealPg.start({
      hba: 'host all all 127.0.0.1/32 trust', setupSql: 'CREATE ROLE bob LOGIN;', ssl: false,
      settings: { shared_preload_libraries: "'auth_delay'" },
    });
    cluster = await TestCluster.start({
      hba: HBA, roles: 'CREATE ROLE bob LOGIN;', bootstrapSuperuser: BOOT_USER,
      postgresqlConf: { shared_preload_libraries: 'auth_delay' },
    });
  });
  after(async () => {
    await real?.stop();
    await cluster?.close();
  });

  const normalise = (lines: string[], dataDir: string) => lines.map((l) => l.split(dataDir).join('$PGDATA'));

  /** The simulator's postmaster lines for one reload. */
  function simReload(run: () => void): string[] {
    const from = cluster.trace.events.length;
    run();
    const events = cluster.trace.events.slice(from).filter((e) => e.connection === 0);
    return renderServerLog(events, { ...cluster.server.settings, logLinePrefix: '' }).trimEnd().split('\n');
  }

  async function realLogin(user: string): Promise<string> {
    const c = new pg.Client({ host: '127.0.0.1', port: real.port, user, database: 'postgres' });
    try {
      await c.connect();
      await c.end();
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  }

  async function simLogin(user: string): Promise<string> {
    const c = WireClient.memory(cluster.server);
    const seen = await login(c, user, null);
    c.end();
    await cluster.idle();
    const err = seen.find((m) => m.name === 'error') as { message?: string } | undefined;
    return err?.message ?? 'ok';
  }

  function bothHba(text: string): void {
    writeFileSync(real.hbaPath, text);
    cluster.writeFile('pg_hba.conf', text);
  }

  function bothConf(line: string): void {
    appendFileSync(path.join(real.data, 'postgresql.conf'), `${line}\n`);
    appendFileSync(path.join(cluster.dataDirectory, 'postgresql.conf'), `${line}\n`);
  }

  it('a valid pg_hba.conf edit: the new rules apply, nothing but the SIGHUP line is logged', async () => {
    bothHba(`host all bob 127.0.0.1/32 reject\nhost all all 127.0.0.1/32 trust\nlocal all ${BOOT_USER} trust\n`);
    const realLines = await real.reload();
    const simLines = simReload(() => { expect(cluster.reload().hbaReloaded).to.equal(true); });
    expect(simLines).to.deep.equal(realLines);
    expect(realLines).to.deep.equal(['LOG:  received SIGHUP, reloading configuration files']);
    const [r, s] = [await realLogin('bob'), await simLogin('bob')];
    expect(s).to.equal(r);
    expect(r).to.equal('pg_hba.conf rejects connection for host "127.0.0.1", user "bob", database "postgres", no encryption');
  });

  it('a broken pg_hba.conf edit: the old rules stay, the errors and "pg_hba.conf was not reloaded" are logged', async () => {
    bothHba(`hostx all all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 trust\nlocal all ${BOOT_USER} trust\n`);
    const realLines = normalise(await real.reload(), real.data);
    const simLines = normalise(simReload(() => { expect(cluster.reload().hbaReloaded).to.equal(false); }), cluster.dataDirectory);
    expect(simLines).to.deep.equal(realLines);
    expect(realLines).to.deep.equal([
      'LOG:  received SIGHUP, reloading configuration files',
      'LOG:  invalid connection type "hostx"',
      'CONTEXT:  line 1 of configuration file "$PGDATA/pg_hba.conf"',
      'LOG:  pg_hba.conf was not reloaded',
    ]);
    // Still the rules of the last good file: bob is rejected.
    expect(await simLogin('bob')).to.equal(await realLogin('bob'));
  });

  it('sighup parameters (built-in and an extension\'s) change and say so', async () => {
    bothHba(HBA);
    bothConf('authentication_timeout = 30s');
    bothConf('auth_delay.milliseconds = 250');
    const realLines = await real.reload();
    const simLines = simReload(() => cluster.reload());
    expect(simLines).to.deep.equal(realLines);
    expect(realLines).to.deep.equal([
      'LOG:  received SIGHUP, reloading configuration files',
      'LOG:  parameter "authentication_timeout" changed to "30s"',
      'LOG:  parameter "auth_delay.milliseconds" changed to "250"',
    ]);
    expect(cluster.server.settings.authenticationTimeoutMs).to.equal(30_000);
    expect(cluster.server.gucs.getNumber('auth_delay.milliseconds')).to.equal(250);
  });

  it('a postmaster parameter cannot change without a restart; the rest of the file still applies', async () => {
    bothConf('max_connections = 50');
    bothConf('log_disconnections = on');
    const realLines = normalise(await real.reload(), real.data);
    const simLines = normalise(simReload(() => cluster.reload()), cluster.dataDirectory);
    expect(simLines).to.deep.equal(realLines);
    expect(realLines).to.deep.equal([
      'LOG:  received SIGHUP, reloading configuration files',
      'LOG:  parameter "max_connections" cannot be changed without restarting the server',
      'LOG:  parameter "log_disconnections" changed to "on"',
      'LOG:  configuration file "$PGDATA/postgresql.conf" contains errors; unaffected changes were applied',
    ]);
    expect(cluster.server.settings.maxConnections).to.equal(100);
    expect(cluster.server.settings.logDisconnections).to.equal(true);
  });

  it('ALTER SYSTEM writes postgresql.auto.conf as PostgreSQL does; pg_reload_conf() applies it', async () => {
    const statements = [
      "ALTER SYSTEM SET authentication_timeout = '45s'",
      "ALTER SYSTEM SET application_name = 'it''s \\ quoted'",
      'ALTER SYSTEM SET auth_delay.milliseconds = 100',
      'ALTER SYSTEM RESET application_name',
      "ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.3'",
      'ALTER SYSTEM SET nosuch_parameter = 1',
      "ALTER SYSTEM SET port = 'x'",
      "ALTER SYSTEM SET authentication_timeout TO DEFAULT",
      "ALTER SYSTEM SET authentication_timeout = 40",
    ];
    const c = new pg.Client({ host: '127.0.0.1', port: real.port, user: BOOT_USER, database: 'postgres' });
    await c.connect();
    const realErrors: Array<string | null> = [];
    for (const sql of statements) realErrors.push(await c.query(sql).then(() => null, (e: { code: string; message: string }) => `${e.code} ${e.message}`));
    const simErrors: Array<string | null> = [];
    for (const sql of statements) {
      const r = await runUtility(cluster.server, sql, BOOT_USER);
      simErrors.push(r.error ? `${r.error.sqlstate} ${r.error.message}` : null);
    }
    expect(simErrors).to.deep.equal(realErrors);
    expect(realErrors.filter((e) => e !== null)).to.have.length(2);
    const autoConf = (dir: string) => readFileSync(path.join(dir, 'postgresql.auto.conf'), 'utf8');
    expect(autoConf(cluster.dataDirectory)).to.equal(autoConf(real.data));

    const offset = real.logOffset();
    await c.query('SELECT pg_reload_conf()');
    await c.end();
    const realLines = normalise(await (async () => { await new Promise((r) => setTimeout(r, 300)); return real.postmasterLogSince(offset); })(), real.data);
    const simLines = normalise(simReload(() => { void callFunction(cluster.server, 'pg_reload_conf', BOOT_USER); }), cluster.dataDirectory);
    expect(simLines).to.deep.equal(realLines);
    expect(cluster.server.settings.authenticationTimeoutMs).to.equal(40_000);
  });

  it('pg_reload_conf() is for superusers only, as PostgreSQL 15 revokes it from PUBLIC', async () => {
    const denied = await callFunction(cluster.server, 'pg_reload_conf', 'bob');
    expect(denied.error).to.deep.equal({ severity: 'ERROR', sqlstate: '42501', message: 'permission denied for function pg_reload_conf' });
    const c = new pg.Client({ host: '127.0.0.1', port: real.port, user: 'bob', database: 'postgres' });
    await c.connect();
    const realError = await c.query('SELECT pg_reload_conf()').then(() => null, (e: { code: string; message: string }) => `${e.code} ${e.message}`);
    await c.end();
    expect(realError).to.equal('42501 permission denied for function pg_reload_conf');
  });
});
