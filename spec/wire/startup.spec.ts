import { expect } from 'chai';
import { PgError } from '../../src/errors.js';
import {
  CANCEL_REQUEST_CODE, NEGOTIATE_GSS_CODE, NEGOTIATE_SSL_CODE, parseStartupPacket, PG_PROTOCOL_3_0,
  type StartupParam,
} from '../../src/wire/codec.js';
import { cstrings, int32 } from './helpers.js';

const V3 = int32(PG_PROTOCOL_3_0);
const body = (...parts: Array<Buffer | string>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
const NUL = Buffer.from([0]);
const LAYOUT = 'invalid startup packet layout: expected terminator as last byte';

describe('wire codec: parseStartupPacket', () => {
  describe('3.0 parameter layout (every row was sent to PostgreSQL 15.20 and got the same verdict)', () => {
    // [case, body, params it must yield, or null when the layout error is expected]
    const cases: Array<[string, Buffer, StartupParam[] | null]> = [
      ['user and database, terminated', body(V3, cstrings('user', 'trustuser', 'database', 'postgres'), NUL), [['user', 'trustuser'], ['database', 'postgres']]],
      ['only the terminator', body(V3, NUL), []],
      ['no terminator', body(V3, cstrings('user', 'trustuser')), null],
      ['version only (length word 8)', body(V3), null],
      ['bytes after the terminator', body(V3, cstrings('user', 'trustuser'), NUL, 'extra'), null],
      ['one non-NUL byte where the terminator goes (accepted and ignored)', body(V3, cstrings('user', 'trustuser', 'database', 'postgres'), 'x'), [['user', 'trustuser'], ['database', 'postgres']]],
      ['two bytes where the terminator goes', body(V3, cstrings('user', 'trustuser'), 'xy'), null],
      ['a name with no value at the end', body(V3, cstrings('user', 'trustuser'), 'database'), null],
      ['a value running to the end without NUL', body(V3, 'user\0trustuser'), null],
      ['two terminators', body(V3, cstrings('user', 'trustuser'), NUL, NUL), null],
      ['an empty name before more pairs', body(V3, cstrings('user', 'trustuser'), NUL, cstrings('database', 'postgres'), NUL), null],
      ['a last name "x" with no room left for a value', body(V3, cstrings('user', 'trustuser'), 'x\0'), null],
      ['an empty value whose NUL is the last byte', body(V3, 'user\0\0'), null],
      ['an empty value, then the terminator', body(V3, cstrings('user', 'u', 'application_name', ''), NUL), [['user', 'u'], ['application_name', '']]],
      ['duplicates kept in order', body(V3, cstrings('user', 'a', 'user', 'b'), NUL), [['user', 'a'], ['user', 'b']]],
    ];

    for (const [name, packet, want] of cases) {
      it(`${name}: ${want ? 'accepted' : 'layout error'}`, () => {
        if (want === null) {
          let err: unknown;
          try { parseStartupPacket(packet); } catch (e) { err = e; }
          expect(err).to.be.instanceOf(PgError);
          expect((err as PgError).fields).to.deep.equal({
            severity: 'FATAL', sqlstate: '08P01', message: LAYOUT, file: 'postmaster.c', line: 2332, routine: 'ProcessStartupPacket',
          });
          return;
        }
        const parsed = parseStartupPacket(packet);
        expect(parsed.kind).to.equal('StartupMessage');
        expect(parsed.kind === 'StartupMessage' && parsed.params).to.deep.equal(want);
      });
    }
  });

  describe('onParam runs inside the scan, before the terminator check', () => {
    it('a parameter rejected by onParam wins over a missing terminator (replication=maybe, observed on 15.20)', () => {
      const packet = body(V3, cstrings('replication', 'maybe', 'user', 'trustuser')); // no terminator either
      const onParam = (name: string, value: string) => {
        if (name === 'replication' && value === 'maybe') throw new PgError({ severity: 'FATAL', sqlstate: '22023', message: 'invalid value for parameter "replication": "maybe"' });
      };
      expect(() => parseStartupPacket(packet, { onParam })).to.throw('invalid value for parameter "replication"');
      expect(() => parseStartupPacket(packet)).to.throw(LAYOUT);
    });

    it('sees each pair once, in order, and nothing after the scan stops', () => {
      const seen: string[] = [];
      const packet = body(V3, cstrings('user', 'u', 'database', 'd'), NUL);
      parseStartupPacket(packet, { onParam: (n, v) => seen.push(`${n}=${v}`) });
      expect(seen).to.deep.equal(['user=u', 'database=d']);

      const stopped: string[] = [];
      const early = body(V3, cstrings('user', 'u'), NUL, cstrings('options', '-c x=1'), NUL);
      expect(() => parseStartupPacket(early, { onParam: (n) => stopped.push(n) })).to.throw(LAYOUT);
      expect(stopped).to.deep.equal(['user']);
    });
  });

  describe('raw parameter bytes', () => {
    it('keeps bytes that are not UTF-8, for byte-wise truncation and cleaning', () => {
      const value = Buffer.from([0x70, 0xc3, 0xa9, 0xff]);
      const parsed = parseStartupPacket(body(V3, cstrings('application_name'), value, NUL, NUL));
      expect(parsed.kind).to.equal('StartupMessage');
      if (parsed.kind !== 'StartupMessage') return;
      expect(parsed.rawParams[0]![0].toString()).to.equal('application_name');
      expect(parsed.rawParams[0]![1].equals(value)).to.equal(true);
      // The string keeps the stray byte as U+DCFF (not U+FFFD), so it maps back to the same bytes.
      expect(parsed.params[0]![1]).to.equal('p\u00e9\udcff');
      expect(parsed.params[0]![1]).to.not.equal(value.toString('utf8'));
    });

    it('gives different strings for different bytes that UTF-8 decoding would both turn into U+FFFD', () => {
      const names = [[0x75, 0xff], [0x75, 0xfe], [0x75, 0xef, 0xbf, 0xbd], [0x75, 0xc3], [0x75, 0xed, 0xa0, 0x80]].map((b) => Buffer.from(b));
      const users = names.map((n) => {
        const p = parseStartupPacket(body(V3, cstrings('user'), n, NUL, NUL));
        return p.kind === 'StartupMessage' ? p.params[0]![1] : null;
      });
      expect(new Set(users).size).to.equal(names.length);
      expect(users[2]).to.equal('u\ufffd'); // a real U+FFFD is valid UTF-8 and stays itself
    });
  });

  describe('codes and versions', () => {
    const kinds: Array<[string, Buffer, Record<string, unknown>]> = [
      ['SSLRequest', int32(NEGOTIATE_SSL_CODE), { kind: 'SSLRequest', code: NEGOTIATE_SSL_CODE, protocolVersion: { major: 1234, minor: 5679 } }],
      // PostgreSQL 15.20 answered 'N' to a 12-byte SSLRequest: the length is not checked.
      ['SSLRequest with extra bytes', body(int32(NEGOTIATE_SSL_CODE), int32(0)), { kind: 'SSLRequest' }],
      ['GSSENCRequest', int32(NEGOTIATE_GSS_CODE), { kind: 'GSSENCRequest', protocolVersion: { major: 1234, minor: 5680 } }],
      ['CancelRequest', body(int32(CANCEL_REQUEST_CODE), int32(4242), Buffer.from([1, 2, 3, 4])), { kind: 'CancelRequest', pid: 4242, key: Buffer.from([1, 2, 3, 4]) }],
      ['CancelRequest without key (PG15 wants 12 bytes)', body(int32(CANCEL_REQUEST_CODE), int32(7)), { kind: 'CancelRequest', pid: 7, key: Buffer.alloc(0) }],
      ['CancelRequest without PID', int32(CANCEL_REQUEST_CODE), { kind: 'CancelRequest', pid: null, key: Buffer.alloc(0) }],
      ['protocol 2.0', body(int32(2 << 16), cstrings('user', 'u'), NUL), { kind: 'UnsupportedProtocol', protocolVersion: { major: 2, minor: 0 } }],
      ['protocol 4.0', body(int32(4 << 16), cstrings('user', 'u'), NUL), { kind: 'UnsupportedProtocol', protocolVersion: { major: 4, minor: 0 } }],
      ['protocol 1.5, garbage after (not scanned)', body(int32((1 << 16) | 5), 'zz'), { kind: 'UnsupportedProtocol', protocolVersion: { major: 1, minor: 5 } }],
      ['protocol 3.5', body(int32(PG_PROTOCOL_3_0 + 5), NUL), { kind: 'StartupMessage', protocolVersion: { major: 3, minor: 5 }, params: [] }],
    ];
    for (const [name, packet, want] of kinds) {
      it(name, () => {
        expect(parseStartupPacket(packet)).to.deep.include(want);
      });
    }

    it('refuses a body too short to hold a code', () => {
      expect(() => parseStartupPacket(Buffer.alloc(3))).to.throw(RangeError);
    });
  });
});
