/**
 * Read a directory that looks like a PostgreSQL data directory:
 * postgresql.conf, pg_hba.conf and a roles file (our stand-in for
 * pg_authid). Problems are reported as PostgreSQL reports them at startup,
 * with file and line, and stop the load.
 */
import { chmodSync, existsSync, readFileSync, statSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesToString, invalidUtf8 } from '../bytes.js';
import { PgError } from '../errors.js';
import { PG_AUTOCONF_FILENAME } from '../config/alter-system.js';
import { createGucRegistry, processConfigFile, resolveDataFile, type ConfigMessage, type GucRegistry } from '../config/index.js';
import { EMBEDDED_POSTGRES_BUILD, hbaStartupError, loadHbaFile, type HbaLine, type HbaLoadMessage } from '../hba/index.js';
import { parseRolesFile, RoleCatalog, RolesFileError } from '../roles/index.js';
import type { PasswordEncryption } from '../auth/secrets.js';
import type { CheckPasswordHook } from '../hooks/hook.js';
import type { Random } from '../random.js';
import { expandListenAddress } from './listen-addresses.js';
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
    const text = rolesFileText(readFileSync(rolesPath), rolesPath);
    if (options.deferRoles) {
      roles = RoleCatalog.initdb(bootstrapSuperuser);
      rolesFile = { path: rolesPath, text };
    } else {
      roles = runRolesFile(text, rolesPath, { bootstrapSuperuser, passwordEncryption: gucs.getString('password_encryption') as PasswordEncryption, random }, startupMessages);
    }
  } catch (err) {
    if (err instanceof StartupError) throw err;
    if (err instanceof RolesFileError) throw rolesFileStartupError(err, startupMessages);
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
    sharedPreloadLibraries: sharedPreloadLibraries(gucs),
    startupMessages,
    ...(rolesFile ? { rolesFile } : {}),
  };
}

/** shared_preload_libraries as a list of names (quotes removed). */
export function sharedPreloadLibraries(gucs: GucRegistry): string[] {
  return gucs.getString('shared_preload_libraries').split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1')).filter(Boolean);
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
    if (err instanceof RolesFileError) throw rolesFileStartupError(err, startupMessages);
    throw err;
  }
}

