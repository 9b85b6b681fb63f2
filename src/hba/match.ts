/**
 * pg_hba.conf matching, following hba.c (check_hba, check_db, check_role, is_member, check_ip,
 * check_hostname, check_same_host_or_net). First matching line wins. Lines parsed with 16+
 * rules carry compiled `/regex` tokens, which match after the keywords and before exact names.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { AuthToken } from './tokenize.js';
import { hbaVersionRules } from './build.js';
import type { HbaLine } from './parse.js';
import {
  clientAddress, EAI_NONAME_TEXT, formatAddress, inRange, parseStrictAddress, sameAddress, cidrMask,
  type NumericAddress,
} from './inet.js';

export interface HbaConnection {
  /** Arrived over the Unix socket. */
  isLocal: boolean;
  sslInUse: boolean;
  gssEncInUse: boolean;
  /**
   * Client IP for TCP connections, IPv4 or IPv6. `::ffff:a.b.c.d` (what Node reports on a
   * dual-stack socket) is treated as the IPv4 client PG would see on its V6ONLY sockets.
   */
  remoteAddress?: string;
  database: string;
  user: string;
  /**
   * A physical-replication walsender (`replication=true`). Such connections match only the
   * `replication` keyword. Logical replication (`replication=database`) is a normal connection here.
   */
  isReplication: boolean;
}

export interface RoleLookup {
  exists(name: string): boolean;
  /**
   * Direct or indirect membership of `user` in `group`, superuser status NOT counting
   * (is_member_of_role_nosuper). checkHba already treats a role as a member of itself and
   * already answers "no" when either role is missing.
   */
  isMember(user: string, group: string): boolean;
}

export interface InterfaceAddress {
  address: string;
  netmask: string;
}

export type ReverseLookup = { hostname: string } | { error: string };
export type ForwardLookup = { addresses: string[] } | { error: string };

/** Synchronous stand-ins for getnameinfo(NI_NAMEREQD) and getaddrinfo(). Errors are gai_strerror texts. */
export interface HostnameResolver {
  reverse(ip: string): ReverseLookup;
  forward(hostname: string): ForwardLookup;
}

/**
 * The Port fields PG keeps about the client's host name. Pass one in to see what matching
 * found (auth.c prints it in the implicit-reject DETAIL), or pre-fill it as log_hostname does.
 */
export interface HostnameLookupState {
  remoteHostname?: string;
  /** 0 = not checked, +1 = forward lookup matches, -1 = does not match, -2 = lookup failed. */
  resolv: 0 | 1 | -1 | -2;
  errorText?: string;
}

export interface HbaMatchEnv {
  roles: RoleLookup;
  /** The server's interface addresses for samehost/samenet. Default: os.networkInterfaces(). */
  serverAddresses?: () => InterfaceAddress[];
  /**
   * Reverse and forward lookups for host-name ADDRESS fields. Default: /etc/hosts only, no DNS
   * (see etcHostsResolver), which is enough for `localhost`; inject a resolver for real names.
   */
  resolveHostname?: HostnameResolver;
  hostnameState?: HostnameLookupState;
}

export interface ImplicitReject {
  method: 'implicit-reject';
  lineNumber: 0;
  rawLine: '';
}

/** What check_hba returns when no line matched (uaImplicitReject). */
export const IMPLICIT_REJECT: Readonly<ImplicitReject> = Object.freeze({ method: 'implicit-reject', lineNumber: 0, rawLine: '' });

export function isImplicitReject(m: HbaLine | ImplicitReject): m is ImplicitReject {
  return m.method === 'implicit-reject';
}

const isKeyword = (t: AuthToken, k: string): boolean => !t.quoted && t.string === k;

/** check_hba: the first line matching type, address, database and user, else IMPLICIT_REJECT. */
export function checkHba(lines: readonly HbaLine[], conn: HbaConnection, env: HbaMatchEnv): HbaLine | ImplicitReject {
  // The role is looked up once; a missing role is not an error here.
  const userExists = env.roles.exists(conn.user);
  const isMember = (role: string): boolean => {
    if (!userExists || !env.roles.exists(role)) return false;
    return conn.user === role || env.roles.isMember(conn.user, role);
  };
  let raddr: NumericAddress | null = null;
  if (!conn.isLocal) {
    if (conn.remoteAddress === undefined) throw new TypeError('checkHba: remoteAddress is required for TCP connections');
    raddr = clientAddress(conn.remoteAddress);
    if (raddr === null) throw new TypeError(`checkHba: not a numeric IP address: "${conn.remoteAddress}"`);
  }
  const state = env.hostnameState ?? { resolv: 0 };

  for (const hba of lines) {
    if (hba.connType === 'local') {
      if (!conn.isLocal) continue;
    } else {
      if (conn.isLocal) continue;
      if (conn.sslInUse ? hba.connType === 'hostnossl' : hba.connType === 'hostssl') continue;
      if (conn.gssEncInUse ? hba.connType === 'hostnogssenc' : hba.connType === 'hostgssenc') continue;
      if (!addressMatches(hba, raddr!, env, state)) continue;
    }
    if (!checkDb(conn, hba.databases, isMember)) continue;
    if (!checkRole(conn.user, hba.roles, isMember)) continue;
    return hba;
  }
  return IMPLICIT_REJECT;
}

