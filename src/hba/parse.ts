/**
 * pg_hba.conf line parser, following hba.c (parse_hba_line, parse_hba_auth_opt, load_hba) of
 * PostgreSQL 15, and of 16, 17 and 18 where they differ (see HbaVersionRules). Every message
 * text, hint and the order of the checks match the real servers: a line reports only its first
 * error, but every line is parsed, so the load reports all bad lines.
 */
import { networkInterfaces } from 'node:os';
import { fatal, type PgError } from '../errors.js';
import { DEBIAN_PG15_BUILD, hbaVersionRules, type HbaBuildFeatures, type HbaVersionRules } from './build.js';
import { cidrMask, EAI_NONAME_TEXT, parseNumericHost, strtolWhole, type AddressFamily } from './inet.js';
import { parseLdapUrl, type LdapScope } from './ldapurl.js';
import { CONFIG_FILE_ERROR, fileAccessError, lineContext, type HbaLoadMessage } from './messages.js';
import { compileAuthRegex } from './regex.js';
import {
  canonicalizePath, defaultReadDir, defaultReadFile, HbaFatalError, tokenizeAuthFile,
  type AuthToken, type ReadDirFn, type ReadFileFn, type TokenizedAuthLine,
} from './tokenize.js';

export type ConnType = 'local' | 'host' | 'hostssl' | 'hostnossl' | 'hostgssenc' | 'hostnogssenc';

export type AuthMethod =
  | 'trust' | 'reject' | 'scram-sha-256' | 'md5' | 'password' | 'cert' | 'gss' | 'sspi'
  | 'ident' | 'peer' | 'ldap' | 'radius' | 'pam' | 'bsd'
  /** 18 only; parsed, not simulated. */
  | 'oauth';

export type HbaAddress =
  | { kind: 'all' }
  | { kind: 'samehost' }
  | { kind: 'samenet' }
  /** An address with a mask, from `addr/bits` or `addr mask`. */
  | { kind: 'cidr'; family: AddressFamily; address: Uint8Array; mask: Uint8Array; text: string; maskText?: string }
  /** A host name; a leading `.` means suffix match. */
  | { kind: 'hostname'; hostname: string };

export interface HbaOptions {
  /** Every `name=value` as written, in order. */
  settings: Array<[name: string, value: string]>;
  map?: string;
  /** `cert` lines always end up with verify-full. */
  clientcert?: 'verify-ca' | 'verify-full';
  clientname: 'CN' | 'DN';
  pamservice?: string;
  pamUseHostname: boolean;
  ldapServer?: string;
  ldapPort?: number;
  ldapScheme?: string;
  ldapTls: boolean;
  ldapBindDn?: string;
  ldapBindPasswd?: string;
  ldapSearchAttribute?: string;
  ldapSearchFilter?: string;
  ldapBaseDn?: string;
  ldapPrefix?: string;
  ldapSuffix?: string;
  /** PG resets this to `sub` whenever any option is parsed after ldapurl (a PG15 quirk kept as is). */
  ldapScope?: LdapScope;
  krbRealm?: string;
  includeRealm: boolean;
  compatRealm: boolean;
  upnUsername: boolean;
  radiusServers?: string[];
  radiusSecrets?: string[];
  radiusPorts?: string[];
  radiusIdentifiers?: string[];
  /** 18 `oauth` options. */
  oauthIssuer?: string;
  oauthScope?: string;
  /** As written, or the only entry of oauth_validator_libraries when the line names none. */
  oauthValidator?: string;
  /** delegate_ident_mapping=1. */
  oauthSkipUsermap: boolean;
}

export interface HbaLine {
  /**
   * Absolute path of the file the rule was read from: pg_hba.conf itself, or (16+) the included
   * file. 16+ names it in `Connection matched file "…" line N: "…"` (see hbaMatchDetail).
   */
  sourceFile: string;
  /** First physical line of the rule, in sourceFile. */
  lineNumber: number;
  /** Joined text as PG stores it; used in `Connection matched pg_hba.conf line N: "…"`. */
  rawLine: string;
  connType: ConnType;
  databases: AuthToken[];
  roles: AuthToken[];
  /** Absent for `local`. */
  address?: HbaAddress;
  method: AuthMethod;
  options: HbaOptions;
}

