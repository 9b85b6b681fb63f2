/**
 * Read a directory that looks like a PostgreSQL data directory:
 * postgresql.conf, pg_hba.conf and a roles file (our stand-in for
 * pg_authid). Problems are reported as PostgreSQL reports them at startup,
 * with file and line, and stop the load.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PgError } from '../errors.js';
import { PG_AUTOCONF_FILENAME } from '../config/alter-system.js';
import { createGucRegistry, processConfigFile, resolveDataFile, type ConfigMessage, type GucRegistry } from '../config/index.js';
import { EMBEDDED_POSTGRES_BUILD, hbaStartupError, loadHbaFile, type HbaLine, type HbaLoadMessage } from '../hba/index.js';
import { parseRolesFile, RoleCatalog, RolesFileError } from '../roles/index.js';
import type { PasswordEncryption } from '../auth/secrets.js';
import type { CheckPasswordHook } from '../hooks/hook.js';
import type { Random } from '../random.js';
import { parseServerMajor, SERVER_VERSIONS, type ServerSettings, type TlsMaterial } from './settings.js';

/** The repository's test-only certificates, used when ssl = on and the data directory has none. */
export const DEV_CERTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../certs');

export interface LoadedDataDirectory {
  dataDirectory: string;
  gucs: GucRegistry;
  settings: Partial<ServerSettings>;
  hba: HbaLine[];
  roles: RoleCatalog;
  port: number;
  listenAddresses: string[];
  sharedPreloadLibraries: string[];
  /** LOG/WARNING lines PostgreSQL would print while starting (hba warnings, dev-cert notice). */
  startupMessages: StartupMessage[];
  /** The roles file, when `deferRoles` left it for the caller to run once extensions are loaded. */
  rolesFile?: { path: string; text: string };
}

export interface LoadOptions {
  /**
   * Do not run the roles file: return initdb's catalog (the bootstrap superuser and predefined
   * roles) and the file's text, so the caller runs it after shared_preload_libraries, with
   * check_password_hook installed, as a real cluster's roles are created after it started.
   */
  deferRoles?: boolean;
}

export interface StartupMessage {
  severity: 'LOG' | 'WARNING';
  message: string;
  hint?: string;
  context?: string;
}

/** Startup failed: `messages` are the LOG lines before the FATAL, as the server would print them. */
export class StartupError extends Error {
  constructor(readonly fatal: PgError, readonly messages: StartupMessage[]) {
    super(fatal.message);
    this.name = 'StartupError';
  }
}