function addressMatches(hba: HbaLine, raddr: NumericAddress, env: HbaMatchEnv, state: HostnameLookupState): boolean {
  const a = hba.address;
  if (a === undefined) return false;
  switch (a.kind) {
    case 'all':
      return true;
    case 'cidr':
      return inRange(raddr, { family: a.family, bytes: a.address }, a.mask);
    case 'hostname':
      return checkHostname(raddr, a.hostname, env.resolveHostname ?? etcHostsResolver(), state);
    case 'samehost':
    case 'samenet':
      return checkSameHostOrNet(raddr, a.kind, env.serverAddresses ?? osServerAddresses);
  }
}

/** check_db. */
function checkDb(conn: HbaConnection, tokens: readonly AuthToken[], isMember: (role: string) => boolean): boolean {
  for (const t of tokens) {
    if (conn.isReplication) {
      // Physical replication matches only the replication keyword ("all" does not cover it in 15).
      if (isKeyword(t, 'replication')) return true;
    } else if (isKeyword(t, 'all')) return true;
    else if (isKeyword(t, 'sameuser')) {
      if (conn.database === conn.user) return true;
    } else if (isKeyword(t, 'samegroup') || isKeyword(t, 'samerole')) {
      if (isMember(conn.database)) return true;
    } else if (isKeyword(t, 'replication')) {
      continue;
    } else if (t.regex !== undefined) {
      if (t.regex.test(conn.database)) return true;
    } else if (t.string === conn.database) return true;
  }
  return false;
}

/**
 * check_role: `+group` (unquoted) is membership, unquoted `all` anything, a 16+ `/regex`
 * (quoted or not) a pattern, the rest exact names.
 */
function checkRole(user: string, tokens: readonly AuthToken[], isMember: (role: string) => boolean): boolean {
  for (const t of tokens) {
    if (!t.quoted && t.string.startsWith('+')) {
      if (isMember(t.string.slice(1))) return true;
    } else if (isKeyword(t, 'all')) return true;
    else if (t.regex !== undefined) {
      if (t.regex.test(user)) return true;
    } else if (t.string === user) return true;
  }
  return false;
}

/**
 * The line auth.c's auth_failed() adds to the log-only DETAIL: 15 says
 * `Connection matched pg_hba.conf line N: "…"`, 16+ names the file the line was read from
 * (an included file's own path when it came through include/include_dir).
 */
export function hbaMatchDetail(line: Pick<HbaLine, 'sourceFile' | 'lineNumber' | 'rawLine'>, serverVersion: number): string {
  return hbaVersionRules(serverVersion).namesFile
    ? `Connection matched file "${line.sourceFile}" line ${line.lineNumber}: "${line.rawLine}"`
    : `Connection matched pg_hba.conf line ${line.lineNumber}: "${line.rawLine}"`;
}

/** check_same_host_or_net: samehost compares with each address exactly, samenet with its netmask. */
function checkSameHostOrNet(raddr: NumericAddress, kind: 'samehost' | 'samenet', list: () => InterfaceAddress[]): boolean {
  for (const ifa of list()) {
    const addr = parseStrictAddress(ifa.address);
    if (!addr || addr.family !== raddr.family) continue;
    let mask: Uint8Array | null;
    if (kind === 'samehost') mask = cidrMask(addr.family === 4 ? 32 : 128, addr.family);
    else mask = parseStrictAddress(ifa.netmask)?.bytes ?? null;
    if (mask && mask.length === addr.bytes.length && inRange(raddr, addr, mask)) return true;
  }
  return false;
}

function osServerAddresses(): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const ifa of list ?? []) out.push({ address: ifa.address, netmask: ifa.netmask });
  }
  return out;
}

/** hostname_match: case-insensitive; a leading dot matches as a suffix. */
export function hostnameMatch(pattern: string, actual: string): boolean {
  const p = pattern.toLowerCase();
  const h = actual.toLowerCase();
  if (p.startsWith('.')) return h.length >= p.length && h.endsWith(p);
  return p === h;
}