export interface ParseHbaOptions {
  /** Absolute path of pg_hba.conf: shown in CONTEXT lines and used to resolve @files. */
  path: string;
  /** The `ssl` setting. With ssl off, `hostssl` lines only draw a warning. */
  sslEnabled: boolean;
  /** Server major version, 15 (default) to 18. */
  serverVersion?: number;
  readFile?: ReadFileFn;
  /** Directory listing for `include_dir` (16+). Default: the real file system. */
  readDir?: ReadDirFn;
  build?: Partial<HbaBuildFeatures>;
  /** The `db_user_namespace` setting (md5 is then refused). Ignored from 17, which removed it. */
  dbUserNamespace?: boolean;
  /** 18: the `oauth_validator_libraries` setting, as written (default empty). */
  oauthValidatorLibraries?: string;
  /**
   * Name lookup for `radiusservers` entries: return null when the name resolves, or the
   * gai_strerror text. The default has no DNS: it fails only the empty name (EAI_NONAME, as
   * getaddrinfo does) and assumes every other name resolves. Inject a resolver for exactness.
   */
  resolveHost?: (name: string) => string | null;
  /** Interface names accepted as IPv6 `%scope` (default: this machine's interfaces). */
  interfaceNames?: () => string[];
  maxAllocatedDescs?: number;
}

export interface HbaParseResult {
  /** True when PG would accept the file (no errors and at least one rule). */
  ok: boolean;
  /** What was loaded: the path of pg_hba.conf and the server version whose rules applied. */
  path: string;
  serverVersion: number;
  lines: HbaLine[];
  /** Messages that make the load fail. */
  errors: HbaLoadMessage[];
  /** Messages logged for lines that are kept anyway (e.g. hostssl with ssl off). */
  warnings: HbaLoadMessage[];
  /** Everything in the order the server logs it (tokenizer messages come first). */
  messages: HbaLoadMessage[];
  /** Set when loading aborted the postmaster outright (nested @files exhausting descriptors). */
  fatal?: HbaLoadMessage;
}

const AUTH_METHODS: readonly AuthMethod[] = [
  'trust', 'ident', 'peer', 'password', 'gss', 'sspi', 'reject', 'md5', 'scram-sha-256', 'pam', 'bsd', 'ldap', 'cert', 'radius', 'oauth',
];

const CONN_TYPES: readonly ConnType[] = ['local', 'host', 'hostssl', 'hostnossl', 'hostgssenc', 'hostnogssenc'];

/** Is this method compiled in? */
function methodSupported(m: AuthMethod, b: HbaBuildFeatures): boolean {
  switch (m) {
    case 'gss': return b.gssapi;
    case 'sspi': return b.sspi;
    case 'pam': return b.pam;
    case 'bsd': return b.bsdAuth;
    case 'ldap': return b.ldap;
    case 'cert': return b.ssl;
    default: return true;
  }
}

interface LineEnv {
  path: string;
  rules: HbaVersionRules;
  oauthValidatorLibraries: string;
  ssl: boolean;
  build: HbaBuildFeatures;
  dbUserNamespace: boolean;
  resolveHost: (name: string) => string | null;
  interfaceNames: () => string[];
  log: (m: HbaLoadMessage, failsLoad: boolean) => void;
}

/** Thrown inside a line's parse after its error has been logged. */
class LineRejected extends Error {}

/** Called only when a scoped IPv6 address (`fe80::1%eth0`) appears. */
function defaultInterfaceNames(): string[] {
  return Object.keys(networkInterfaces());
}

/** See ParseHbaOptions.resolveHost: an empty name is EAI_NONAME, anything else is assumed to resolve. */
const defaultResolveHost = (name: string): string | null => (name === '' ? EAI_NONAME_TEXT : null);

/**
 * Parse a whole pg_hba.conf as load_hba() does. Never throws for bad content: all problems are
 * returned as messages. Throws RangeError for an unimplemented serverVersion, and (16+)
 * AuthRegexUnsupportedError for a `/regex` PG accepts but pg-authsim cannot translate.
 */