/** `overrides` are applied after postgresql.conf, like `postgres -c name=value`. */
export function loadDataDirectory(dir: string, random: Random, overrides: Record<string, string> = {}, options: LoadOptions = {}): LoadedDataDirectory {
  const dataDirectory = path.resolve(dir);
  const confPath = path.join(dataDirectory, 'postgresql.conf');
  if (!existsSync(dataDirectory)) {
    throw new StartupError(new PgError({ severity: 'FATAL', sqlstate: '58P01', message: `data directory "${dataDirectory}" does not exist` }), []);
  }
  if (!existsSync(confPath)) {
    throw new StartupError(new PgError({ severity: 'FATAL', sqlstate: '58P01', message: `could not access the server configuration file "${confPath}": No such file or directory` }), []);
  }
  const gucs = createGucRegistry();
  const processed = processConfigFile(gucs, confPath, { context: 'postmaster', dataDirectory, autoConfFile: path.join(dataDirectory, PG_AUTOCONF_FILENAME) });
  const startupMessages: StartupMessage[] = processed.messages
    .filter((m) => m.severity !== 'FATAL')
    .map(configMessage);
  if (!processed.ok) {
    throw new StartupError(processed.fatal ?? new PgError({ severity: 'FATAL', sqlstate: 'F0000', message: `configuration file "${confPath}" contains errors` }), startupMessages);
  }
  for (const [name, value] of Object.entries(overrides)) {
    try {
      gucs.set(name, value, 'argv', { context: 'postmaster' });
    } catch (err) {
      if (err instanceof PgError) throw new StartupError(new PgError({ ...err.fields, severity: 'FATAL' }), startupMessages);
      throw err;
    }
  }

  const versionSetting = gucs.getString('server_version');
  const serverMajor = parseServerMajor(versionSetting) ?? 15;
  const ssl = gucs.getBool('ssl');
  const tls = ssl ? loadTls(gucs, dataDirectory, startupMessages) : null;

  const hbaPath = gucs.getString('hba_file') ? resolveDataFile(gucs, 'hba_file', dataDirectory) : path.join(dataDirectory, 'pg_hba.conf');
  // 16–18 are modelled on the @embedded-postgres builds (no GSSAPI, LDAP or PAM), 15 on Debian's.
  const hbaResult = loadHbaFile({
    path: hbaPath, sslEnabled: ssl, serverVersion: serverMajor,
    ...(serverMajor >= 16 ? { build: EMBEDDED_POSTGRES_BUILD } : {}),
  });
  startupMessages.push(...hbaResult.messages.filter((m) => m.severity !== 'FATAL').map(hbaMessage));
  const hbaFatal = hbaStartupError(hbaResult);
  if (hbaFatal) throw new StartupError(hbaFatal, startupMessages);

  const rolesPath = resolveDataFile(gucs, 'roles_file', dataDirectory);
  const bootstrapSuperuser = gucs.getString('bootstrap_superuser');
  let roles: RoleCatalog;
  let rolesFile: { path: string; text: string } | undefined;
  try {
    const text = readFileSync(rolesPath, 'utf8');
    if (options.deferRoles) {
      roles = RoleCatalog.initdb(bootstrapSuperuser);
      rolesFile = { path: rolesPath, text };
    } else {
      roles = runRolesFile(text, rolesPath, { bootstrapSuperuser, passwordEncryption: gucs.getString('password_encryption') as PasswordEncryption, random }, startupMessages);
    }
  } catch (err) {
    if (err instanceof StartupError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StartupError(new PgError({
        severity: 'FATAL', sqlstate: '58P01', message: `could not open roles file "${rolesPath}": No such file or directory`,
        hint: 'pg-authsim reads roles from a file of CREATE ROLE statements; set roles_file in postgresql.conf.',
      }), startupMessages);
    }
    throw err;
  }

  const settings: Partial<ServerSettings> = { ...settingsFromGucs(gucs), serverMajor, tls, hbaPath };
  const listen = gucs.getString('listen_addresses').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    dataDirectory,
    gucs,
    settings,
    hba: hbaResult.lines,
    roles,
    port: gucs.getNumber('port'),
    listenAddresses: listen.flatMap(expandListenAddress),
    sharedPreloadLibraries: gucs.getString('shared_preload_libraries').split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1')).filter(Boolean),
    startupMessages,
    ...(rolesFile ? { rolesFile } : {}),
  };
}

/**
 * Run the roles file as the bootstrap superuser (into `catalog` when given, else a fresh
 * initdb catalog); an error stops startup with the file and line in CONTEXT.
 */
export function runRolesFile(
  text: string, rolesPath: string,
  opts: { bootstrapSuperuser?: string; catalog?: RoleCatalog; passwordEncryption: PasswordEncryption; random: Random; checkPasswordHook?: CheckPasswordHook | null },
  startupMessages: StartupMessage[],
): RoleCatalog {
  try {
    return parseRolesFile(text, {
      path: rolesPath,
      passwordEncryption: opts.passwordEncryption,
      random: opts.random,
      ...(opts.catalog ? { catalog: opts.catalog } : { bootstrapSuperuser: opts.bootstrapSuperuser ?? 'postgres' }),
      ...(opts.checkPasswordHook ? { checkPasswordHook: opts.checkPasswordHook } : {}),
    });
  } catch (err) {
    if (err instanceof RolesFileError) {
      throw new StartupError(new PgError({
        severity: 'FATAL', sqlstate: err.sqlstate, message: `${err.message}`,
        ...(err.detail ? { detail: err.detail } : {}),
        ...(err.hint ? { hint: err.hint } : {}),
        context: `line ${err.lineNumber} of roles file "${err.file}"`,
      }), startupMessages);
    }
    throw err;
  }
}