/** A roles-file error as the FATAL that stops startup, with the file and line in CONTEXT. */
function rolesFileStartupError(err: RolesFileError, startupMessages: StartupMessage[]): StartupError {
  return new StartupError(new PgError({
    severity: 'FATAL', sqlstate: err.sqlstate, message: `${err.message}`,
    ...(err.detail ? { detail: err.detail } : {}),
    ...(err.hint ? { hint: err.hint } : {}),
    context: `line ${err.lineNumber} of roles file "${err.file}"`,
  }), startupMessages);
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

export function loadTls(gucs: GucRegistry, dataDirectory: string, messages: StartupMessage[]): TlsMaterial {
  // Messages name each file as postgresql.conf spells it (relative names stay relative), as PostgreSQL's do.
  let cert = { shown: gucs.getString('ssl_cert_file'), path: resolveDataFile(gucs, 'ssl_cert_file', dataDirectory) };
  let key = { shown: gucs.getString('ssl_key_file'), path: resolveDataFile(gucs, 'ssl_key_file', dataDirectory) };
  const ca = gucs.getString('ssl_ca_file') ? { shown: gucs.getString('ssl_ca_file'), path: resolveDataFile(gucs, 'ssl_ca_file', dataDirectory) } : null;
  const ownCertificate = gucs.source('ssl_cert_file') !== 'default' || existsSync(cert.path);
  if (!ownCertificate && gucs.getBool('dev_certificates')) {
    // Only the server certificate: the development CA's key is public too, so trusting it for
    // client certificates would let anyone mint one for any user. ssl_ca_file must say so explicitly.
    cert = { shown: path.join(DEV_CERTS_DIR, 'server.crt'), path: path.join(DEV_CERTS_DIR, 'server.crt') };
    key = { shown: path.join(DEV_CERTS_DIR, 'server.key'), path: path.join(DEV_CERTS_DIR, 'server.key') };
    tightenDevKeyMode(key.path);
    messages.push({
      severity: 'WARNING',
      message: `dev_certificates = on: using pg-authsim's TEST-ONLY server certificate "${cert.shown}"; its private key is public, so anyone can impersonate this server`,
      hint: 'Never use it beyond tests on this machine. Client certificates are trusted only from ssl_ca_file, never from the development CA unless ssl_ca_file names it.',
    });
  }
  const fail = (message: string, sqlstate = 'F0000', detail?: string): never => {
    throw new StartupError(new PgError({ severity: 'FATAL', sqlstate, message, ...(detail ? { detail } : {}), ...(!ownCertificate && message.includes('server certificate') ? { hint: 'pg-authsim: set dev_certificates = on (serve --dev-certs) to use the TEST-ONLY development certificate, or ssl_cert_file and ssl_key_file to use your own.' } : {}) }), messages);
  };
  const read = (f: { shown: string; path: string }, what: string): Buffer => {
    try {
      return readFileSync(f.path);
    } catch (err) {
      return fail(`could not load ${what} file "${f.shown}": ${strerror(err)}`);
    }
  };
  const certPem = read(cert, 'server certificate');
  checkKeyFilePermissions(key, fail);
  const keyPem = read(key, 'private key');
  const min = gucs.getString('ssl_min_protocol_version') as TlsMaterial['minVersion'];
  const max = gucs.getString('ssl_max_protocol_version');
  return {
    cert: certPem,
    key: keyPem,
    ca: ca ? read(ca, 'root certificate') : null,
    minVersion: min,
    maxVersion: max === '' ? null : (max as TlsMaterial['minVersion']),
    ecdhCurve: gucs.getString('ssl_ecdh_curve'),
  };
}

/**
 * check_ssl_key_file_permissions() (be-secure-common.c, 15): a regular file owned by the
 * server's user or root, with no group/world access when it is ours and no more than group read
 * when root owns it.
 */
function checkKeyFilePermissions(key: { shown: string; path: string }, fail: (message: string, sqlstate?: string, detail?: string) => never): void {
  let st: Stats;
  try {
    st = statSync(key.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fail(`could not access private key file "${key.shown}": ${strerror(err)}`, code === 'ENOENT' ? '58P01' : code === 'EACCES' ? '42501' : '58030');
    return;
  }
  if (!st.isFile()) fail(`private key file "${key.shown}" is not a regular file`);
  const euid = process.geteuid?.() ?? st.uid;
  if (st.uid !== euid && st.uid !== 0) fail(`private key file "${key.shown}" must be owned by the database user or root`);
  const groupOrWorld = 0o077;
  const rootAllowed = 0o040; // g=r
  if ((st.uid === euid && (st.mode & groupOrWorld) !== 0) || (st.uid === 0 && (st.mode & groupOrWorld & ~rootAllowed) !== 0)) {
    fail(`private key file "${key.shown}" has group or world access`, 'F0000',
      'File must have permissions u=rw (0600) or less if owned by the database user, or permissions u=rw,g=r (0640) or less if owned by root.');
  }
}

/**
 * Git checks files out 0644 whatever mode they were committed with, so the development key is
 * made 0600 here (and by `npm install`) before PostgreSQL's check runs on it.
 */
function tightenDevKeyMode(keyPath: string): void {
  try {
    const st = statSync(keyPath);
    if ((st.mode & 0o077) !== 0 && st.uid === (process.geteuid?.() ?? st.uid)) chmodSync(keyPath, 0o600);
  } catch {
    // Not ours to change, or missing: the permission check reports it.
  }
}

/** %m for the errors reading a file can give. */
function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const known: Record<string, string> = { ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory', ENOTDIR: 'Not a directory' };
  return (code && known[code]) ?? String((err as Error).message);
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

/**
 * The roles file is SQL for a UTF8 database: its names are their UTF-8 bytes, and a byte
 * sequence that is not UTF-8 is refused as the server refuses it (22021), rather than
 * quietly becoming U+FFFD and matching a different name.
 */
function rolesFileText(data: Buffer, file: string): string {
  const bad = invalidUtf8(data);
  if (bad === null) return bytesToString(data);
  let line = 1;
  for (let i = 0; i < bad.offset; i++) if (data[i] === 0x0a) line++;
  throw new RolesFileError(`invalid byte sequence for encoding "UTF8": ${bad.shown}`, file, line, '22021');
}
