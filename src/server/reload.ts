/**
 * SIGHUP in the postmaster (postmaster.c SIGHUP_handler, PostgreSQL 15): log that it came,
 * ProcessConfigFile(PGC_SIGHUP) over postgresql.conf and postgresql.auto.conf (sighup and
 * user parameters change, postmaster ones only complain), then pg_hba.conf (a file that does
 * not load keeps the old rules: its errors, then "pg_hba.conf was not reloaded"), then the SSL
 * material. Also the SQL that leads here: pg_reload_conf() and ALTER SYSTEM.
 */
import * as path from 'node:path';
import { PgError } from '../errors.js';
import type { ServerEvent } from '../events.js';
import { processConfigFile, type ConfigMessage } from '../config/index.js';
import {
  checkAlterSystem, flattenSetArgs, PG_AUTOCONF_FILENAME, updateAutoConf, writeAutoConf, type AlterSystemRequest,
} from '../config/alter-system.js';
import { EMBEDDED_POSTGRES_BUILD, hbaReloadFailureMessage, loadHbaFile, type HbaLine, type HbaLoadMessage } from '../hba/index.js';
import type { SqlRegistry } from '../sql/registry.js';
import type { GucRegistry } from '../config/index.js';
import type { ServerSettings } from './settings.js';
import { loadTls, settingsFromGucs, StartupError, type StartupMessage } from './datadir.js';
import type { EventBody } from '../events.js';

/** Where a server started from a data directory reads its files again. */
export interface DataDirectoryBinding {
  dataDirectory: string;
  configFile: string;
}

/** What a reload needs of the server. */
export interface ReloadTarget {
  readonly gucs: GucRegistry;
  readonly settings: ServerSettings;
  hba: readonly HbaLine[];
  readonly dataDirectoryBinding: DataDirectoryBinding | null;
  emit(body: EventBody): ServerEvent;
}

export type ReloadTrigger = 'sighup' | 'pg_reload_conf' | 'api';

export interface ReloadResult {
  /** postgresql.conf (and postgresql.auto.conf) had no errors. */
  configOk: boolean;
  /** pg_hba.conf loaded and replaced the old rules. */
  hbaReloaded: boolean;
  /** Every line the postmaster logged for this reload, in order. */
  messages: Array<{ severity: string; message: string; detail?: string; hint?: string; context?: string; sqlstate?: string }>;
}

/** Parameters that follow the file on reload (their GUC context is sighup or weaker). */
const RELOADABLE: ReadonlyArray<keyof ServerSettings> = [
  'ssl', 'passwordEncryption', 'authenticationTimeoutMs', 'logConnections', 'logDisconnections', 'logLinePrefix', 'timezone',
];

export function reloadConfiguration(server: ReloadTarget, trigger: ReloadTrigger): ReloadResult {
  const binding = server.dataDirectoryBinding;
  if (!binding) {
    throw new PgError({ severity: 'ERROR', sqlstate: '55000', message: 'this server has no data directory to reload from', hint: 'Servers started from a data directory (serve, TestCluster, startFromDataDirectory) can reload.' });
  }
  const messages: ReloadResult['messages'] = [];
  const log = (m: { severity?: string; message: string; detail?: string; hint?: string; context?: string; sqlstate?: string }) => {
    const severity = m.severity === 'WARNING' ? 'WARNING' : 'LOG';
    const rec = { ...m, severity };
    messages.push(rec);
    server.emit({
      type: 'log', severity, message: m.message,
      ...(m.detail !== undefined ? { detail: m.detail } : {}), ...(m.hint !== undefined ? { hint: m.hint } : {}),
      ...(m.context !== undefined ? { context: m.context } : {}), ...(m.sqlstate !== undefined ? { sqlstate: m.sqlstate } : {}),
    });
  };

  log({ message: 'received SIGHUP, reloading configuration files', sqlstate: '00000' });
  const processed = processConfigFile(server.gucs, binding.configFile, {
    context: 'sighup', dataDirectory: binding.dataDirectory, autoConfFile: path.join(binding.dataDirectory, PG_AUTOCONF_FILENAME),
  });
  for (const m of processed.messages) log(configLine(m));
  const fresh = settingsFromGucs(server.gucs);
  const settings = server.settings as unknown as Record<string, unknown>;
  for (const key of RELOADABLE) settings[key] = fresh[key];

  const major = server.settings.serverMajor;
  const hbaResult = loadHbaFile({
    path: server.settings.hbaPath, sslEnabled: server.settings.ssl, serverVersion: major,
    ...(major >= 16 ? { build: EMBEDDED_POSTGRES_BUILD } : {}),
  });
  let hbaReloaded = false;
  if (hbaResult.ok) {
    for (const m of hbaResult.messages) log(hbaLine(m));
    server.hba = hbaResult.lines;
    hbaReloaded = true;
  } else {
    for (const m of hbaResult.messages.filter((x) => x.severity !== 'FATAL')) log(hbaLine(m));
    log(hbaLine(hbaReloadFailureMessage(server.settings.hbaPath, major)));
  }

  if (server.settings.ssl) {
    const tlsMessages: StartupMessage[] = [];
    try {
      settings.tls = loadTls(server.gucs, binding.dataDirectory, tlsMessages);
    } catch (e) {
      if (!(e instanceof StartupError)) throw e;
      log({ message: e.fatal.message, sqlstate: e.fatal.sqlstate });
      log({ message: 'SSL configuration was not reloaded' });
    }
  } else {
    settings.tls = null;
  }
  server.emit({ type: 'reload', trigger, hbaReloaded });
  return { configOk: processed.ok, hbaReloaded, messages };
}