/**
 * The ServerSettings that follow from GUC values alone (everything but TLS material and the
 * hba path): at startup, and again after a reload changed sighup parameters.
 */
export function settingsFromGucs(gucs: GucRegistry): Partial<ServerSettings> {
  const versionSetting = gucs.getString('server_version');
  const serverMajor = parseServerMajor(versionSetting) ?? 15;
  return {
    // A bare major reports that major's reference build; "17.10" reports exactly that.
    serverVersion: /^\d+$/.test(versionSetting) ? SERVER_VERSIONS[serverMajor] : versionSetting,
    ssl: gucs.getBool('ssl'),
    passwordEncryption: gucs.getString('password_encryption') as 'md5' | 'scram-sha-256',
    maxConnections: gucs.getNumber('max_connections'),
    superuserReservedConnections: gucs.getNumber('superuser_reserved_connections'),
    authenticationTimeoutMs: gucs.getNumber('authentication_timeout') * 1000,
    logConnections: gucs.getBool('log_connections'),
    logDisconnections: gucs.getBool('log_disconnections'),
    logLinePrefix: gucs.getString('log_line_prefix'),
    timezone: gucs.getString('TimeZone'),
  };
}

/** '*' and 'localhost' as PostgreSQL binds them, restricted to loopback: this simulator never listens beyond this machine. */
function expandListenAddress(a: string): string[] {
  if (a === '*' || a === '0.0.0.0' || a === '::') return ['127.0.0.1'];
  if (a === 'localhost') return ['127.0.0.1'];
  return [a];
}

export function loadTls(gucs: GucRegistry, dataDirectory: string, messages: StartupMessage[]): TlsMaterial {
  let certPath = resolveDataFile(gucs, 'ssl_cert_file', dataDirectory);
  let keyPath = resolveDataFile(gucs, 'ssl_key_file', dataDirectory);
  let caPath = gucs.getString('ssl_ca_file') ? resolveDataFile(gucs, 'ssl_ca_file', dataDirectory) : null;
  const explicit = gucs.source('ssl_cert_file') !== 'default';
  if (!explicit && !existsSync(certPath)) {
    certPath = path.join(DEV_CERTS_DIR, 'server.crt');
    keyPath = path.join(DEV_CERTS_DIR, 'server.key');
    caPath ??= path.join(DEV_CERTS_DIR, 'ca.crt');
    messages.push({
      severity: 'WARNING',
      message: `ssl = on without a server certificate: using pg-authsim's TEST-ONLY development certificates from "${DEV_CERTS_DIR}"`,
      hint: 'Set ssl_cert_file and ssl_key_file to use your own.',
    });
  }
  const read = (p: string, what: string): Buffer => {
    try {
      return readFileSync(p);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : String((err as Error).message);
      throw new StartupError(new PgError({ severity: 'FATAL', sqlstate: 'F0000', message: `could not load ${what} file "${p}": ${reason}` }), messages);
    }
  };
  const min = gucs.getString('ssl_min_protocol_version') as TlsMaterial['minVersion'];
  const max = gucs.getString('ssl_max_protocol_version');
  return {
    cert: read(certPath, 'server certificate'),
    key: read(keyPath, 'private key'),
    ca: caPath ? read(caPath, 'root certificate') : null,
    minVersion: min,
    maxVersion: max === '' ? null : (max as TlsMaterial['minVersion']),
  };
}

function configMessage(m: ConfigMessage): StartupMessage {
  return {
    severity: m.severity === 'WARNING' ? 'WARNING' : 'LOG',
    message: m.message,
    ...(m.hint ? { hint: m.hint } : {}),
    ...(m.context ? { context: m.context } : {}),
  };
}

function hbaMessage(m: HbaLoadMessage): StartupMessage {
  return {
    severity: 'LOG',
    message: m.message,
    ...(m.hint ? { hint: m.hint } : {}),
    ...(m.context ? { context: m.context } : {}),
  };
}
