import { expect } from 'chai';
import { PgError } from '../../src/errors.js';
import {
  atoi, formatLogMessage, hbaReloadFailureMessage, hbaStartupError, loadHbaFile, parseHbaFile, splitGucList,
  type HbaLine, type ParseHbaOptions,
} from '../../src/hba/index.js';

const PATH = '/etc/postgresql/15/main/pg_hba.conf';
const base: ParseHbaOptions = { path: PATH, sslEnabled: true, readFile: () => undefined, interfaceNames: () => ['lo', 'eth0'] };

function parse(text: string, extra: Partial<ParseHbaOptions> = {}) {
  return parseHbaFile(text, { ...base, ...extra });
}

function one(line: string, extra: Partial<ParseHbaOptions> = {}): HbaLine {
  const r = parse(line, extra);
  expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
  expect(r.lines).to.have.length(1);
  return r.lines[0]!;
}

/** [line, message, hint?]. Each is the first line of a file, so CONTEXT says line 1. */
type ErrorCase = [string, string, string?];

// Every message pg-server.md §5.3 lists, plus the rest of parse_hba_line/parse_hba_auth_opt.
// The ones marked (live) were also produced by a real PostgreSQL 15.20 from the same text.
const ERROR_CASES: ErrorCase[] = [
  ['include other.conf', 'invalid connection type "include"'], // (live)
  ['host all all 127.0.0.1 trust', 'invalid IP mask "trust": Name or service not known'], // (live)
  ['host all all 10.0.0.0/33 trust', 'invalid CIDR mask in address "10.0.0.0/33"'], // (live)
  ['host all all 127.0.0.1/32 bogus', 'invalid authentication method "bogus"'], // (live)
  ['host all all 127.0.0.1/32 md5 clientcert=verify-full', 'clientcert can only be configured for "hostssl" rows'], // (live)
  ['host all all 127.0.0.1/32 md5 foo', 'authentication option not in name=value format: foo'], // (live)
  ['host all all 127.0.0.1/32 md5 map=x', 'authentication option "map" is only valid for authentication methods ident, peer, gssapi, sspi, and cert'], // (live)
  ['host all all 127.0.0.1/32 peer', 'peer authentication is only supported on local sockets'], // (live)
  ['hostssl all all 127.0.0.1/32 cert clientcert=verify-ca', 'clientcert only accepts "verify-full" when using "cert" authentication'], // (live)
  ['host all', 'end-of-line before role specification'], // (live)
  ['host all all', 'end-of-line before IP address specification'], // (live)
  ['host all all 127.0.0.1/32,10.0.0.1/32 trust', 'multiple values specified for host address', 'Specify one address range per line.'], // (live)
  ['host all all 127.0.0.1/32 md5 ldapserver=x', 'authentication option "ldapserver" is only valid for authentication methods ldap'], // (live)
  ['host all all 127.0.0.1/32 cert', 'cert authentication is only supported on hostssl connections'], // (live)
  ['host,local all all 127.0.0.1/32 trust', 'multiple values specified for connection type', 'Specify exactly one connection type per line.'], // (live)
  ['host', 'end-of-line before database specification'], // (live)
  ['host all all 10.0.0.1', 'end-of-line before netmask specification', 'Specify an address range in CIDR notation, or provide a separate netmask.'], // (live)
  ['host all all 10.0.0.1 255.0.0.0,255.255.0.0 trust', 'multiple values specified for netmask'], // (live)
  ['host all all example.com/24 trust', 'specifying both host name and CIDR mask is invalid: "example.com/24"'], // (live)
  ['host all all 10.0.0.1 ::ffff:0:0 trust', 'IP address and mask do not match'], // (live)
  ['host all all 127.0.0.1/32', 'end-of-line before authentication method'], // (live)
  ['host all all 127.0.0.1/32 md5,trust', 'multiple values specified for authentication type', 'Specify exactly one authentication type per line.'], // (live)
  ['host all all 127.0.0.1/32 bsd', 'invalid authentication method "bsd": not supported by this build'], // (live)
  ['host all all 127.0.0.1/32 sspi', 'invalid authentication method "sspi": not supported by this build'], // (live)
  ['local all all gss', 'gssapi authentication is not supported on local sockets'], // (live)
  ['host all all 127.0.0.1/32 md5 bogusopt=1', 'unrecognized authentication option name: "bogusopt"'], // (live)
  ['host all all 127.0.0.1/32 md5 =x', 'unrecognized authentication option name: ""'], // (live)
  ['hostssl all all 127.0.0.1/32 md5 clientcert=no-verify', 'invalid value for clientcert: "no-verify"'], // (live)
  ['hostssl all all 127.0.0.1/32 md5 clientcert=1', 'invalid value for clientcert: "1"'], // (live)
  ['hostssl all all 127.0.0.1/32 md5 clientname=XX', 'invalid value for clientname: "XX"'], // (live)
  ['host all all 127.0.0.1/32 md5 clientname=CN', 'clientname can only be configured for "hostssl" rows'], // (live)
  ['host all all 127.0.0.1/32 md5 pamservice=x', 'authentication option "pamservice" is only valid for authentication methods pam'], // (live)
  ['host all all 127.0.0.1/32 md5 pam_use_hostname=1', 'authentication option "pam_use_hostname" is only valid for authentication methods pam'],
  ['host all all 127.0.0.1/32 md5 krb_realm=X', 'authentication option "krb_realm" is only valid for authentication methods gssapi and sspi'], // (live)
  ['host all all 127.0.0.1/32 md5 include_realm=0', 'authentication option "include_realm" is only valid for authentication methods gssapi and sspi'],
  ['host all all 127.0.0.1/32 gss compat_realm=1', 'authentication option "compat_realm" is only valid for authentication methods sspi'], // (live)
  ['host all all 127.0.0.1/32 gss upn_username=1', 'authentication option "upn_username" is only valid for authentication methods sspi'],
  ['host all all 127.0.0.1/32 md5 ldaptls=1', 'authentication option "ldaptls" is only valid for authentication methods ldap'], // (live)
  ['host all all 127.0.0.1/32 md5 radiusservers=x', 'authentication option "radiusservers" is only valid for authentication methods radius'],
  ['host all all 127.0.0.1/32 radius', 'authentication method "radius" requires argument "radiusservers" to be set'], // (live)
  ['host all all 127.0.0.1/32 radius radiusservers=127.0.0.1', 'authentication method "radius" requires argument "radiussecrets" to be set'], // (live)
  ['host all all 127.0.0.1/32 radius radiusservers="" radiussecrets=a', 'authentication method "radius" requires argument "radiusservers" to be set'], // (live)
  ['host all all 127.0.0.1/32 radius radiusservers="127.0.0.1,127.0.0.2,127.0.0.3" radiussecrets="a,b"', 'the number of RADIUS secrets (2) must be 1 or the same as the number of RADIUS servers (3)'], // (live)
  ['host all all 127.0.0.1/32 radius radiusservers="127.0.0.1,127.0.0.2" radiussecrets=a radiusports="1,2,3"', 'the number of RADIUS ports (3) must be 1 or the same as the number of RADIUS servers (2)'], // (live)
  ['host all all 127.0.0.1/32 radius radiusservers="127.0.0.1,127.0.0.2" radiussecrets=a radiusidentifiers="x,y,z"', 'the number of RADIUS identifiers (3) must be 1 or the same as the number of RADIUS servers (2)'], // (live)
  ['host all all 127.0.0.1/32 radius radiusservers=127.0.0.1 radiussecrets=a radiusports=abc', 'invalid RADIUS port number: "abc"'], // (live)
  ['host all all 127.0.0.1/32 radius radiusservers="127.0.0.1,,x" radiussecrets=a', 'could not parse RADIUS server list "127.0.0.1,,x"'], // (live)
  ['host all all 127.0.0.1/32 radius radiusservers=h radiussecrets="a,,b"', 'could not parse RADIUS secret list "a,,b"'],
  ['host all all 127.0.0.1/32 radius radiusservers=h radiussecrets=a radiusports="1,"', 'could not parse RADIUS port list "1,"'],
  ['host all all 127.0.0.1/32 radius radiusservers=h radiussecrets=a radiusidentifiers=",x"', 'could not parse RADIUS identifiers list ",x"'],
  ['host all all 127.0.0.1/32 radius radiusservers=127.0.0.1,127.0.0.2 radiussecrets=a', 'authentication option not in name=value format: 127.0.0.2'], // (live)
  ['host all all 127.0.0.1/32 ldap ldapurl="ldap://h"', 'authentication method "ldap" requires argument "ldapbasedn", "ldapprefix", or "ldapsuffix" to be set'], // (live)
  ['host all all 127.0.0.1/32 ldap ldapurl="ldap://h/dc=x?uid?sub?(uid=x)" ldapprefix=x', 'cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, ldapsearchfilter, or ldapurl together with ldapprefix'], // (live)
  ['host all all 127.0.0.1/32 ldap ldapsuffix=s ldapbinddn=b', 'cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, ldapsearchfilter, or ldapurl together with ldapprefix'], // (live)
  ['host all all 127.0.0.1/32 ldap ldapport=abc ldapbasedn=x', 'invalid LDAP port number: "abc"'], // (live)
  ['host all all 127.0.0.1/32 ldap ldapport=0x10 ldapbasedn=x', 'invalid LDAP port number: "0x10"'], // (live)
  ['host all all 127.0.0.1/32 ldap ldapsearchattribute=a ldapsearchfilter=b ldapbasedn=x', 'cannot use ldapsearchattribute together with ldapsearchfilter'], // (live)
  ['host all all 127.0.0.1/32 md5 clientcert', 'authentication option not in name=value format: clientcert'], // (live)
  ['host all all 127.0.0.1/32 trust extra', 'authentication option not in name=value format: extra'], // (live)
  ['host all all samehost samenet', 'invalid authentication method "samenet"'], // (live)
  ['host all all 10.0.0.0/ trust', 'invalid CIDR mask in address "10.0.0.0/"'], // (live)
  ['host all all ::1/129 trust', 'invalid CIDR mask in address "::1/129"'], // (live)
  ['host all all 10.0.0.0 ::1 trust', 'IP address and mask do not match'], // (live)
  ['host all all 10.0.0.1 255.0.0.0/8 trust', 'invalid IP mask "255.0.0.0/8": Name or service not known'], // (live)
  ['host all all 10.0.0.1 "" trust', 'invalid IP mask "": Name or service not known'], // (live)
  ['host all all 1::2::3 255.0.0.0 trust', 'invalid authentication method "255.0.0.0"'], // (live) 1::2::3 is a host name
  ['host all all /8 trust', 'specifying both host name and CIDR mask is invalid: "/8"'], // (live)
  ['host all all 08.0.0.1/8 trust', 'specifying both host name and CIDR mask is invalid: "08.0.0.1/8"'], // (live) 08 is bad octal
  ['host all all 256.1.1.1/8 trust', 'specifying both host name and CIDR mask is invalid: "256.1.1.1/8"'], // (live)
  ['host all all 1.2.3.4.5/8 trust', 'specifying both host name and CIDR mask is invalid: "1.2.3.4.5/8"'], // (live)
  ['host all all ::ffff:01.2.3.4/128 trust', 'specifying both host name and CIDR mask is invalid: "::ffff:01.2.3.4/128"'], // (live)
  ['host all all 1.2.3.4::/64 trust', 'specifying both host name and CIDR mask is invalid: "1.2.3.4::/64"'], // (live)
  ['host all all fe80::1%bogus/64 trust', 'specifying both host name and CIDR mask is invalid: "fe80::1%bogus/64"'], // (live)
  ['host all all 127.0.0.1/32 \\\n   md5 \\\n   foo', 'authentication option not in name=value format: foo'], // (live)
];

