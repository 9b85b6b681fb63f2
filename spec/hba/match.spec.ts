import { expect } from 'chai';
import {
  checkHba, hostnameLookupDetail, hostnameMatch, hostsFileResolver, IMPLICIT_REJECT, isImplicitReject, parseHbaFile,
  simpleRoles, type HbaConnection, type HbaLine, type HbaMatchEnv, type HostnameLookupState, type HostnameResolver,
  type ImplicitReject, type InterfaceAddress, type RoleLookup,
} from '../../src/hba/index.js';
import { bytesToString, stringToBytes } from '../../src/bytes.js';

const PATH = '/data/pg_hba.conf';

function rules(text: string): HbaLine[] {
  const r = parseHbaFile(text, { path: PATH, sslEnabled: true, readFile: () => undefined });
  expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
  return r.lines;
}

// Roles: grp <- member1 <- sub (sub is an indirect member of grp); "+grp" and "all" are real role names.
const roles = simpleRoles({ postgres: [], grp: [], member1: ['grp'], sub: ['member1'], '+grp': [], all: [], other: [] });

const SERVER_ADDRS: InterfaceAddress[] = [
  { address: '127.0.0.1', netmask: '255.0.0.0' },
  { address: '192.0.2.2', netmask: '255.255.255.0' },
  { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' },
  { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::' },
];

const env = (extra: Partial<HbaMatchEnv> = {}): HbaMatchEnv => ({ roles, serverAddresses: () => SERVER_ADDRS, resolveHostname: noDns, ...extra });
const noDns: HostnameResolver = { reverse: () => ({ error: 'Name or service not known' }), forward: () => ({ error: 'Name or service not known' }) };

const tcp = (c: Partial<HbaConnection> = {}): HbaConnection => ({
  isLocal: false, sslInUse: false, gssEncInUse: false, remoteAddress: '127.0.0.1', database: 'db', user: 'other', isReplication: false, ...c,
});
const sock = (c: Partial<HbaConnection> = {}): HbaConnection => ({ ...tcp(), remoteAddress: undefined, ...c, isLocal: true });

const lineNo = (m: HbaLine | ImplicitReject): number => m.lineNumber;

describe('hba matching', () => {
  describe('connection type', () => {
    const hba = rules([
      'local all all trust', // 1
      'hostssl all all all md5', // 2
      'hostnossl all all all md5', // 3
      'hostgssenc all all all md5', // 4
      'hostnogssenc all all all md5', // 5
      'host all all all md5', // 6
    ].join('\n'));
    const only = (keep: number[]): HbaLine[] => hba.filter((l) => keep.includes(l.lineNumber));
    const cases: Array<[string, HbaConnection, number[], number]> = [
      ['unix socket matches local', sock(), [1, 6], 1],
      ['unix socket never matches host', sock(), [2, 3, 4, 5, 6], 0],
      ['TCP never matches local', tcp(), [1], 0],
      ['SSL matches hostssl', tcp({ sslInUse: true }), [2, 3, 6], 2],
      ['SSL skips hostnossl', tcp({ sslInUse: true }), [3, 6], 6],
      ['plain skips hostssl', tcp(), [2, 3], 3],
      ['GSS encryption matches hostgssenc', tcp({ gssEncInUse: true }), [4, 5, 6], 4],
      ['GSS encryption skips hostnogssenc', tcp({ gssEncInUse: true }), [5, 6], 6],
      ['no GSS skips hostgssenc', tcp(), [4, 5], 5],
      ['host matches SSL', tcp({ sslInUse: true }), [6], 6],
      ['host matches GSS', tcp({ gssEncInUse: true }), [6], 6],
    ];
    for (const [name, conn, keep, want] of cases) {
      it(name, () => expect(lineNo(checkHba(only(keep), conn, env()))).to.equal(want));
    }
  });

  describe('addresses', () => {
    const cases: Array<[string, string, boolean]> = [
      ['10.0.0.0/8', '10.200.3.4', true],
      ['10.0.0.0/8', '11.0.0.1', false],
      ['10.1.2.3/32', '10.1.2.3', true],
      ['10.1.2.3/32', '10.1.2.4', false],
      ['0.0.0.0/0', '203.0.113.9', true],
      ['0.0.0.0/0', '::1', false],
      ['10.0.0.0 255.255.0.0', '10.0.255.1', true],
      ['10.0.0.0 255.255.0.0', '10.1.0.1', false],
      ['10.0.0.0 255.0.255.0', '10.9.0.9', true], // non-contiguous masks work bit by bit
      ['10.0.0.0 255.0.255.0', '10.9.1.9', false],
      ['::1/128', '::1', true],
      ['::1/128', '127.0.0.1', false],
      ['fd00::/64', 'fd00::abcd:1', true],
      ['fd00::/64', 'fd00:0:0:1::1', false],
      ['::/0', '10.0.0.1', false], // families never mix
      ['127.0.0.1/32', '::ffff:127.0.0.1', true], // Node's dual-stack form of an IPv4 client
      ['::ffff:127.0.0.1/128', '::ffff:127.0.0.1', false], // ... which PG sees as AF_INET
      ['all', '198.51.100.7', true],
      ['all', 'fe80::1%eth0', true],
    ];
    for (const [addr, client, match] of cases) {
      it(`${addr} ${match ? 'matches' : 'does not match'} ${client}`, () => {
        const hba = rules(`host all all ${addr} md5`);
        expect(lineNo(checkHba(hba, tcp({ remoteAddress: client }), env()))).to.equal(match ? 1 : 0);
      });
    }

    it('refuses a TCP connection without a numeric client address', () => {
      const hba = rules('host all all all md5');
      expect(() => checkHba(hba, tcp({ remoteAddress: 'localhost' }), env())).to.throw(TypeError);
      expect(() => checkHba(hba, tcp({ remoteAddress: undefined }), env())).to.throw(TypeError);
    });

    describe('samehost and samenet (injected interface list)', () => {
      const cases: Array<[string, string, boolean]> = [
        ['samehost', '127.0.0.1', true],
        ['samehost', '127.0.0.2', false],
        ['samehost', '192.0.2.2', true],
        ['samehost', '192.0.2.3', false],
        ['samehost', '::1', true],
        ['samehost', 'fd00::2', true],
        ['samehost', 'fd00::3', false],
        ['samenet', '127.9.9.9', true],
        ['samenet', '192.0.2.77', true],
        ['samenet', '192.0.3.1', false],
        ['samenet', 'fd00::1234', true],
        ['samenet', 'fd01::1', false],
      ];
      for (const [kw, client, match] of cases) {
        it(`${kw} ${match ? 'matches' : 'does not match'} ${client}`, () => {
          const hba = rules(`host all all ${kw} md5`);
          expect(lineNo(checkHba(hba, tcp({ remoteAddress: client }), env()))).to.equal(match ? 1 : 0);
        });
      }

      it('asks for the interface list only when a samehost/samenet line is reached', () => {
        let calls = 0;
        const hba = rules('host all all 10.0.0.0/8 md5\nhost all all samenet md5');
        const e = env({ serverAddresses: () => { calls++; return SERVER_ADDRS; } });
        checkHba(hba, tcp({ remoteAddress: '10.0.0.1' }), e);
        expect(calls).to.equal(0);
        checkHba(hba, tcp({ remoteAddress: '192.0.2.9' }), e);
        expect(calls).to.equal(1);
      });
    });

    describe('host names', () => {
      const hosts = hostsFileResolver([
        '127.0.0.1 localhost',
        '10.0.0.5 db.example.com db',
        '10.0.0.6 multi.example.com',
        '10.0.0.7 multi.example.com # the forward lookup returns both addresses',
        '::1 localhost ip6-localhost',
      ].join('\n'));

      const cases: Array<[string, string, boolean]> = [
        ['localhost', '127.0.0.1', true],
        ['LOCALHOST', '127.0.0.1', true],
        ['localhost', '::1', true],
        ['localhost', '127.0.0.2', false],
        ['db.example.com', '10.0.0.5', true],
        ['.example.com', '10.0.0.5', true],
        ['.example.com', '127.0.0.1', false],
        ['example.com', '10.0.0.5', false],
        ['multi.example.com', '10.0.0.6', true],
        ['multi.example.com', '10.0.0.7', true],
      ];
      for (const [name, client, match] of cases) {
        it(`${name} ${match ? 'matches' : 'does not match'} ${client}`, () => {
          const hba = rules(`host all all ${name} md5`);
          expect(lineNo(checkHba(hba, tcp({ remoteAddress: client }), env({ resolveHostname: hosts })))).to.equal(match ? 1 : 0);
        });
      }

      it('rejects a name whose forward lookup does not lead back to the client', () => {
        const resolver: HostnameResolver = {
          reverse: () => ({ hostname: 'spoofed.example.com' }),
          forward: () => ({ addresses: ['10.9.9.9'] }),
        };
        const state: HostnameLookupState = { resolv: 0 };
        const hba = rules('host all all spoofed.example.com md5');
        expect(checkHba(hba, tcp({ remoteAddress: '10.0.0.1' }), env({ resolveHostname: resolver, hostnameState: state }))).to.equal(IMPLICIT_REJECT);
        expect(state).to.deep.equal({ resolv: -1, remoteHostname: 'spoofed.example.com' });
        expect(hostnameLookupDetail(state)).to.equal('Client IP address resolved to "spoofed.example.com", forward lookup does not match.');
      });

      it('looks the client up once per connection and reuses the answer across lines', () => {
        let reverse = 0;
        let forward = 0;
        const resolver: HostnameResolver = {
          reverse: () => { reverse++; return { hostname: 'a.example.com' }; },
          forward: () => { forward++; return { addresses: ['10.0.0.1'] }; },
        };
        const hba = rules('host nomatch all a.example.com md5\nhost nomatch all .example.com md5\nhost db all .example.com md5');
        const state: HostnameLookupState = { resolv: 0 };
        expect(lineNo(checkHba(hba, tcp({ remoteAddress: '10.0.0.1' }), env({ resolveHostname: resolver, hostnameState: state })))).to.equal(3);
        expect([reverse, forward]).to.deep.equal([1, 1]);
        expect(hostnameLookupDetail(state)).to.equal('Client IP address resolved to "a.example.com", forward lookup matches.');
      });

      it('gives up on later host-name lines once the reverse lookup failed', () => {
        let reverse = 0;
        const resolver: HostnameResolver = { reverse: () => { reverse++; return { error: 'Temporary failure in name resolution' }; }, forward: () => ({ addresses: [] }) };
        const state: HostnameLookupState = { resolv: 0 };
        const hba = rules('host all all a.example.com md5\nhost all all b.example.com md5');
        expect(checkHba(hba, tcp({ remoteAddress: '10.0.0.1' }), env({ resolveHostname: resolver, hostnameState: state }))).to.equal(IMPLICIT_REJECT);
        expect(reverse).to.equal(1);
        expect(hostnameLookupDetail(state)).to.equal('Could not resolve client IP address to a host name: Temporary failure in name resolution.');
      });

      it('reports a failed forward lookup in the detail', () => {
        const resolver: HostnameResolver = { reverse: () => ({ hostname: 'x.example.com' }), forward: () => ({ error: 'Name or service not known' }) };
        const state: HostnameLookupState = { resolv: 0 };
        checkHba(rules('host all all x.example.com md5'), tcp({ remoteAddress: '10.0.0.1' }), env({ resolveHostname: resolver, hostnameState: state }));
        expect(hostnameLookupDetail(state)).to.equal('Could not translate client host name "x.example.com" to IP address: Name or service not known.');
      });

      it('reports "not checked" when the name came from log_hostname but no line needed it', () => {
        expect(hostnameLookupDetail({ resolv: 0, remoteHostname: 'h' })).to.equal('Client IP address resolved to "h", forward lookup not checked.');
        expect(hostnameLookupDetail({ resolv: 0 })).to.equal(undefined);
      });

      it('matches suffixes only with a leading dot, case-insensitively', () => {
        expect(hostnameMatch('.Example.COM', 'db.example.com')).to.equal(true);
        expect(hostnameMatch('.example.com', 'example.com')).to.equal(false);
        expect(hostnameMatch('db.example.com', 'DB.EXAMPLE.COM')).to.equal(true);
      });
    });
  });

  describe('databases', () => {
    const cases: Array<[string, Partial<HbaConnection>, boolean]> = [
      ['all', { database: 'anything' }, true],
      ['"all"', { database: 'anything' }, false],
      ['"all"', { database: 'all' }, true],
      ['a"ll"', { database: 'anything' }, true], // quoted only if the quote comes first
      ['sameuser', { database: 'member1', user: 'member1' }, true],
      ['sameuser', { database: 'member2', user: 'member1' }, false],
      ['sameuser', { database: 'ghost', user: 'ghost' }, true], // no role lookup for sameuser
      ['"sameuser"', { database: 'member1', user: 'member1' }, false],
      ['"sameuser"', { database: 'sameuser', user: 'member1' }, true],
      ['samerole', { database: 'grp', user: 'member1' }, true],
      ['samegroup', { database: 'grp', user: 'sub' }, true], // indirect membership
      ['samerole', { database: 'member1', user: 'member1' }, true], // a role is a member of itself
      ['samerole', { database: 'grp', user: 'postgres' }, false], // superuser status does not count
      ['samerole', { database: 'grp', user: 'ghost' }, false], // missing user never matches
      ['samerole', { database: 'nosuchrole', user: 'member1' }, false],
      ['replication', { database: 'replication' }, false], // the keyword never names a database
      ['"replication"', { database: 'replication' }, true],
      ['replication', { isReplication: true }, true],
      ['all', { isReplication: true }, false], // in 15 "all" does not cover physical replication
      ['"replication"', { isReplication: true }, false],
      ['db', { isReplication: true, database: 'db' }, false],
      ['Db', { database: 'db' }, false], // case-sensitive
      ['x,db', { database: 'db' }, true],
    ];
    for (const [field, conn, match] of cases) {
      it(`${field} ${match ? 'matches' : 'does not match'} ${JSON.stringify(conn)}`, () => {
        const hba = rules(`host ${field} all all md5`);
        expect(lineNo(checkHba(hba, tcp(conn), env()))).to.equal(match ? 1 : 0);
      });
    }
  });

  describe('roles', () => {
    const cases: Array<[string, string, boolean]> = [
      ['all', 'anyone', true],
      ['"all"', 'anyone', false],
      ['"all"', 'all', true],
      ['+grp', 'member1', true],
      ['+grp', 'sub', true],
      ['+grp', 'grp', true],
      ['+grp', 'postgres', false],
      ['+grp', 'ghost', false],
      ['+nosuch', 'member1', false],
      ['+"grp"', 'sub', true], // unquoted +: the quote is not initial
      ['"+grp"', 'member1', false],
      ['"+grp"', '+grp', true],
      ['+grp', '+grp', false],
      ['+', 'member1', false],
      ['member1', 'member1', true],
      ['Member1', 'member1', false],
      ['x,member1', 'member1', true],
    ];
    for (const [field, user, match] of cases) {
      it(`${field} ${match ? 'matches' : 'does not match'} user ${user}`, () => {
        const hba = rules(`host all ${field} all md5`);
        expect(lineNo(checkHba(hba, tcp({ user }), env()))).to.equal(match ? 1 : 0);
      });
    }

    it('counts a role as a member of itself even if the lookup only knows real grants', () => {
      const strict: RoleLookup = { exists: (n) => ['grp', 'member1'].includes(n), isMember: (u, g) => u === 'member1' && g === 'grp' };
      expect(lineNo(checkHba(rules('host all +member1 all md5'), tcp({ user: 'member1' }), env({ roles: strict })))).to.equal(1);
      expect(lineNo(checkHba(rules('host samerole all all md5'), tcp({ user: 'member1', database: 'member1' }), env({ roles: strict })))).to.equal(1);
      expect(lineNo(checkHba(rules('host all +member1 all md5'), tcp({ user: 'grp' }), env({ roles: strict })))).to.equal(0);
    });

    it('never asks about membership for a missing user or group', () => {
      const asked: string[] = [];
      const spy: RoleLookup = { exists: (n) => n === 'member1', isMember: (u, g) => { asked.push(`${u}/${g}`); return true; } };
      checkHba(rules('host all +nosuch all md5\nhost samerole all all md5'), tcp({ user: 'member1', database: 'nosuch' }), env({ roles: spy }));
      checkHba(rules('host all +member1 all md5'), tcp({ user: 'ghost' }), env({ roles: spy }));
      expect(asked).to.deep.equal([]);
    });

    it('treats role names from @files the same way', () => {
      const r = parseHbaFile('host all @users all md5', { path: PATH, sslEnabled: true, readFile: () => '+grp "spaced name"' });
      expect(lineNo(checkHba(r.lines, tcp({ user: 'sub' }), env()))).to.equal(1);
      expect(lineNo(checkHba(r.lines, tcp({ user: 'spaced name' }), env()))).to.equal(1);
      expect(lineNo(checkHba(r.lines, tcp({ user: 'spaced' }), env()))).to.equal(0);
    });
  });

  describe('order', () => {
    const hba = rules([
      'local all all peer', // 1
      'host all all 127.0.0.1/32 reject', // 2
      'host all all 127.0.0.0/8 scram-sha-256', // 3
      'host db all 10.0.0.0/8 md5', // 4
      'host all all 10.0.0.0/8 trust', // 5
      'hostssl all all all cert', // 6
    ].join('\n'));
    const cases: Array<[string, HbaConnection, number, string]> = [
      ['reject above a broader line wins', tcp({ remoteAddress: '127.0.0.1' }), 2, 'reject'],
      ['the next line catches the rest of the range', tcp({ remoteAddress: '127.0.0.2' }), 3, 'scram-sha-256'],
      ['first match wins over later matches', tcp({ remoteAddress: '10.1.1.1' }), 4, 'md5'],
      ['database mismatch falls through', tcp({ remoteAddress: '10.1.1.1', database: 'other' }), 5, 'trust'],
      ['only the SSL line covers other addresses', tcp({ remoteAddress: '203.0.113.1', sslInUse: true }), 6, 'cert'],
    ];
    for (const [name, conn, line, method] of cases) {
      it(name, () => {
        const m = checkHba(hba, conn, env());
        expect([m.lineNumber, m.method]).to.deep.equal([line, method]);
      });
    }

    it('returns the implicit-reject marker when nothing matches', () => {
      const m = checkHba(hba, tcp({ remoteAddress: '203.0.113.1' }), env());
      expect(m).to.deep.equal({ method: 'implicit-reject', lineNumber: 0, rawLine: '' });
      expect(isImplicitReject(m)).to.equal(true);
      expect(isImplicitReject(checkHba(hba, sock(), env()))).to.equal(false);
    });

    it('returns the parsed line itself, raw text included', () => {
      const m = checkHba(hba, tcp({ remoteAddress: '127.0.0.2' }), env());
      expect(m).to.equal(hba[2]);
      expect(m.rawLine).to.equal('host all all 127.0.0.0/8 scram-sha-256');
    });

    it('never matches a hostssl line kept while ssl was off, for a plain connection', () => {
      const r = parseHbaFile('hostssl all all all trust', { path: PATH, sslEnabled: false, readFile: () => undefined });
      expect(r.lines).to.have.length(1);
      expect(checkHba(r.lines, tcp(), env())).to.equal(IMPLICIT_REJECT);
    });
  });

  describe('simpleRoles', () => {
    it('follows memberships transitively and survives cycles', () => {
      const r = simpleRoles({ a: ['b'], b: ['c'], c: ['a'], d: [] });
      expect(r.isMember('a', 'c')).to.equal(true);
      expect(r.isMember('a', 'd')).to.equal(false);
      expect(r.exists('d')).to.equal(true);
      expect(r.exists('toString')).to.equal(false);
    });
  });

  describe('hostsFileResolver', () => {
    const h = hostsFileResolver('# c\n127.0.0.1 localhost loopy\n::1 localhost\n10.0.0.1   Mixed.Case  # trailing\n');
    it('reverses to the first name on the line', () => expect(h.reverse('127.0.0.1')).to.deep.equal({ hostname: 'localhost' }));
    it('forwards to every address listing the name, ignoring case', () => {
      expect(h.forward('LOCALHOST')).to.deep.equal({ addresses: ['127.0.0.1', '::1'] });
      expect(h.forward('mixed.case')).to.deep.equal({ addresses: ['10.0.0.1'] });
    });
    it('fails unknown names and addresses like getaddrinfo', () => {
      expect(h.forward('nowhere')).to.deep.equal({ error: 'Name or service not known' });
      expect(h.reverse('10.9.9.9')).to.deep.equal({ error: 'Name or service not known' });
    });
  });
});

describe('hba matching: names are bytes (strcmp), never decoded', () => {
  const b = (s: string) => Buffer.from(s, 'latin1');
  const U_FF = bytesToString(b('u\xff'));
  const U_FE = bytesToString(b('u\xfe'));
  const U_FFFD = 'u\uFFFD';
  const parsed = parseHbaFile(b('host db1 u\xff all trust\nhost db2 @names all trust\nhost sameuser all all trust\n'), {
    path: PATH, sslEnabled: true, readFile: () => b('u\xfe'),
  });
  const match = (database: string, user: string) => lineNo(checkHba(parsed.lines, tcp({ database, user }), env()));

  it('a user token of bytes that are not UTF-8 matches those bytes only, not U+FFFD', () => {
    expect(parsed.errors).to.deep.equal([]);
    expect([match('db1', U_FF), match('db1', U_FE), match('db1', U_FFFD)]).to.deep.equal([1, 0, 0]);
  });

  it('so do the names an @file brings in', () => {
    expect([match('db2', U_FE), match('db2', U_FF)]).to.deep.equal([2, 0]);
  });

  it('sameuser compares the bytes of database and user', () => {
    expect([match(U_FF, U_FF), match(U_FE, U_FF), match(U_FFFD, U_FF)]).to.deep.equal([3, 0, 0]);
  });

  it('keeps the raw line\'s bytes for the DETAIL', () => {
    expect(stringToBytes(parsed.lines[0]!.rawLine).equals(b('host db1 u\xff all trust'))).to.equal(true);
  });

  it('16+: a /regex sees one char per byte, so "^u.$" matches 75 FF but not the four bytes of "u\\uFFFD"', () => {
    const r = parseHbaFile('host all /^u.$ all trust', { path: PATH, sslEnabled: true, serverVersion: 16, readFile: () => undefined });
    expect(r.errors).to.deep.equal([]);
    const at = (user: string) => lineNo(checkHba(r.lines, tcp({ user }), env()));
    expect([at(U_FF), at(U_FFFD), at('ux')]).to.deep.equal([1, 0, 1]);
  });
});
