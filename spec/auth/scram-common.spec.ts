import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import {
  isScramPrintable, pgB64Decode, pgB64Encode, pgSaslprep, scramMockSalt, scramPreparePassword, scramSaltedPassword,
} from '../../src/auth/scram-common.js';

describe('auth/scram-common', () => {
  describe('pgB64Decode (pg_b64_decode semantics)', () => {
    const ok: [string, string][] = [
      ['c2FsdA==', '73616c74'],
      ['c2FsdA8=', '73616c740f'],
      ['', ''],
      // After the first '=' PG keeps going, one byte per quartet.
      ['AA==AAAA', '0000'],
      ['AA=A', '00'],
    ];
    for (const [input, hex] of ok) {
      it(`decodes ${JSON.stringify(input)} to ${hex || '(empty)'}`, () => {
        expect(pgB64Decode(input)?.toString('hex')).to.equal(hex);
      });
    }
    const bad = ['c2FsdA', 'c2Fs dA==', 'c2FsdA==\n', 'A===', '=AAA', 'ab!c', 'AB\u00e9D'];
    for (const input of bad) {
      it(`rejects ${JSON.stringify(input)}`, () => expect(pgB64Decode(input)).to.equal(null));
    }
    it('rejects output that would overflow the destination length', () => {
      expect(pgB64Decode('AAAA', 2)).to.equal(null);
      expect(pgB64Decode('AAAA', 3)?.length).to.equal(3);
    });
    it('encodes with padding like pg_b64_encode', () => {
      expect(pgB64Encode(Buffer.from('salt'))).to.equal('c2FsdA==');
    });
  });

  describe('pgSaslprep (pg_saslprep)', () => {
    const cases: { name: string; input: string | Buffer; rc: string; output?: string }[] = [
      { name: 'plain ASCII passes through', input: 'secret', rc: 'success', output: 'secret' },
      // PG's ASCII fast path skips every check, so ASCII control characters survive (RFC 4013 would refuse them).
      { name: 'ASCII control characters are not checked', input: '\u0007abc', rc: 'success', output: '\u0007abc' },
      { name: 'soft hyphen maps to nothing (RFC 4013 example)', input: 'I\u00ADX', rc: 'success', output: 'IX' },
      { name: 'NFKC: ROMAN NUMERAL NINE', input: '\u2168', rc: 'success', output: 'IX' },
      { name: 'NFKC: FEMININE ORDINAL', input: '\u00AA', rc: 'success', output: 'a' },
      { name: 'non-ASCII space maps to space', input: 'a\u00A0b', rc: 'success', output: 'a b' },
      { name: 'ZERO WIDTH SPACE is a space (C.1.2 is checked before B.1)', input: 'a\u200Bb\u00e9', rc: 'success', output: 'a b\u00e9' },
      { name: 'empty after mapping is prohibited', input: '\u00AD', rc: 'prohibited' },
      { name: 'control character next to non-ASCII is prohibited', input: '\u00e9\u0007', rc: 'prohibited' },
      // Checked before normalization: U+1F100 is unassigned in Unicode 3.2 even though NFKC makes it "0.".
      { name: 'unassigned code point, checked before NFKC', input: '\u{1F100}x', rc: 'prohibited' },
      { name: 'private use', input: '\uE000\u00e9', rc: 'prohibited' },
      { name: 'non-character U+FFFFE (missing from the package table)', input: '\u{FFFFE}', rc: 'prohibited' },
      { name: 'RandALCat must start and end the string', input: '\u0627\u0031', rc: 'prohibited' },
      { name: 'RandALCat mixed with LCat', input: 'a\u0627', rc: 'prohibited' },
      { name: 'all RandALCat is fine', input: '\u0627\u0628', rc: 'success', output: '\u0627\u0628' },
      { name: 'invalid UTF-8', input: Buffer.from([0xe9, 0x41]), rc: 'invalid-utf8' },
      { name: 'overlong UTF-8', input: Buffer.from([0xc0, 0xaf]), rc: 'invalid-utf8' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const r = pgSaslprep(c.input);
        expect(r.rc).to.equal(c.rc);
        if (c.output !== undefined && r.rc === 'success') expect(r.output.toString('utf8')).to.equal(c.output);
      });
    }
    it('scramPreparePassword falls back to the raw bytes when SASLprep refuses', () => {
      expect(scramPreparePassword('\u00e9\u0007').toString('utf8')).to.equal('\u00e9\u0007');
      const raw = Buffer.from([0xe9, 0x41]);
      expect(scramPreparePassword(raw).equals(raw)).to.equal(true);
      expect(scramPreparePassword('I\u00ADX').toString()).to.equal('IX');
    });
  });

  describe('scramSaltedPassword', () => {
    it('is Hi() of RFC 5802 (one HMAC for one iteration)', () => {
      const salt = Buffer.from('salt');
      const u1 = createHmac('sha256', 'pw').update(Buffer.concat([salt, Buffer.from([0, 0, 0, 1])])).digest();
      expect(scramSaltedPassword(Buffer.from('pw'), salt, 1).equals(u1)).to.equal(true);
    });
    it('treats an iteration count below 1 as 1, like the C loop', () => {
      const one = scramSaltedPassword(Buffer.from('pw'), Buffer.from('salt'), 1);
      expect(scramSaltedPassword(Buffer.from('pw'), Buffer.from('salt'), 0).equals(one)).to.equal(true);
      expect(scramSaltedPassword(Buffer.from('pw'), Buffer.from('salt'), -5).equals(one)).to.equal(true);
      expect(scramSaltedPassword(Buffer.from('pw'), Buffer.from('salt'), 2).equals(one)).to.equal(false);
    });
  });

  describe('scramMockSalt', () => {
    // Captured from a throwaway PG 15.20 cluster: "Mock authentication nonce" from pg_controldata, and the
    // s= of the server-first message PG sent to a raw SCRAM client for each user (see scram.spec.ts).
    const nonce = Buffer.from('f2491a98cc472a80e688127a258e33708352a0e82e488e0fc7949dd05b565e3f', 'hex');
    const observed: [string, string][] = [
      ['ghost_scram', '0C1mbDkLRxjETwzfccoA3w=='],
      ['Ghost Mixed', 'Fx8sdfWRGfvNHEfLqwhDSA=='],
      ['nopw', 'eMRaiPFyRi8u8puGCl+mFw=='],
      ['expired', 'jO61GThBk6AkmIVTZ068tA=='],
      ['garbage_u', '9Q/rceXW6t22LdXL8MUutg=='],
      ['md5_s', '5j2DzIiNdkm2tCCvvSiMJA=='],
    ];
    for (const [user, salt] of observed) {
      it(`reproduces PG's mock salt for ${JSON.stringify(user)}`, () => {
        expect(pgB64Encode(scramMockSalt(user, nonce))).to.equal(salt);
      });
    }
  });

  it('isScramPrintable accepts %x21-2B / %x2D-7E only', () => {
    expect(isScramPrintable(Buffer.from('abc~!+-'))).to.equal(true);
    expect(isScramPrintable(Buffer.from(''))).to.equal(true);
    expect(isScramPrintable(Buffer.from('a,b'))).to.equal(false);
    expect(isScramPrintable(Buffer.from('a b'))).to.equal(false);
    expect(isScramPrintable(Buffer.from([0x61, 0x7f]))).to.equal(false);
  });
});
