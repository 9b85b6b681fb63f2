/**
 * The part of OpenLDAP's ldap_url_parse() that PG15's `ldapurl` option depends on.
 *
 * PG reports a parse failure as `could not parse LDAP URL "%s": %s` with ldap_err2string(rc),
 * but rc is an LDAP_URL_ERR_* code, so the text is that of an unrelated LDAP result code
 * (a missing scheme reads "Time limit exceeded"). Observed on PG15 with Debian's libldap.
 */

export type LdapScope = 'base' | 'one' | 'sub' | 'children';

export interface LdapUrl {
  scheme: string;
  host?: string;
  port: number;
  dn?: string;
  attrs?: string[];
  scope: LdapScope;
  filter?: string;
}

/** LDAP_URL_ERR_* codes and what ldap_err2string() prints for the same numbers. */
const URL_ERR_TEXT: Record<number, string> = {
  3: 'Time limit exceeded', // LDAP_URL_ERR_BADSCHEME
  4: 'Size limit exceeded', // LDAP_URL_ERR_BADENCLOSURE
  5: 'Compare False', // LDAP_URL_ERR_BADURL
  8: 'Strong(er) authentication required', // LDAP_URL_ERR_BADSCOPE
  9: 'Partial results and referral received', // LDAP_URL_ERR_BADFILTER
  10: 'Referral', // LDAP_URL_ERR_BADEXTS
};

export type LdapUrlResult = { ok: true; url: LdapUrl } | { ok: false; errorText: string };

const fail = (code: number): LdapUrlResult => ({ ok: false, errorText: URL_ERR_TEXT[code]! });

function hexUnescape(s: string): string {
  return s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function parseScope(s: string): LdapScope | null {
  switch (s.toLowerCase()) {
    case 'base': return 'base';
    case 'one': case 'onelevel': return 'one';
    case 'sub': case 'subtree': return 'sub';
    case 'subord': case 'subordinate': case 'children': return 'children';
    default: return null;
  }
}

/** ldap_url_parse with the historic flags: default scope base, default port by scheme, empty host = none. */
export function parseLdapUrl(input: string): LdapUrlResult {
  let rest = input;
  let enclosed = false;
  if (rest.startsWith('<')) {
    enclosed = true;
    rest = rest.slice(1);
  }
  if (rest.slice(0, 4).toLowerCase() === 'url:') rest = rest.slice(4);
  const m = /^(ldap|ldaps|ldapi):\/\//i.exec(rest);
  if (!m) return fail(3);
  const scheme = m[1]!.toLowerCase();
  rest = rest.slice(m[0].length);
  if (enclosed) {
    if (!rest.endsWith('>')) return fail(4);
    rest = rest.slice(0, -1);
  }

  let port = scheme === 'ldaps' ? 636 : scheme === 'ldap' ? 389 : 0;
  const slash = rest.indexOf('/');
  let hostport = slash === -1 ? rest : rest.slice(0, slash);
  const after = slash === -1 ? undefined : rest.slice(slash + 1);
  if (slash === -1) {
    // "Novell kludge": ldap://host?... without a DN; only the host part matters to us.
    const q = hostport.indexOf('?');
    if (q !== -1) hostport = hostport.slice(0, q);
  }

  let host = hostport;
  if (scheme !== 'ldapi') {
    let portText: string | undefined;
    if (hostport.startsWith('[')) {
      const close = hostport.indexOf(']');
      if (close === -1) return fail(5);
      host = hostport.slice(1, close);
      const tail = hostport.slice(close + 1);
      if (tail !== '' && !tail.startsWith(':')) return fail(5);
      if (tail.startsWith(':')) portText = tail.slice(1);
    } else {
      const colon = hostport.indexOf(':');
      if (colon !== -1) {
        host = hostport.slice(0, colon);
        portText = hostport.slice(colon + 1);
      }
    }
    if (portText !== undefined) {
      const p = hexUnescape(portText);
      if (!/^[ \t\n\v\f\r]*[+-]?[0-9]+$/.test(p)) return fail(5);
      const n = parseInt(p.trim(), 10);
      if (n !== 0) port = n;
    }
  }
  host = hexUnescape(host);
  const url: LdapUrl = { scheme, port, scope: 'base' };
  if (host !== '') url.host = host;
  if (after === undefined) return { ok: true, url };

  const pieces = after.split('?');
  if (pieces.length > 5) return fail(5);
  const [dn, attrs, scope, filter, exts] = pieces;
  url.dn = hexUnescape(dn ?? '');
  if (attrs !== undefined && attrs !== '') {
    url.attrs = hexUnescape(attrs).split(',').filter((a) => a !== '');
  }
  if (scope !== undefined && scope !== '') {
    const sc = parseScope(hexUnescape(scope));
    if (sc === null) return fail(8);
    url.scope = sc;
  }
  if (filter !== undefined && filter !== '') {
    const f = hexUnescape(filter);
    // A filter that unescapes to an empty C string ("%00") is rejected.
    if (f === '' || f.startsWith('\0')) return fail(9);
    url.filter = f;
  }
  if (exts !== undefined) {
    const list = exts.split(',').filter((e) => e !== '');
    if (list.length === 0) return fail(10);
  }
  return { ok: true, url };
}
