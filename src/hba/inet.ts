/**
 * Numeric address handling as PostgreSQL 15 on glibc sees it.
 *
 * hba.c parses ADDRESS and MASK with getaddrinfo(AI_NUMERICHOST). On glibc that means:
 *  - IPv4 goes through inet_aton (exact form): 1 to 4 dot-separated parts, each a C integer
 *    (0x.. hex, 0.. octal, else decimal), the last part filling the remaining bytes. So
 *    `127.1`, `0x7f.1` and the mask `255.255.0` are all accepted (observed on PG15).
 *  - IPv6 goes through inet_pton, plus an optional `%scope` that must be numeric or name an
 *    existing interface (`fe80::1%lo` accepted, `fe80::1%bogus` becomes a host name: observed).
 *  - Anything else is EAI_NONAME, which hba.c takes to be a host name.
 */

export type AddressFamily = 4 | 6;

export interface NumericAddress {
  family: AddressFamily;
  /** Network-order bytes: 4 for IPv4, 16 for IPv6. */
  bytes: Uint8Array;
}

/** glibc's gai_strerror(EAI_NONAME), the only failure AI_NUMERICHOST produces for our inputs. */
export const EAI_NONAME_TEXT = 'Name or service not known';

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

/** inet_aton without trailing garbage (glibc's __inet_aton_exact). */
export function parseInetAton(s: string): Uint8Array | null {
  const parts: number[] = [];
  let i = 0;
  for (;;) {
    if (!isDigit(s[i])) return null;
    // strtoul(cp, &end, 0)
    let value = 0;
    let digits = '';
    if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && isHex(s[i + 2])) {
      i += 2;
      while (isHex(s[i])) digits += s[i++];
      value = parseInt(digits, 16);
    } else if (s[i] === '0') {
      while (s[i] !== undefined && s[i]! >= '0' && s[i]! <= '7') digits += s[i++];
      value = parseInt(digits, 8);
    } else {
      while (isDigit(s[i])) digits += s[i++];
      value = parseInt(digits, 10);
    }
    if (value > 0xffffffff) return null;
    if (s[i] === '.') {
      if (parts.length > 2 || value > 0xff) return null;
      parts.push(value);
      i++;
      continue;
    }
    if (i !== s.length) return null;
    // The last part fills whatever bytes the earlier parts left.
    const limits = [0xffffffff, 0xffffff, 0xffff, 0xff];
    if (value > limits[parts.length]!) return null;
    let n = value;
    parts.forEach((p, idx) => { n += p * 2 ** (8 * (3 - idx)); });
    return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  }
}

/** Strict dotted quad as inet_pton(AF_INET) wants it (no leading zeros, exactly 4 parts). */
function parseInetPton4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let k = 0; k < 4; k++) {
    const p = parts[k]!;
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[k] = v;
  }
  return out;
}