export function parseHbaFile(text: string | Uint8Array, opts: ParseHbaOptions): HbaParseResult {
  const rules = hbaVersionRules(opts.serverVersion ?? 15);
  const result: HbaParseResult = { ok: true, path: opts.path, serverVersion: rules.version, lines: [], errors: [], warnings: [], messages: [] };
  const log = (m: HbaLoadMessage, failsLoad: boolean): void => {
    result.messages.push(m);
    (failsLoad ? result.errors : result.warnings).push(m);
  };
  const env: LineEnv = {
    path: opts.path,
    rules,
    oauthValidatorLibraries: opts.oauthValidatorLibraries ?? '',
    ssl: opts.sslEnabled,
    build: { ...DEBIAN_PG15_BUILD, ...opts.build },
    dbUserNamespace: rules.dbUserNamespace && (opts.dbUserNamespace ?? false),
    resolveHost: opts.resolveHost ?? defaultResolveHost,
    interfaceNames: opts.interfaceNames ?? defaultInterfaceNames,
    log,
  };

  let tokLines: TokenizedAuthLine[];
  try {
    tokLines = tokenizeAuthFile(text, opts.path, {
      readFile: opts.readFile ?? defaultReadFile,
      readDir: opts.readDir ?? defaultReadDir,
      serverVersion: rules.version,
      log,
      ...(opts.maxAllocatedDescs !== undefined ? { maxAllocatedDescs: opts.maxAllocatedDescs } : {}),
    });
  } catch (e) {
    if (!(e instanceof HbaFatalError)) throw e;
    result.messages.push(e.logMessage);
    result.fatal = e.logMessage;
    result.ok = false;
    return result;
  }

  for (const tl of tokLines) {
    // Lines that failed to tokenize were already reported.
    if (tl.errMsg !== undefined) {
      result.ok = false;
      continue;
    }
    const parsed = parseHbaLine(tl, env);
    if (parsed === null) {
      result.ok = false;
      continue;
    }
    result.lines.push(parsed);
  }

  // Only complain about an empty file when nothing else was wrong.
  if (result.ok && result.lines.length === 0) {
    log({ severity: 'LOG', sqlstate: CONFIG_FILE_ERROR, message: `configuration file "${opts.path}" contains no entries` }, true);
    result.ok = false;
  }
  return result;
}

/**
 * Read pg_hba.conf itself through readFile, then parse it. A missing or unreadable file gives
 * `could not open configuration file "%s": %m` (15) or `could not open file "%s": %m` (16+),
 * which also fails the load.
 */
export function loadHbaFile(opts: ParseHbaOptions): HbaParseResult {
  const rules = hbaVersionRules(opts.serverVersion ?? 15);
  const read = opts.readFile ?? defaultReadFile;
  let content: string | Uint8Array | undefined;
  let failure: unknown;
  try {
    content = read(opts.path);
    if (content === undefined) failure = { code: 'ENOENT' };
  } catch (e) {
    failure = e;
  }
  if (failure !== undefined) {
    const fe = fileAccessError(failure);
    const what = rules.includeDirectives ? 'file' : 'configuration file';
    const m: HbaLoadMessage = { severity: 'LOG', sqlstate: fe.sqlstate, message: `could not open ${what} "${opts.path}": ${fe.text}` };
    return { ok: false, path: opts.path, serverVersion: rules.version, lines: [], errors: [m], warnings: [], messages: [m] };
  }
  return parseHbaFile(content!, opts);
}

/**
 * What the postmaster does with a load result at startup: nothing (undefined) when it loaded,
 * otherwise the FATAL that stops it, worded for the result's server version.
 */
export function hbaStartupError(result: HbaParseResult): PgError | undefined {
  if (result.fatal) return fatal(result.fatal.sqlstate, result.fatal.message);
  if (result.ok) return undefined;
  const m = hbaLoadFailureMessage(result.path, result.serverVersion, 'startup');
  return fatal(m.sqlstate, m.message);
}

/**
 * What the postmaster logs when pg_hba.conf does not load: at startup the FATAL that stops it,
 * on SIGHUP (old rules kept) a LOG. 15 says `could not load pg_hba.conf` / `pg_hba.conf was not
 * reloaded`; 16+ puts the file's path in place of the name (checked on 16.14 and 18.4). The
 * messages carry no errcode: XX000 for the FATAL, 00000 for the LOG.
 */
export function hbaLoadFailureMessage(path: string, serverVersion: number, phase: 'startup' | 'reload' = 'startup'): HbaLoadMessage {
  const name = hbaVersionRules(serverVersion).namesFile ? path : 'pg_hba.conf';
  return phase === 'startup'
    ? { severity: 'FATAL', sqlstate: 'XX000', message: `could not load ${name}` }
    : { severity: 'LOG', sqlstate: '00000', message: `${name} was not reloaded` };
}

/** On SIGHUP a failed load keeps the old rules and logs this (PG15 wording unless path and version say otherwise). */
export function hbaReloadFailureMessage(path = 'pg_hba.conf', serverVersion = 15): HbaLoadMessage {
  return hbaLoadFailureMessage(path, serverVersion, 'reload');
}