describe('hba parser', () => {
  describe('load errors (message, hint and CONTEXT as PG15 logs them)', () => {
    for (const [line, message, hint] of ERROR_CASES) {
      it(`${JSON.stringify(line)} → ${message}`, () => {
        const r = parse(`${line}\nlocal all all trust\n`);
        const expected: Record<string, unknown> = {
          severity: 'LOG', sqlstate: 'F0000', message, lineNumber: 1,
          context: `line 1 of configuration file "${PATH}"`,
        };
        if (hint !== undefined) expected['hint'] = hint;
        expect(r.errors).to.deep.equal([expected]);
        expect(r.ok).to.equal(false);
        // The bad line is dropped; the good one is still parsed.
        expect(r.lines.map((l) => l.lineNumber)).to.deep.equal([line.split('\n').length + 1]);
        expect(hbaStartupError(r)?.message).to.equal('could not load pg_hba.conf');
      });
    }

    const noContext: Array<[string, string]> = [
      ['ldapurl=foo', 'could not parse LDAP URL "foo": Time limit exceeded'],
      ['ldapurl="ldapi://h/dc=x"', 'unsupported LDAP URL scheme: ldapi'],
      ['ldapurl="ldap://h/dc=x?uid?bogus"', 'could not parse LDAP URL "ldap://h/dc=x?uid?bogus": Strong(er) authentication required'],
      ['ldapurl="<ldap://h/dc=x"', 'could not parse LDAP URL "<ldap://h/dc=x": Size limit exceeded'],
      ['ldapurl="ldap://h:abc/dc=x"', 'could not parse LDAP URL "ldap://h:abc/dc=x": Compare False'],
    ];
    for (const [opt, message] of noContext) {
      it(`ldap ${opt} → ${message} (no CONTEXT, as observed)`, () => {
        const r = parse(`host all all 127.0.0.1/32 ldap ${opt}`);
        expect(r.errors).to.deep.equal([{ severity: 'LOG', sqlstate: 'F0000', message, lineNumber: 1 }]);
      });
    }

    it('reports every bad line, in file order, each with its own line number', () => {
      const r = parse('host all all 10.0.0.0/33 trust\n# ok\nlocal all all bogus\nlocal all all trust\nhost x\n');
      expect(r.errors.map((e) => [e.lineNumber, e.message])).to.deep.equal([
        [1, 'invalid CIDR mask in address "10.0.0.0/33"'],
        [3, 'invalid authentication method "bogus"'],
        [5, 'end-of-line before role specification'],
      ]);
      expect(r.lines.map((l) => l.lineNumber)).to.deep.equal([4]);
    });

    it('logs tokenizer problems before any parse problem, as the server does', () => {
      const r = parse(`host all all 10.0.0.0/33 trust\nhost all @nosuch all trust\n`);
      expect(r.messages.map((m) => m.message)).to.deep.equal([
        'could not open secondary authentication file "@nosuch" as "/etc/postgresql/15/main/nosuch": No such file or directory',
        'invalid CIDR mask in address "10.0.0.0/33"',
      ]);
      expect(r.errors).to.have.length(2);
    });

    it('says "contains no entries" only when nothing else went wrong', () => {
      const empty = parse('# just a comment\n\n');
      expect(empty.errors).to.deep.equal([{ severity: 'LOG', sqlstate: 'F0000', message: `configuration file "${PATH}" contains no entries` }]);
      expect(empty.ok).to.equal(false);
      const bad = parse('host all all 10.0.0.0/33 trust\n');
      expect(bad.errors.map((e) => e.message)).to.deep.equal(['invalid CIDR mask in address "10.0.0.0/33"']);
    });

    it('formats messages as the server log prints them', () => {
      const r = parse('host all all 127.0.0.1/32,10.0.0.1/32 trust');
      expect(formatLogMessage(r.errors[0]!)).to.equal(
        'LOG:  multiple values specified for host address\nHINT:  Specify one address range per line.\n'
        + `CONTEXT:  line 1 of configuration file "${PATH}"`,
      );
      expect(formatLogMessage(r.errors[0]!, { verbose: true }).startsWith('LOG:  F0000: multiple')).to.equal(true);
    });
  });

  describe('warnings (logged, line kept)', () => {
    it('hostssl with ssl off: warning with HINT, line kept, file loads', () => {
      const r = parse('hostssl all all 127.0.0.1/32 trust\n', { sslEnabled: false });
      expect(r.ok).to.equal(true);
      expect(r.errors).to.deep.equal([]);
      expect(r.warnings).to.deep.equal([{
        severity: 'LOG', sqlstate: 'F0000', message: 'hostssl record cannot match because SSL is disabled',
        hint: 'Set ssl = on in postgresql.conf.', context: `line 1 of configuration file "${PATH}"`, lineNumber: 1,
      }]);
      expect(r.lines[0]!.connType).to.equal('hostssl');
      expect(hbaStartupError(r)).to.equal(undefined);
    });

    it('hostssl with ssl off still reports a later error on the same line after the warning', () => {
      const r = parse('hostssl all all 127.0.0.1/32 bogus\nlocal all all trust', { sslEnabled: false });
      expect(r.messages.map((m) => m.message)).to.deep.equal([
        'hostssl record cannot match because SSL is disabled', 'invalid authentication method "bogus"',
      ]);
      expect(r.warnings).to.have.length(1);
      expect(r.errors).to.have.length(1);
    });

    it('an invalid ldapscheme is logged but accepted, as in PG15', () => {
      const r = parse('host all all 127.0.0.1/32 ldap ldapscheme=foo ldapserver=h ldapbasedn=x');
      expect(r.ok).to.equal(true);
      expect(r.warnings.map((w) => w.message)).to.deep.equal(['invalid ldapscheme value: "foo"']);
      expect(r.lines[0]!.options.ldapScheme).to.equal('foo');
    });

    it('a file whose only rule drew a warning loads (no "contains no entries")', () => {
      const r = parse('host all all 127.0.0.1/32 ldap ldapscheme=x ldapbasedn=y\n');
      expect(r.ok).to.equal(true);
      expect(r.messages.map((m) => m.message)).to.deep.equal(['invalid ldapscheme value: "x"']);
    });

    it('hostgssenc on a build without GSSAPI is only a warning; gss itself is an error', () => {
      const noGss = { build: { gssapi: false } };
      const r = parse('hostgssenc all all all md5\nhost all all all gss', noGss);
      expect(r.warnings.map((w) => w.message)).to.deep.equal(['hostgssenc record cannot match because GSSAPI is not supported by this build']);
      expect(r.errors.map((w) => w.message)).to.deep.equal(['invalid authentication method "gss": not supported by this build']);
    });

    it('build features come from one place and can be overridden', () => {
      expect(parse('host all all all bsd', { build: { bsdAuth: true } }).errors).to.deep.equal([]);
      expect(parse('host all all all pam', { build: { pam: false } }).errors[0]!.message)
        .to.equal('invalid authentication method "pam": not supported by this build');
      expect(parse('hostssl all all all cert', { build: { ssl: false } }).messages.map((m) => m.message)).to.deep.equal([
        'hostssl record cannot match because SSL is not supported by this build',
        'invalid authentication method "cert": not supported by this build',
      ]);
    });

    it('refuses md5 when db_user_namespace is on', () => {
      expect(parse('host all all all md5', { dbUserNamespace: true }).errors[0]!.message)
        .to.equal('MD5 authentication is not supported when "db_user_namespace" is enabled');
    });
  });

  describe('field forms', () => {
    it('keeps every connection type', () => {
      const types = ['local', 'host', 'hostssl', 'hostnossl', 'hostgssenc', 'hostnogssenc'];
      const text = types.map((t) => (t === 'local' ? 'local all all trust' : `${t} all all all trust`)).join('\n');
      expect(parse(text).lines.map((l) => l.connType)).to.deep.equal(types);
    });

    it('accepts quoted TYPE and METHOD words (PG compares the text only)', () => {
      const l = one('"local" "all" "all" "trust"');
      expect([l.connType, l.method]).to.deep.equal(['local', 'trust']);
      expect(l.databases).to.deep.equal([{ string: 'all', quoted: true }]);
    });

    it('keeps database and role lists with their quoted flags', () => {
      const l = one('host db1,"db 2",sameuser +grp,"+grp",all 127.0.0.1/32 md5');
      expect(l.databases).to.deep.equal([
        { string: 'db1', quoted: false }, { string: 'db 2', quoted: true }, { string: 'sameuser', quoted: false },
      ]);
      expect(l.roles).to.deep.equal([
        { string: '+grp', quoted: false }, { string: '+grp', quoted: true }, { string: 'all', quoted: false },
      ]);
      expect(l.address).to.deep.equal({ kind: 'cidr', family: 4, address: new Uint8Array([127, 0, 0, 1]), mask: new Uint8Array([255, 255, 255, 255]), text: '127.0.0.1/32' });
    });

    it('has no address for local lines', () => {
      expect(one('local all all peer').address).to.equal(undefined);
    });

    const addressCases: Array<[string, unknown]> = [
      ['all', { kind: 'all' }],
      ['samehost', { kind: 'samehost' }],
      ['samenet', { kind: 'samenet' }],
      ['"all"', { kind: 'hostname', hostname: 'all' }],
      ['"samehost"', { kind: 'hostname', hostname: 'samehost' }],
      ['db.example.com', { kind: 'hostname', hostname: 'db.example.com' }],
      ['.example.com', { kind: 'hostname', hostname: '.example.com' }],
      ['""', { kind: 'hostname', hostname: '' }],
    ];
    for (const [addr, want] of addressCases) {
      it(`address ${addr}`, () => expect(one(`host all all ${addr} trust`).address).to.deep.equal(want));
    }

    const cidrCases: Array<[string, 4 | 6, number[], number[]]> = [
      ['10.1.0.0/16', 4, [10, 1, 0, 0], [255, 255, 0, 0]],
      ['10.1.2.3/0', 4, [10, 1, 2, 3], [0, 0, 0, 0]],
      ['10.0.0.0/+8', 4, [10, 0, 0, 0], [255, 0, 0, 0]],
      ['"10.0.0.0/ 8"', 4, [10, 0, 0, 0], [255, 0, 0, 0]],
      ['10.0.0.0/-0', 4, [10, 0, 0, 0], [0, 0, 0, 0]],
      ['127.1/32', 4, [127, 0, 0, 1], [255, 255, 255, 255]],
      ['010.0.0.1/8', 4, [8, 0, 0, 1], [255, 0, 0, 0]],
      ['10.0.0.0 255.255.0.0', 4, [10, 0, 0, 0], [255, 255, 0, 0]],
      ['0x7f.1 255.255.0', 4, [127, 0, 0, 1], [255, 255, 0, 0]],
      ['10.0.0.0 255.0.255.0', 4, [10, 0, 0, 0], [255, 0, 255, 0]],
      ['::1/128', 6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], Array(16).fill(255)],
      ['fe80::/10', 6, [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [255, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
      ['::ffff:1.2.3.4/128', 6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4], Array(16).fill(255)],
      ['fe80::1%lo/64', 6, [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [...Array(8).fill(255), ...Array(8).fill(0)]],
      ['fe80::1%2 ffff::', 6, [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [255, 255, ...Array(14).fill(0)]],
    ];
    for (const [spec, family, address, mask] of cidrCases) {
      it(`address/mask ${spec}`, () => {
        const a = one(`host all all ${spec} trust`).address;
        expect(a?.kind).to.equal('cidr');
        if (a?.kind !== 'cidr') return;
        expect([a.family, Array.from(a.address), Array.from(a.mask)]).to.deep.equal([family, address, mask]);
      });
    }

    it('keeps the address and mask text', () => {
      const a = one('host all all 10.0.0.0 255.0.0.0 trust').address;
      expect(a).to.include({ text: '10.0.0.0', maskText: '255.0.0.0' });
    });

    it('takes every method word', () => {
      const lines: Array<[string, string]> = [
        ['host all all all trust', 'trust'], ['host all all all reject', 'reject'], ['host all all all md5', 'md5'],
        ['host all all all scram-sha-256', 'scram-sha-256'], ['host all all all password', 'password'],
        ['hostssl all all all cert', 'cert'], ['host all all all gss', 'gss'], ['host all all all ident', 'ident'],
        ['local all all peer', 'peer'], ['host all all all ldap ldapbasedn=x', 'ldap'],
        ['host all all all radius radiusservers=h radiussecrets=s', 'radius'], ['host all all all pam', 'pam'],
      ];
      const r = parse(lines.map(([l]) => l).join('\n'));
      expect(r.errors).to.deep.equal([]);
      expect(r.lines.map((l) => l.method)).to.deep.equal(lines.map(([, m]) => m));
    });

    it('turns ident into peer on local lines only', () => {
      expect(one('local all all ident map=m').method).to.equal('peer');
      expect(one('host all all all ident').method).to.equal('ident');
    });
  });

  describe('options', () => {
    it('cert forces clientcert=verify-full and accepts map and clientname', () => {
      const l = one('hostssl all all all cert map=certmap clientname=DN');
      expect(l.options).to.include({ clientcert: 'verify-full', clientname: 'DN', map: 'certmap' });
    });

    it('clientcert=verify-ca on a hostssl password line', () => {
      const l = one('hostssl all all all scram-sha-256 clientcert=verify-ca');
      expect(l.options.clientcert).to.equal('verify-ca');
      expect(l.options.clientname).to.equal('CN');
    });

    it('has no clientcert unless asked', () => {
      expect(one('hostssl all all all md5').options.clientcert).to.equal(undefined);
    });

    it('records settings in order and defaults realms for gss', () => {
      const l = one('host all all all gss krb_realm=EXAMPLE.COM include_realm=0 map=m');
      expect(l.options.settings).to.deep.equal([['krb_realm', 'EXAMPLE.COM'], ['include_realm', '0'], ['map', 'm']]);
      expect(l.options).to.include({ krbRealm: 'EXAMPLE.COM', includeRealm: false, map: 'm' });
      expect(one('host all all all gss').options.includeRealm).to.equal(true);
    });

    it('takes options from several fields and from @files', () => {
      const r = parseHbaFile('host all all all pam @opts.txt', {
        ...base, readFile: (p) => (p === '/etc/postgresql/15/main/opts.txt' ? 'pamservice=svc\npam_use_hostname=1' : undefined),
      });
      expect(r.lines[0]!.options).to.include({ pamservice: 'svc', pamUseHostname: true });
    });

    it('parses ldapurl into its parts', () => {
      const l = one('host all all all ldap ldapurl="ldaps://ldap.example.com:1636/dc=example,dc=com?uid?one"');
      expect(l.options).to.include({
        ldapScheme: 'ldaps', ldapServer: 'ldap.example.com', ldapPort: 1636, ldapBaseDn: 'dc=example,dc=com',
        ldapSearchAttribute: 'uid', ldapScope: 'one',
      });
    });

    it('resets the LDAP scope to subtree when another option follows ldapurl (PG15 quirk)', () => {
      expect(one('host all all all ldap ldapurl="ldap://h/dc=x??base" ldaptls=1').options.ldapScope).to.equal('sub');
    });

    it('accepts an ldap line without ldapserver on OpenLDAP builds but not otherwise', () => {
      expect(parse('host all all all ldap ldapbasedn=x').errors).to.deep.equal([]);
      expect(parse('host all all all ldap ldapbasedn=x', { build: { openLdap: false } }).errors[0]!.message)
        .to.equal('authentication method "ldap" requires argument "ldapserver" to be set');
    });

    it('splits RADIUS lists and checks server names through the injected resolver', () => {
      const l = one('host all all all radius radiusservers="a, b" radiussecrets=s radiusports=1812 radiusidentifiers="x,y"');
      expect(l.options).to.deep.include({ radiusServers: ['a', 'b'], radiusSecrets: ['s'], radiusPorts: ['1812'], radiusIdentifiers: ['x', 'y'] });
      const r = parse('host all all all radius radiusservers=nowhere radiussecrets=s', {
        resolveHost: (n) => (n === 'nowhere' ? 'Name or service not known' : null),
      });
      expect(r.errors[0]!.message).to.equal('could not translate RADIUS server name "nowhere" to address: Name or service not known');
    });
  });

  describe('lines and raw text', () => {
    it('stores the joined raw line and the first line number for continued rules', () => {
      const l = parse('# x\nhost all      contuser \\\n127.0.0.1/32      password # trailing\n').lines[0]!;
      expect(l.lineNumber).to.equal(2);
      expect(l.rawLine).to.equal('host all      contuser 127.0.0.1/32      password # trailing');
    });

    it('keeps @file references in the raw line', () => {
      const r = parseHbaFile('host all @users.txt 127.0.0.1/32 password', {
        ...base, readFile: (p) => (p.endsWith('/users.txt') ? 'a\n"b c"' : undefined),
      });
      expect(r.lines[0]!.rawLine).to.equal('host all @users.txt 127.0.0.1/32 password');
      expect(r.lines[0]!.roles.map((t) => t.string)).to.deep.equal(['a', 'b c']);
    });
  });

  describe('outcomes', () => {
    it('is a FATAL "could not load pg_hba.conf" (XX000) at startup', () => {
      const err = hbaStartupError(parse('host all all 10.0.0.0/33 trust'));
      expect(err).to.be.instanceOf(PgError);
      expect(err!.fields).to.deep.equal({ severity: 'FATAL', sqlstate: 'XX000', message: 'could not load pg_hba.conf' });
    });

    it('is the descriptor FATAL itself for endless @file recursion, with nothing parsed', () => {
      const r = parseHbaFile('host all all 10.0.0.0/33 trust\nhost all @loop all trust', {
        ...base, readFile: (p) => (p.endsWith('/loop') ? '@loop' : undefined),
      });
      expect(r.ok).to.equal(false);
      expect(r.messages).to.have.length(1);
      expect(hbaStartupError(r)!.fields).to.deep.equal({
        severity: 'FATAL', sqlstate: '53000',
        message: 'exceeded maxAllocatedDescs (328) while trying to open file "/etc/postgresql/15/main/loop"',
      });
    });

    it('logs "pg_hba.conf was not reloaded" on a failed reload', () => {
      expect(hbaReloadFailureMessage().message).to.equal('pg_hba.conf was not reloaded');
    });

    it('loadHbaFile reports a missing pg_hba.conf', () => {
      const r = loadHbaFile({ ...base, readFile: () => undefined });
      expect(r.ok).to.equal(false);
      expect(r.errors).to.deep.equal([{
        severity: 'LOG', sqlstate: '58P01', message: `could not open configuration file "${PATH}": No such file or directory`,
      }]);
      expect(hbaStartupError(r)!.message).to.equal('could not load pg_hba.conf');
    });

    it('loadHbaFile reads and parses through readFile', () => {
      const r = loadHbaFile({ ...base, readFile: (p) => (p === PATH ? 'local all all trust\n' : undefined) });
      expect(r.ok).to.equal(true);
      expect(r.lines[0]!.method).to.equal('trust');
    });

    it('refuses server versions whose rules are not implemented', () => {
      expect(() => parse('local all all trust', { serverVersion: 14 })).to.throw(RangeError, 'PostgreSQL 14');
      expect(() => parse('local all all trust', { serverVersion: 19 })).to.throw(RangeError, 'PostgreSQL 19');
      for (const v of [15, 16, 17, 18]) expect(parse('local all all trust', { serverVersion: v }).ok).to.equal(true);
    });
  });

  describe('C helpers', () => {
    const atoiCases: Array<[string, number]> = [['389', 389], ['  42x', 42], ['-7', -7], ['abc', 0], ['0x10', 0], ['', 0], ['4294967297', 1]];
    for (const [s, n] of atoiCases) it(`atoi(${JSON.stringify(s)}) = ${n}`, () => expect(atoi(s)).to.equal(n));

    const gucCases: Array<[string, string[] | null]> = [
      ['a,b', ['a', 'b']], [' a , b ', ['a', 'b']], ['', []], ['   ', []], ['"a b",c', ['a b', 'c']],
      ['"a""b"', ['a"b']], ['a,,b', null], ['a,', null], ['"open', null], ['a b', null],
    ];
    for (const [s, want] of gucCases) it(`SplitGUCList(${JSON.stringify(s)})`, () => expect(splitGucList(s)).to.deep.equal(want));
  });
});