function configLine(m: ConfigMessage): { severity: string; message: string; detail?: string; hint?: string; context?: string; sqlstate: string } {
  return {
    severity: m.severity, message: m.message, sqlstate: m.sqlstate,
    ...(m.detail !== undefined ? { detail: m.detail } : {}), ...(m.hint !== undefined ? { hint: m.hint } : {}),
    ...(m.context !== undefined ? { context: m.context } : {}),
  };
}

function hbaLine(m: HbaLoadMessage): { message: string; hint?: string; context?: string; sqlstate: string } {
  return { message: m.message, sqlstate: m.sqlstate, ...(m.hint !== undefined ? { hint: m.hint } : {}), ...(m.context !== undefined ? { context: m.context } : {}) };
}

// ---- SQL ------------------------------------------------------------------------------------

interface AConst { sval?: { sval?: string }; ival?: { ival?: number }; fval?: { fval?: string }; boolval?: { boolval?: boolean }; isnull?: boolean }

/** A SET argument as text: strings as written, numbers as their literal. */
function constText(node: unknown): string {
  const c = (node as { A_Const?: AConst }).A_Const;
  if (!c) throw new PgError({ severity: 'ERROR', sqlstate: '0A000', message: 'pg-authsim takes only literal values in ALTER SYSTEM SET' });
  if (c.sval) return c.sval.sval ?? '';
  if (c.fval) return c.fval.fval ?? '0';
  if (c.boolval) return c.boolval.boolval ? 'true' : 'false';
  return String(c.ival?.ival ?? 0);
}

/**
 * pg_reload_conf() (EXECUTE revoked from PUBLIC, as in PostgreSQL 15) and ALTER SYSTEM, which
 * writes postgresql.auto.conf in the data directory. `reload` signals the postmaster.
 */
export function registerReloadSql(sql: SqlRegistry, server: ReloadTarget, reload: (trigger: ReloadTrigger) => void): void {
  sql.defineFunction({
    name: 'pg_reload_conf', schema: 'pg_catalog', args: [], returns: 'bool', volatility: 'volatile', strict: true, execute: 'superuser',
    call: () => {
      reload('pg_reload_conf');
      return true;
    },
  });
  sql.defineUtility('AlterSystemStmt', (node, ctx) => {
    const set = (node as { setstmt: { kind: string; name?: string; args?: unknown[] } }).setstmt;
    let req: AlterSystemRequest;
    if (set.kind === 'VAR_RESET_ALL') {
      req = { kind: 'reset-all' };
    } else if (set.kind === 'VAR_SET_VALUE') {
      const name = set.name ?? '';
      req = { kind: 'set', name, value: flattenSetArgs(server.gucs, name, (set.args ?? []).map(constText)) };
    } else if (set.kind === 'VAR_SET_DEFAULT' || set.kind === 'VAR_RESET') {
      req = { kind: 'set', name: set.name ?? '', value: null };
    } else {
      throw new PgError({ severity: 'ERROR', sqlstate: '0A000', message: `unsupported ALTER SYSTEM form ${set.kind}` });
    }
    checkAlterSystem(server.gucs, req, ctx.superuser);
    const binding = server.dataDirectoryBinding;
    if (!binding) {
      throw new PgError({ severity: 'ERROR', sqlstate: '58P01', message: `could not open file "${PG_AUTOCONF_FILENAME}": No such file or directory`, hint: 'This server was not started from a data directory.' });
    }
    const file = path.join(binding.dataDirectory, PG_AUTOCONF_FILENAME);
    writeAutoConf(file, updateAutoConf(file, req));
    return { tag: 'ALTER SYSTEM' };
  });
}