function newOptions(): HbaOptions {
  return {
    settings: [], clientname: 'CN', pamUseHostname: false, ldapTls: false,
    includeRealm: false, compatRealm: false, upnUsername: false, oauthSkipUsermap: false,
  };
}

/** parse_hba_line. Returns null when the line is rejected (its error is already logged). */
function parseHbaLine(tl: TokenizedAuthLine, env: LineEnv): HbaLine | null {
  // 15 has one file; 16+ names the file the line came from (and says which in fileName).
  const file = env.rules.includeDirectives ? tl.fileName : env.path;
  const ctx = lineContext(tl.lineNumber, file);
  const where = env.rules.includeDirectives ? { lineNumber: tl.lineNumber, fileName: file } : { lineNumber: tl.lineNumber };
  const warn = (message: string, hint?: string): void => {
    env.log({ severity: 'LOG', sqlstate: CONFIG_FILE_ERROR, message, context: ctx, ...where, ...(hint !== undefined ? { hint } : {}) }, false);
  };
  const reject = (message: string, hint?: string, withContext = true, sqlstate = CONFIG_FILE_ERROR): never => {
    env.log({
      severity: 'LOG', sqlstate, message, ...where,
      ...(hint !== undefined ? { hint } : {}), ...(withContext ? { context: ctx } : {}),
    }, true);
    throw new LineRejected(message);
  };
  try {
    return parseLine(tl, env, warn, reject);
  } catch (e) {
    if (e instanceof LineRejected) return null;
    throw e;
  }
}

type Warn = (message: string, hint?: string) => void;
type Reject = (message: string, hint?: string, withContext?: boolean, sqlstate?: string) => never;

/** 16+ regcomp_auth_token: a token starting with `/` (quoted or not) is compiled as a regular expression. */
function compileTokens(tokens: AuthToken[], env: LineEnv, reject: Reject): AuthToken[] {
  return tokens.map((t) => {
    const copy: AuthToken = { ...t };
    if (!env.rules.regexTokens || !t.string.startsWith('/')) return copy;
    const r = compileAuthRegex(t.string.slice(1));
    // ERRCODE_INVALID_REGULAR_EXPRESSION.
    if (!r.ok) reject(`invalid regular expression "${t.string.slice(1)}": ${r.error}`, undefined, true, '2201B');
    else copy.regex = r.regex;
    return copy;
  });
}

