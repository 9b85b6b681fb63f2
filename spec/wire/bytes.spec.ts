import { expect } from 'chai';
import { asciiLower, byteLength, bytesToString, invalidUtf8, stringToBytes, utf8Cliplen } from '../../src/bytes.js';
import { SeededRandom } from '../../src/random.js';

const b = (...xs: number[]) => Buffer.from(xs);

describe('client bytes as strings (src/bytes.ts)', () => {
  it('round-trips every byte string: 20,000 seeded random ones, mostly not UTF-8', () => {
    const random = new SeededRandom(8);
    for (let i = 0; i < 20_000; i++) {
      const bytes = random.bytes(1 + (i % 16));
      // Every third one gets only high bytes, where the invalid sequences are.
      if (i % 3 === 0) for (let j = 0; j < bytes.length; j++) bytes[j]! |= 0x80;
      const s = bytesToString(bytes);
      expect(stringToBytes(s).equals(bytes), bytes.toString('hex')).to.equal(true);
      expect(byteLength(s)).to.equal(bytes.length);
    }
  });

  it('gives distinct strings where UTF-8 decoding gives U+FFFD for all of them', () => {
    const inputs = [b(0x75, 0xff), b(0x75, 0xfe), b(0x75, 0xef, 0xbf, 0xbd), b(0x75, 0xc3), b(0x75, 0xed, 0xa0, 0x80), b(0x75, 0xc0, 0xaf)];
    expect(new Set(inputs.map((x) => x.toString('utf8'))).size).to.be.lessThan(inputs.length);
    expect(new Set(inputs.map(bytesToString)).size).to.equal(inputs.length);
  });

  it('decodes valid UTF-8 as text, and each stray byte as U+DC80–U+DCFF', () => {
    expect(bytesToString(Buffer.from('josé\uFFFD😀'))).to.equal('josé\uFFFD😀');
    expect(bytesToString(b(0x75, 0xff))).to.equal('u\udcff');
    // A truncated sequence: each byte escaped on its own, the following ASCII kept.
    expect(bytesToString(b(0xf0, 0x9f, 0x98, 0x41))).to.equal('\udcf0\udc9f\udc98A');
    // UTF-8 of a surrogate (CESU) and an overlong '/' are not UTF-8 either.
    expect(bytesToString(b(0xed, 0xa0, 0x80))).to.equal('\udced\udca0\udc80');
    expect(bytesToString(b(0xc0, 0xaf))).to.equal('\udcc0\udcaf');
  });

  it('encodes text as UTF-8, and a lone surrogate that is no escaped byte as U+FFFD (like Buffer.from)', () => {
    expect(stringToBytes('é😀').equals(Buffer.from('é😀'))).to.equal(true);
    expect(stringToBytes('a\ud800b').equals(Buffer.from('a\ud800b', 'utf8'))).to.equal(true);
    expect(stringToBytes('\udc41').equals(Buffer.from('\uFFFD'))).to.equal(true);
  });

  it('clips like pg_mbcliplen in UTF8: by lead bytes, without validating', () => {
    expect(utf8Cliplen(Buffer.from('é'.repeat(40)), 63)).to.equal(62);
    expect(utf8Cliplen(Buffer.from(`${'a'.repeat(62)}\x80\x80`, 'latin1'), 63)).to.equal(63);
    expect(utf8Cliplen(Buffer.from(`${'a'.repeat(61)}😀`), 63)).to.equal(61);
    expect(utf8Cliplen(Buffer.from('abc'), 63)).to.equal(3);
  });

  it('finds the first invalid sequence as report_invalid_encoding shows it', () => {
    expect(invalidUtf8(Buffer.from('fine é'))).to.equal(null);
    expect(invalidUtf8(b(0x61, 0xff, 0x62))).to.deep.equal({ offset: 1, shown: '0xff' });
    expect(invalidUtf8(b(0x61, 0xe2, 0x28, 0xa1))).to.deep.equal({ offset: 1, shown: '0xe2 0x28 0xa1' });
    expect(invalidUtf8(b(0x61, 0xc3))).to.deep.equal({ offset: 1, shown: '0xc3' });
    expect(invalidUtf8(b(0x61, 0x00))).to.deep.equal({ offset: 1, shown: '0x00' });
  });

  it('folds ASCII letters only, as pg_strncasecmp does', () => {
    expect(asciiLower('Work_MEM')).to.equal('work_mem');
    expect(asciiLower('wor\u212A_mem')).to.equal('wor\u212A_mem');
    expect('wor\u212A_mem'.toLowerCase()).to.equal('work_mem');
  });
});
