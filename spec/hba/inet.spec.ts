import { expect } from 'chai';
import {
  cidrMask, clientAddress, formatAddress, parseInetAton, parseInetPton6, parseLdapUrl, parseNumericHost, strtolWhole,
} from '../../src/hba/index.js';

const bytes = (u: Uint8Array | null | undefined): number[] | null => (u ? Array.from(u) : null);

describe('hba address helpers', () => {
  describe('inet_aton forms (what getaddrinfo accepts for IPv4 on glibc)', () => {
    const cases: Array<[string, number[] | null]> = [
      ['127.0.0.1', [127, 0, 0, 1]],
      ['127.1', [127, 0, 0, 1]],
      ['10.65536', [10, 1, 0, 0]],
      ['1.2.772', [1, 2, 3, 4]],
      ['3232235777', [192, 168, 1, 1]],
      ['0x7f.1', [127, 0, 0, 1]],
      ['0X7F.0.0.01', [127, 0, 0, 1]],
      ['010.0.0.1', [8, 0, 0, 1]],
      ['255.255.0', [255, 255, 0, 0]],
      ['08.0.0.1', null],
      ['0x', null],
      ['1.2.3.4.5', null],
      ['256.1.1.1', null],
      ['1.2.3.256', null],
      ['1.2.65536', null],
      ['4294967296', null],
      ['1..2', null],
      ['1.2.3.', null],
      ['.1', null],
      ['+1', null],
      ['1.2.3.4 ', null],
      ['', null],
    ];
    for (const [s, want] of cases) it(JSON.stringify(s), () => expect(bytes(parseInetAton(s))).to.deep.equal(want));
  });

  describe('inet_pton6', () => {
    const z = (tail: number[]): number[] => [...Array(16 - tail.length).fill(0), ...tail];
    const cases: Array<[string, number[] | null]> = [
      ['::', z([])],
      ['::1', z([1])],
      ['1::', [0, 1, ...Array(14).fill(0)]],
      ['fd00::2', [0xfd, 0, ...Array(13).fill(0), 2]],
      ['1:2:3:4:5:6:7:8', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
      ['1:2:3:4:5:6:7::', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]],
      ['::ffff:1.2.3.4', z([0xff, 0xff, 1, 2, 3, 4])],
      ['ABCD::', [0xab, 0xcd, ...Array(14).fill(0)]],
      ['1:2:3:4:5:6:7:8:9', null],
      ['1:2:3:4:5:6:7:8::', null],
      ['1::2::3', null],
      [':1::', null],
      ['1:', null],
      ['12345::', null],
      ['::ffff:01.2.3.4', null],
      ['1.2.3.4::', null],
      ['::1.2.3', null],
      ['g::', null],
    ];
    for (const [s, want] of cases) it(JSON.stringify(s), () => expect(bytes(parseInetPton6(s))).to.deep.equal(want));
  });

  describe('numeric host with scope', () => {
    const opts = { interfaceNames: () => ['lo', 'eth0'] };
    it('accepts a numeric scope or a known interface', () => {
      expect(parseNumericHost('fe80::1%2', opts)?.family).to.equal(6);
      expect(parseNumericHost('fe80::1%eth0', opts)?.family).to.equal(6);
    });
    it('treats an unknown interface as not numeric (a host name to PG)', () => {
      expect(parseNumericHost('fe80::1%bogus', opts)).to.equal(null);
      expect(parseNumericHost('1.2.3.4%1', opts)).to.equal(null);
    });
  });

  describe('CIDR bits', () => {
    const cases: Array<[string, number | null]> = [['8', 8], ['+8', 8], [' 8', 8], ['-0', 0], ['', null], ['8x', null], ['8 ', null]];
    for (const [s, want] of cases) it(`strtol ${JSON.stringify(s)}`, () => expect(strtolWhole(s)).to.equal(want));

    it('builds masks and rejects out-of-range bit counts', () => {
      expect(bytes(cidrMask(20, 4))).to.deep.equal([255, 255, 240, 0]);
      expect(bytes(cidrMask(0, 4))).to.deep.equal([0, 0, 0, 0]);
      expect(bytes(cidrMask(33, 4))).to.equal(null);
      expect(bytes(cidrMask(-1, 6))).to.equal(null);
      expect(bytes(cidrMask(65, 6))).to.deep.equal([...Array(8).fill(255), 0x80, ...Array(7).fill(0)]);
    });
  });

  describe('client addresses', () => {
    it('maps ::ffff:a.b.c.d to IPv4 and keeps real IPv6', () => {
      expect(clientAddress('::ffff:10.0.0.1')).to.deep.equal({ family: 4, bytes: new Uint8Array([10, 0, 0, 1]) });
      expect(clientAddress('::1')?.family).to.equal(6);
      expect(clientAddress('fe80::1%eth0')?.family).to.equal(6);
      expect(clientAddress('127.1')).to.equal(null); // clients are always printed in full
    });

    const fmt: Array<[string, string]> = [
      ['10.0.0.1', '10.0.0.1'], ['0:0:0:0:0:0:0:1', '::1'], ['fd00:0:0:0:0:0:0:2', 'fd00::2'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ];
    for (const [input, out] of fmt) {
      it(`formats ${input} as ${out}`, () => {
        const a = input.includes(':') ? { family: 6 as const, bytes: parseInetPton6(input)! } : { family: 4 as const, bytes: parseInetAton(input)! };
        expect(formatAddress(a)).to.equal(out);
      });
    }
  });

  describe('ldap_url_parse', () => {
    const ok: Array<[string, Record<string, unknown>]> = [
      ['ldap://h/dc=x', { scheme: 'ldap', host: 'h', port: 389, dn: 'dc=x', scope: 'base' }],
      ['LDAP://h/dc=x', { scheme: 'ldap' }],
      ['ldaps://h/', { scheme: 'ldaps', port: 636, dn: '' }],
      ['ldap:///dc=x', { host: undefined, dn: 'dc=x' }],
      ['ldap://h:99999/dc=x', { port: 99999 }],
      ['ldap://[::1]:1389/dc=x', { host: '::1', port: 1389 }],
      ['ldap://h/dc=%41?cn,mail?ONE?(uid=x)', { dn: 'dc=A', attrs: ['cn', 'mail'], scope: 'one', filter: '(uid=x)' }],
      ['ldap://h/dc=x?uid?children', { scope: 'children' }],
      ['<URL:ldap://h/dc=x>', { dn: 'dc=x' }],
      ['ldap://h/dc=x?a?sub?(f)?!ext', { filter: '(f)' }],
    ];
    for (const [url, fields] of ok) {
      it(`parses ${url}`, () => {
        const r = parseLdapUrl(url);
        expect(r.ok).to.equal(true);
        if (r.ok) for (const [k, v] of Object.entries(fields)) expect((r.url as unknown as Record<string, unknown>)[k], k).to.deep.equal(v);
      });
    }
    // Texts observed from PG15 + Debian libldap.
    const bad: Array<[string, string]> = [
      ['foo', 'Time limit exceeded'],
      ['http://x/dc=a', 'Time limit exceeded'],
      ['cldap://h/dc=x', 'Time limit exceeded'],
      ['<ldap://h/dc=x', 'Size limit exceeded'],
      ['ldap://[::1/dc=x', 'Compare False'],
      ['ldap://h:abc/dc=x', 'Compare False'],
      ['ldap://h:/dc=x', 'Compare False'],
      ['ldap://h/dc=x?a?sub?(f)?x?y', 'Compare False'],
      ['ldap://h/dc=x?uid?bogus', 'Strong(er) authentication required'],
      ['ldap://h/dc=x???%00', 'Partial results and referral received'],
      ['ldap://h/dc=x????', 'Referral'],
    ];
    for (const [url, text] of bad) {
      it(`rejects ${url} with "${text}"`, () => expect(parseLdapUrl(url)).to.deep.equal({ ok: false, errorText: text }));
    }
  });
});