function parseLine(tl: TokenizedAuthLine, env: LineEnv, warn: Warn, reject: Reject): HbaLine {
  const fields = tl.fields;
  let fi = 0;

  // TYPE
  const typeTokens = fields[fi]!;
  if (typeTokens.length > 1) reject('multiple values specified for connection type', 'Specify exactly one connection type per line.');
  const typeName = typeTokens[0]!.string;
  if (!(CONN_TYPES as readonly string[]).includes(typeName)) reject(`invalid connection type "${typeName}"`);
  const connType = typeName as ConnType;
  if (connType === 'local' && !env.build.unixSockets) reject('local connections are not supported by this build');
  if (connType === 'hostssl') {
    // Only logged: the line is kept and simply never matches.
    if (!env.build.ssl) warn('hostssl record cannot match because SSL is not supported by this build');
    else if (!env.ssl) warn('hostssl record cannot match because SSL is disabled', env.rules.sslOffHint);
  }
  if (connType === 'hostgssenc' && !env.build.gssapi) {
    warn('hostgssenc record cannot match because GSSAPI is not supported by this build');
  }

  // DATABASE
  fi++;
  if (fi >= fields.length) reject('end-of-line before database specification');
  const databases = compileTokens(fields[fi]!, env, reject);

  // USER
  fi++;
  if (fi >= fields.length) reject('end-of-line before role specification');
  const roles = compileTokens(fields[fi]!, env, reject);

  // ADDRESS [MASK]
  let address: HbaAddress | undefined;
  if (connType !== 'local') {
    fi++;
    if (fi >= fields.length) reject('end-of-line before IP address specification');
    const addrTokens = fields[fi]!;
    if (addrTokens.length > 1) reject('multiple values specified for host address', 'Specify one address range per line.');
    const tok = addrTokens[0]!;
    const keyword = (k: string): boolean => !tok.quoted && tok.string === k;
    if (keyword('all')) address = { kind: 'all' };
    else if (keyword('samehost')) address = { kind: 'samehost' };
    else if (keyword('samenet')) address = { kind: 'samenet' };
    else {
      const slash = tok.string.indexOf('/');
      const str = slash === -1 ? tok.string : tok.string.slice(0, slash);
      // AI_NUMERICHOST: anything that is not a numeric address is taken as a host name.
      const numeric = parseNumericHost(str, { interfaceNames: env.interfaceNames });
      if (slash !== -1) {
        if (numeric === null) reject(`specifying both host name and CIDR mask is invalid: "${tok.string}"`);
        const bits = strtolWhole(tok.string.slice(slash + 1));
        const mask = bits === null ? null : cidrMask(bits, numeric!.family);
        if (mask === null) reject(`invalid CIDR mask in address "${tok.string}"`);
        address = { kind: 'cidr', family: numeric!.family, address: numeric!.bytes, mask: mask!, text: tok.string };
      } else if (numeric === null) {
        address = { kind: 'hostname', hostname: str };
      } else {
        fi++;
        if (fi >= fields.length) {
          reject('end-of-line before netmask specification', 'Specify an address range in CIDR notation, or provide a separate netmask.');
        }
        const maskTokens = fields[fi]!;
        if (maskTokens.length > 1) reject('multiple values specified for netmask');
        const maskTok = maskTokens[0]!;
        const mask = parseNumericHost(maskTok.string, { interfaceNames: env.interfaceNames });
        if (mask === null) reject(`invalid IP mask "${maskTok.string}": ${EAI_NONAME_TEXT}`);
        if (mask!.family !== numeric.family) reject('IP address and mask do not match');
        address = { kind: 'cidr', family: numeric.family, address: numeric.bytes, mask: mask!.bytes, text: tok.string, maskText: maskTok.string };
      }
    }
  }

  // METHOD
  fi++;
  if (fi >= fields.length) reject('end-of-line before authentication method');
  const methodTokens = fields[fi]!;
  if (methodTokens.length > 1) reject('multiple values specified for authentication type', 'Specify exactly one authentication type per line.');
  const methodName = methodTokens[0]!.string;
  if (!(AUTH_METHODS as readonly string[]).includes(methodName) || (methodName === 'oauth' && !env.rules.oauth)) {
    reject(`invalid authentication method "${methodName}"`);
  }
  let method = methodName as AuthMethod;
  if (method === 'md5' && env.dbUserNamespace) {
    reject('MD5 authentication is not supported when "db_user_namespace" is enabled');
  }
  if (!methodSupported(method, env.build)) reject(`invalid authentication method "${methodName}": not supported by this build`);

  // ident over a Unix socket has always meant peer.
  if (connType === 'local' && method === 'ident') method = 'peer';
  if (connType === 'local' && method === 'gss') reject('gssapi authentication is not supported on local sockets');
  if (connType !== 'local' && method === 'peer') reject('peer authentication is only supported on local sockets');
  if (connType !== 'hostssl' && method === 'cert') reject('cert authentication is only supported on hostssl connections');

  const line: HbaLine = {
    sourceFile: tl.fileName, lineNumber: tl.lineNumber, rawLine: tl.rawLine, connType, databases, roles, method, options: newOptions(),
    ...(address !== undefined ? { address } : {}),
  };
  const o = line.options;
  if (method === 'gss' || method === 'sspi') o.includeRealm = true;
  if (method === 'sspi') {
    o.compatRealm = true;
    o.upnUsername = false;
  }

  // name=value options; every token of every remaining field is one option.
  for (fi++; fi < fields.length; fi++) {
    for (const tok of fields[fi]!) {
      const eq = tok.string.indexOf('=');
      if (eq === -1) reject(`authentication option not in name=value format: ${tok.string}`);
      parseAuthOption(tok.string.slice(0, eq), tok.string.slice(eq + 1), line, env, warn, reject);
    }
  }

  checkMandatoryOptions(line, env, reject);

  // cert implies the strictest client certificate check.
  if (method === 'cert') o.clientcert = 'verify-full';
  return line;
}

const LDAP_ONLY = ['ldaptls', 'ldapserver', 'ldapbinddn', 'ldapbindpasswd', 'ldapsearchattribute', 'ldapsearchfilter', 'ldapbasedn', 'ldapprefix', 'ldapsuffix'] as const;