/** inet_pton(AF_INET6). */
export function parseInetPton6(s: string): Uint8Array | null {
  if (s.length === 0) return null;
  const out = new Uint8Array(16);
  let head: string[] = [];
  let tail: string[] = [];
  const dbl = s.indexOf('::');
  if (dbl !== -1) {
    if (s.indexOf('::', dbl + 1) !== -1) return null;
    const left = s.slice(0, dbl);
    const right = s.slice(dbl + 2);
    head = left === '' ? [] : left.split(':');
    tail = right === '' ? [] : right.split(':');
  } else {
    head = s.split(':');
  }
  const groups: number[] = [];
  const tailGroups: number[] = [];
  const take = (list: string[], dest: number[], isLastList: boolean): boolean => {
    for (let k = 0; k < list.length; k++) {
      const g = list[k]!;
      if (g.includes('.') && isLastList && k === list.length - 1) {
        const v4 = parseInetPton4(g);
        if (!v4) return false;
        dest.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      dest.push(parseInt(g, 16));
    }
    return true;
  };
  if (dbl !== -1) {
    // an embedded IPv4 part may only come last, so never before the `::`
    if (!take(head, groups, false) || !take(tail, tailGroups, true)) return null;
    if (groups.length + tailGroups.length > 7) return null;
  } else {
    if (!take(head, groups, true) || groups.length !== 8) return null;
  }
  groups.forEach((g, k) => { out[2 * k] = g >> 8; out[2 * k + 1] = g & 0xff; });
  const start = 8 - tailGroups.length;
  tailGroups.forEach((g, k) => { out[2 * (start + k)] = g >> 8; out[2 * (start + k) + 1] = g & 0xff; });
  return out;
}

export interface NumericHostOptions {
  /** Names accepted after `%` in a scoped IPv6 address (getaddrinfo checks the interface exists). */
  interfaceNames?: () => string[];
}

/** getaddrinfo(str, AI_NUMERICHOST, AF_UNSPEC): an address, or null for EAI_NONAME. */
export function parseNumericHost(str: string, opts: NumericHostOptions = {}): NumericAddress | null {
  const v4 = parseInetAton(str);
  if (v4) return { family: 4, bytes: v4 };
  let addr = str;
  const pct = str.indexOf('%');
  if (pct !== -1) {
    addr = str.slice(0, pct);
    const scope = str.slice(pct + 1);
    const names = opts.interfaceNames?.() ?? [];
    if (!(/^[0-9]+$/.test(scope) || names.includes(scope))) return null;
  }
  const v6 = parseInetPton6(addr);
  return v6 ? { family: 6, bytes: v6 } : null;
}

/**
 * C strtol(s, &end, 10) followed by PG's "whole string consumed and non-empty" test, as
 * pg_sockaddr_cidr_mask applies it to the text after `/`. Leading blanks and a sign are
 * accepted (`10.0.0.0/+8` and `/-0` load on PG15: observed).
 */
export function strtolWhole(s: string): number | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/.exec(s);
  if (!m || s.length === 0) return null;
  const v = Number(m[2]);
  return m[1] === '-' ? -v : v;
}

/** Network mask with `bits` leading one bits, or null if out of range for the family. */
export function cidrMask(bits: number, family: AddressFamily): Uint8Array | null {
  const total = family === 4 ? 32 : 128;
  if (bits < 0 || bits > total) return null;
  const out = new Uint8Array(total / 8);
  for (let i = 0; i < out.length; i++) {
    const left = bits - 8 * i;
    out[i] = left >= 8 ? 0xff : left <= 0 ? 0 : (0xff << (8 - left)) & 0xff;
  }
  return out;
}

/** pg_range_sockaddr: (addr XOR net) AND mask == 0, families equal. */
export function inRange(addr: NumericAddress, net: NumericAddress, mask: Uint8Array): boolean {
  if (addr.family !== net.family || mask.length !== addr.bytes.length) return false;
  for (let i = 0; i < addr.bytes.length; i++) {
    if (((addr.bytes[i]! ^ net.bytes[i]!) & mask[i]!) !== 0) return false;
  }
  return true;
}

export function sameAddress(a: NumericAddress, b: NumericAddress): boolean {
  return a.family === b.family && a.bytes.every((v, i) => v === b.bytes[i]);
}

/**
 * The client address as the PG15 postmaster would have it. PG sets IPV6_V6ONLY on its IPv6
 * listen sockets, so an IPv4 client always arrives as AF_INET. Node's dual-stack sockets report
 * such a client as `::ffff:a.b.c.d`; we turn that back into IPv4 so IPv4 rules match as in PG.
 * Returns null for a string that is not a numeric address.
 */
export function clientAddress(remote: string): NumericAddress | null {
  const parsed = parseStrictAddress(remote);
  if (!parsed) return null;
  if (parsed.family === 6 && isV4Mapped(parsed.bytes)) {
    return { family: 4, bytes: parsed.bytes.slice(12) };
  }
  return parsed;
}

/** A numeric address as Node or os.networkInterfaces() prints it (dotted quad or IPv6, optional %zone). */
export function parseStrictAddress(s: string): NumericAddress | null {
  const v4 = parseInetPton4(s);
  if (v4) return { family: 4, bytes: v4 };
  const pct = s.indexOf('%');
  const v6 = parseInetPton6(pct === -1 ? s : s.slice(0, pct));
  return v6 ? { family: 6, bytes: v6 } : null;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Text form as inet_ntop writes it (IPv6 compressed per RFC 5952, lower case). */
export function formatAddress(a: NumericAddress): string {
  if (a.family === 4) return Array.from(a.bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((a.bytes[i]! << 8) | a.bytes[i + 1]!);
  if (isV4Mapped(a.bytes)) return `::ffff:${Array.from(a.bytes.slice(12)).join('.')}`;
  // Longest run of two or more zero groups becomes "::" (first one on ties).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