/** check_hostname: reverse lookup (cached in state), name match, then forward confirmation (cached). */
function checkHostname(raddr: NumericAddress, pattern: string, resolver: HostnameResolver, state: HostnameLookupState): boolean {
  if (state.resolv < 0) return false; // already known bad
  if (state.remoteHostname === undefined) {
    const r = resolver.reverse(formatAddress(raddr));
    if ('error' in r) {
      state.resolv = -2;
      state.errorText = r.error;
      return false;
    }
    state.remoteHostname = r.hostname;
  }
  if (!hostnameMatch(pattern, state.remoteHostname)) return false;
  if (state.resolv === 1) return true;

  const f = resolver.forward(state.remoteHostname);
  if ('error' in f) {
    state.resolv = -2;
    state.errorText = f.error;
    return false;
  }
  const found = f.addresses.some((a) => {
    const parsed = parseStrictAddress(a);
    return parsed !== null && sameAddress(parsed, raddr);
  });
  state.resolv = found ? 1 : -1;
  return found;
}

/**
 * The log-only DETAIL auth.c adds to "no pg_hba.conf entry" when a host name was looked up
 * (HOSTNAME_LOOKUP_DETAIL in PG15). Undefined when there is nothing to say.
 */
export function hostnameLookupDetail(state: HostnameLookupState): string | undefined {
  if (state.remoteHostname !== undefined) {
    switch (state.resolv) {
      case 1: return `Client IP address resolved to "${state.remoteHostname}", forward lookup matches.`;
      case 0: return `Client IP address resolved to "${state.remoteHostname}", forward lookup not checked.`;
      case -1: return `Client IP address resolved to "${state.remoteHostname}", forward lookup does not match.`;
      case -2: return `Could not translate client host name "${state.remoteHostname}" to IP address: ${state.errorText ?? EAI_NONAME_TEXT}.`;
    }
  }
  if (state.resolv === -2) return `Could not resolve client IP address to a host name: ${state.errorText ?? EAI_NONAME_TEXT}.`;
  return undefined;
}

/**
 * A resolver backed by an /etc/hosts-format text: what glibc answers from the "files" NSS
 * source. It does NOT query DNS, so only names listed there (typically localhost) resolve;
 * inject your own HostnameResolver for anything else. Reverse lookups give the first name of
 * the first line listing the address, as gethostbyaddr does.
 */
export function hostsFileResolver(hostsText: string): HostnameResolver {
  const entries: { addr: NumericAddress; text: string; names: string[] }[] = [];
  for (const raw of hostsText.split('\n')) {
    const fields = raw.replace(/#.*/, '').trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length < 2) continue;
    const addr = parseStrictAddress(fields[0]!);
    if (addr) entries.push({ addr, text: fields[0]!, names: fields.slice(1) });
  }
  return {
    reverse(ip) {
      const a = parseStrictAddress(ip);
      const e = a ? entries.find((x) => sameAddress(x.addr, a)) : undefined;
      return e ? { hostname: e.names[0]! } : { error: EAI_NONAME_TEXT };
    },
    forward(name) {
      const lower = name.toLowerCase();
      const addresses = entries.filter((e) => e.names.some((n) => n.toLowerCase() === lower)).map((e) => e.text);
      return addresses.length > 0 ? { addresses } : { error: EAI_NONAME_TEXT };
    },
  };
}

let cachedEtcHosts: HostnameResolver | undefined;

/** hostsFileResolver over this machine's /etc/hosts (read once). */
export function etcHostsResolver(): HostnameResolver {
  if (!cachedEtcHosts) {
    let text = '';
    try {
      text = readFileSync('/etc/hosts', 'utf8');
    } catch {
      // No hosts file: every lookup fails, as it would without DNS.
    }
    cachedEtcHosts = hostsFileResolver(text);
  }
  return cachedEtcHosts;
}

/**
 * A RoleLookup from a plain description: each role with the roles it was GRANTed into.
 * Membership is transitive; superuser status is deliberately not modelled (it never counts).
 */
export function simpleRoles(memberOf: Record<string, readonly string[]>): RoleLookup {
  const has = (n: string): boolean => Object.prototype.hasOwnProperty.call(memberOf, n);
  return {
    exists: has,
    isMember(user, group) {
      const seen = new Set<string>([user]);
      const queue = [user];
      while (queue.length > 0) {
        const r = queue.shift()!;
        if (r === group) return true;
        for (const g of (has(r) ? memberOf[r] : undefined) ?? []) {
          if (!seen.has(g)) {
            seen.add(g);
            queue.push(g);
          }
        }
      }
      return false;
    },
  };
}