/** parse_hba_auth_opt. */
function parseAuthOption(name: string, val: string, line: HbaLine, env: LineEnv, warn: Warn, reject: Reject): void {
  const o = line.options;
  const m = line.method;
  const invalidFor = (validMethods: string): never =>
    reject(`authentication option "${name}" is only valid for authentication methods ${validMethods}`);
  const requireMethod = (needed: AuthMethod): void => {
    if (m !== needed) invalidFor(needed);
  };

  o.settings.push([name, val]);
  // PG sets the LDAP scope to subtree at the start of every option (even after ldapurl).
  if (env.build.ldap) o.ldapScope = 'sub';

  switch (name) {
    case 'map':
      if (!['ident', 'peer', 'gss', 'sspi', 'cert', 'oauth'].includes(m)) invalidFor(env.rules.mapMethods);
      o.map = val;
      return;
    case 'clientcert':
      if (line.connType !== 'hostssl') reject('clientcert can only be configured for "hostssl" rows');
      if (val === 'verify-full') o.clientcert = 'verify-full';
      else if (val === 'verify-ca') {
        if (m === 'cert') reject('clientcert only accepts "verify-full" when using "cert" authentication');
        o.clientcert = 'verify-ca';
      } else reject(`invalid value for clientcert: "${val}"`);
      return;
    case 'clientname':
      if (line.connType !== 'hostssl') reject('clientname can only be configured for "hostssl" rows');
      if (val === 'CN' || val === 'DN') o.clientname = val;
      else reject(`invalid value for clientname: "${val}"`);
      return;
    case 'pamservice':
      requireMethod('pam');
      o.pamservice = val;
      return;
    case 'pam_use_hostname':
      requireMethod('pam');
      o.pamUseHostname = val === '1';
      return;
    case 'ldapurl': {
      requireMethod('ldap');
      if (!env.build.openLdap) {
        // Non-OpenLDAP builds log this but (as in PG15) do not reject the line.
        env.log({ severity: 'LOG', sqlstate: '0A000', message: 'LDAP URLs not supported on this platform', lineNumber: line.lineNumber }, false);
        return;
      }
      const r = parseLdapUrl(val);
      // These two messages carry no CONTEXT in PG15 (observed).
      if (!r.ok) reject(`could not parse LDAP URL "${val}": ${r.errorText}`, undefined, false);
      const u = (r as Extract<typeof r, { ok: true }>).url;
      if (u.scheme !== 'ldap' && u.scheme !== 'ldaps') reject(`unsupported LDAP URL scheme: ${u.scheme}`, undefined, false);
      o.ldapScheme = u.scheme;
      if (u.host !== undefined) o.ldapServer = u.host;
      o.ldapPort = u.port;
      if (u.dn !== undefined) o.ldapBaseDn = u.dn;
      if (u.attrs !== undefined && u.attrs[0] !== undefined) o.ldapSearchAttribute = u.attrs[0];
      o.ldapScope = u.scope;
      if (u.filter !== undefined) o.ldapSearchFilter = u.filter;
      return;
    }
    case 'ldapscheme':
      requireMethod('ldap');
      // Logged, yet the line is accepted: PG15 neither returns nor sets an error here.
      if (val !== 'ldap' && val !== 'ldaps') warn(`invalid ldapscheme value: "${val}"`);
      o.ldapScheme = val;
      return;
    case 'ldapport': {
      requireMethod('ldap');
      const port = atoi(val);
      if (port === 0) reject(`invalid LDAP port number: "${val}"`);
      o.ldapPort = port;
      return;
    }
    case 'krb_realm':
      if (m !== 'gss' && m !== 'sspi') invalidFor('gssapi and sspi');
      o.krbRealm = val;
      return;
    case 'include_realm':
      if (m !== 'gss' && m !== 'sspi') invalidFor('gssapi and sspi');
      o.includeRealm = val === '1';
      return;
    case 'compat_realm':
      if (m !== 'sspi') invalidFor('sspi');
      o.compatRealm = val === '1';
      return;
    case 'upn_username':
      if (m !== 'sspi') invalidFor('sspi');
      o.upnUsername = val === '1';
      return;
    case 'radiusservers': {
      requireMethod('radius');
      const list = splitGucList(val);
      if (list === null) reject(`could not parse RADIUS server list "${val}"`);
      for (const server of list!) {
        const gaiError = env.resolveHost(server);
        if (gaiError !== null) reject(`could not translate RADIUS server name "${server}" to address: ${gaiError}`);
      }
      o.radiusServers = list!;
      return;
    }
    case 'radiusports': {
      requireMethod('radius');
      const list = splitGucList(val);
      if (list === null) reject(`could not parse RADIUS port list "${val}"`);
      for (const p of list!) if (atoi(p) === 0) reject(`invalid RADIUS port number: "${val}"`);
      o.radiusPorts = list!;
      return;
    }
    case 'radiussecrets': {
      requireMethod('radius');
      const list = splitGucList(val);
      if (list === null) reject(`could not parse RADIUS secret list "${val}"`);
      o.radiusSecrets = list!;
      return;
    }
    case 'radiusidentifiers': {
      requireMethod('radius');
      const list = splitGucList(val);
      if (list === null) reject(`could not parse RADIUS identifiers list "${val}"`);
      o.radiusIdentifiers = list!;
      return;
    }
    default:
      break;
  }
  if (env.rules.oauth) {
    switch (name) {
      case 'issuer': requireMethod('oauth'); o.oauthIssuer = val; return;
      case 'scope': requireMethod('oauth'); o.oauthScope = val; return;
      case 'validator': requireMethod('oauth'); o.oauthValidator = val; return;
      // Only "1" means true (observed: delegate_ident_mapping=yes leaves map usable).
      case 'delegate_ident_mapping': requireMethod('oauth'); o.oauthSkipUsermap = val === '1'; return;
      default: break;
    }
  }
  if ((LDAP_ONLY as readonly string[]).includes(name)) {
    requireMethod('ldap');
    switch (name as (typeof LDAP_ONLY)[number]) {
      case 'ldaptls': o.ldapTls = val === '1'; break;
      case 'ldapserver': o.ldapServer = val; break;
      case 'ldapbinddn': o.ldapBindDn = val; break;
      case 'ldapbindpasswd': o.ldapBindPasswd = val; break;
      case 'ldapsearchattribute': o.ldapSearchAttribute = val; break;
      case 'ldapsearchfilter': o.ldapSearchFilter = val; break;
      case 'ldapbasedn': o.ldapBaseDn = val; break;
      case 'ldapprefix': o.ldapPrefix = val; break;
      case 'ldapsuffix': o.ldapSuffix = val; break;
    }
    return;
  }
  reject(`unrecognized authentication option name: "${name}"`);
}

/** The checks parse_hba_line makes after all options are read. */
function checkMandatoryOptions(line: HbaLine, env: LineEnv, reject: Reject): void {
  const o = line.options;
  if (line.method === 'ldap') {
    // Without OpenLDAP's DNS SRV support a server must be named.
    if (!env.build.openLdap && o.ldapServer === undefined) {
      reject('authentication method "ldap" requires argument "ldapserver" to be set');
    }
    if (o.ldapPrefix !== undefined || o.ldapSuffix !== undefined) {
      if (o.ldapBaseDn !== undefined || o.ldapBindDn !== undefined || o.ldapBindPasswd !== undefined
        || o.ldapSearchAttribute !== undefined || o.ldapSearchFilter !== undefined) {
        reject(env.rules.ldapMixMessage);
      }
    } else if (o.ldapBaseDn === undefined) {
      reject('authentication method "ldap" requires argument "ldapbasedn", "ldapprefix", or "ldapsuffix" to be set');
    }
    if (o.ldapSearchAttribute !== undefined && o.ldapSearchFilter !== undefined) {
      reject('cannot use ldapsearchattribute together with ldapsearchfilter');
    }
  }
  if (line.method === 'radius') {
    // An empty list is a NULL List in C, so it counts as "not set".
    const servers = o.radiusServers ?? [];
    const secrets = o.radiusSecrets ?? [];
    const ports = o.radiusPorts ?? [];
    const idents = o.radiusIdentifiers ?? [];
    if (servers.length === 0) reject('authentication method "radius" requires argument "radiusservers" to be set');
    if (secrets.length === 0) reject('authentication method "radius" requires argument "radiussecrets" to be set');
    if (!(secrets.length === 1 || secrets.length === servers.length)) {
      reject(`the number of RADIUS secrets (${secrets.length}) must be 1 or the same as the number of RADIUS servers (${servers.length})`);
    }
    if (!(ports.length === 0 || ports.length === 1 || ports.length === servers.length)) {
      reject(`the number of RADIUS ports (${ports.length}) must be 1 or the same as the number of RADIUS servers (${servers.length})`);
    }
    if (!(idents.length === 0 || idents.length === 1 || idents.length === servers.length)) {
      reject(`the number of RADIUS identifiers (${idents.length}) must be 1 or the same as the number of RADIUS servers (${servers.length})`);
    }
  }
  if (line.method === 'oauth') {
    // Order observed on 18.4: scope, issuer, the validator library, then map vs delegation.
    if (o.oauthScope === undefined) reject('authentication method "oauth" requires argument "scope" to be set');
    if (o.oauthIssuer === undefined) reject('authentication method "oauth" requires argument "issuer" to be set');
    checkOauthValidator(line, env, reject);
    if (o.oauthSkipUsermap && o.map !== undefined) reject('map cannot be used in combination with delegate_ident_mapping');
  }
}

/**
 * check_oauth_validator (18): the line's validator must be one of oauth_validator_libraries;
 * a line naming none takes the only entry, and with several entries it must name one.
 */
function checkOauthValidator(line: HbaLine, env: LineEnv, reject: Reject): void {
  const raw = env.oauthValidatorLibraries;
  if (raw === '') reject('oauth_validator_libraries must be set for authentication method oauth');
  const libs = splitDirectoriesString(raw);
  if (libs === null) {
    // Logged without CONTEXT in the 18 source.
    reject('invalid list syntax in parameter "oauth_validator_libraries"', undefined, false);
  }
  const o = line.options;
  if (o.oauthValidator === undefined) {
    if (libs!.length === 1) {
      o.oauthValidator = libs![0]!;
      return;
    }
    reject('authentication method "oauth" requires argument "validator" to be set when oauth_validator_libraries contains multiple options');
  }
  // ERRCODE_INVALID_PARAMETER_VALUE; the line's name is compared as written, the list's canonicalized.
  if (!libs!.includes(o.oauthValidator!)) {
    reject(`validator "${o.oauthValidator}" is not permitted by oauth_validator_libraries`, undefined, true, '22023');
  }
}

/**
 * SplitDirectoriesString(value, ','): like SplitGUCList, but each entry is a path that gets
 * canonicalized and an unquoted entry may contain blanks inside it. Null on a syntax error.
 */
export function splitDirectoriesString(raw: string): string[] | null {
  return scanCommaList(raw, (i) => {
    let end = i;
    while (end < raw.length && raw[end] !== ',') end++;
    const name = raw.slice(i, end).replace(/[ \t\n\r\f\v]+$/, '');
    return name === '' ? null : { name, next: end };
  }, canonicalizePath);
}

/** C atoi(): leading blanks, optional sign, digits; garbage after the digits is ignored. Result is an int. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(s)!;
  if (m[2] === '') return 0;
  let v = BigInt(m[2]!);
  const LONG_MAX = 2n ** 63n - 1n;
  if (v > LONG_MAX) v = m[1] === '-' ? LONG_MAX + 1n : LONG_MAX; // strtol clamps
  if (m[1] === '-') v = -v;
  return Number(BigInt.asIntN(32, v)); // (int) cast wraps on gcc
}

const isScannerSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/**
 * SplitGUCList(value, ','): trims blanks, honours double quotes (with `""`), rejects empty
 * unquoted items. An empty or all-blank string is an empty list. Returns null on a syntax error.
 */
export function splitGucList(raw: string): string[] | null {
  return scanCommaList(raw, (i) => {
    let end = i;
    while (end < raw.length && raw[end] !== ',' && !isScannerSpace(raw[end])) end++;
    return end === i ? null : { name: raw.slice(i, end), next: end };
  }, (name) => name);
}

/**
 * The scanner SplitGUCList and SplitDirectoriesString share: blanks around items, double-quoted
 * items with `""` for a quote, commas between. `unquoted` reads a bare item starting at i (null:
 * syntax error); `finish` turns each item into what goes in the list.
 */
function scanCommaList(
  raw: string,
  unquoted: (i: number) => { name: string; next: number } | null,
  finish: (name: string) => string,
): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (isScannerSpace(raw[i])) i++;
  if (i >= raw.length) return out;
  for (;;) {
    let name: string;
    if (raw[i] === '"') {
      name = '';
      i++;
      for (;;) {
        const close = raw.indexOf('"', i);
        if (close === -1) return null;
        name += raw.slice(i, close);
        if (raw[close + 1] === '"') {
          name += '"';
          i = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
    } else {
      const item = unquoted(i);
      if (!item) return null;
      name = item.name;
      i = item.next;
    }
    while (isScannerSpace(raw[i])) i++;
    out.push(finish(name));
    if (raw[i] === ',') {
      i++;
      while (isScannerSpace(raw[i])) i++;
      continue;
    }
    if (i >= raw.length) return out;
    return null;
  }
}
