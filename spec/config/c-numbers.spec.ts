import { expect } from 'chai';
import { formatG, rint, strtod, strtol0 } from '../../src/config/c-numbers.js';

describe('config/c-numbers (the libc behaviour guc.c relies on)', () => {
  describe('strtol(s, &end, 0)', () => {
    const cases: Array<[string, number, number, boolean]> = [
      // input, value, end, ERANGE
      ['42', 42, 2, false],
      ['  -17x', -17, 5, false],
      ['+5', 5, 2, false],
      ['010', 8, 3, false], // leading zero: octal
      ['08', 0, 1, false], // stops at the 8
      ['0x1F', 31, 4, false],
      ['0X1fz', 31, 4, false],
      ['0x', 0, 1, false], // "0x" with no hex digit is just "0"
      ['abc', 0, 0, false],
      ['', 0, 0, false],
      ['-', 0, 0, false],
      ['99999999999999999999', 9223372036854775807, 20, true],
      ['-9223372036854775808', -9223372036854775808, 20, false],
      ['1.5', 1, 1, false],
    ];
    for (const [input, value, end, range] of cases) {
      it(`${JSON.stringify(input)} -> ${value}, end ${end}${range ? ', ERANGE' : ''}`, () => {
        const r = strtol0(input);
        expect([r.value, r.end, r.range]).to.deep.equal([value, end, range]);
      });
    }
  });

  describe('strtod', () => {
    const cases: Array<[string, number, number, boolean]> = [
      ['1.5', 1.5, 3, false],
      ['1e3', 1000, 3, false],
      ['1e', 1, 1, false], // an exponent needs digits
      ['.5ms', 0.5, 2, false],
      ['5.', 5, 2, false],
      ['.', 0, 0, false],
      [' -2.5E-1x', -0.25, 8, false],
      ['inf', Infinity, 3, false],
      ['-Infinity', -Infinity, 9, false],
      ['1e999', Infinity, 5, true],
      ['1e-400', 0, 6, true],
      ['0x1.8p1', 3, 7, false],
      ['0x10', 16, 4, false],
    ];
    for (const [input, value, end, range] of cases) {
      it(`${JSON.stringify(input)} -> ${value}, end ${end}${range ? ', ERANGE' : ''}`, () => {
        const r = strtod(input);
        expect([r.value, r.end, r.range]).to.deep.equal([value, end, range]);
      });
    }
    it('parses nan (which guc.c then rejects)', () => {
      const r = strtod('nan');
      expect(Number.isNaN(r.value)).to.equal(true);
      expect(r.end).to.equal(3);
    });
  });

  describe('rint (round half to even)', () => {
    const cases: Array<[number, number]> = [[0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-2.5, -2], [-3.5, -4], [2.4, 2], [2.6, 3], [-2.6, -3]];
    for (const [x, y] of cases) it(`rint(${x}) = ${y}`, () => expect(rint(x)).to.equal(y));
  });

  describe('printf %g', () => {
    const cases: Array<[number, string]> = [
      [0, '0'],
      [1000, '1000'],
      [0.1, '0.1'],
      [100000, '100000'],
      [1e6, '1e+06'],
      [1234567.5, '1.23457e+06'],
      [1234565, '1.23456e+06'], // an exact tie rounds to even, as glibc does
      [0.0001, '0.0001'],
      [0.00001234, '1.234e-05'],
      [Number.MAX_VALUE, '1.79769e+308'],
      [-1, '-1'],
      [2.5, '2.5'],
      [999999.5, '1e+06'],
      [1 / 3, '0.333333'],
    ];
    for (const [x, s] of cases) it(`${x} -> ${s}`, () => expect(formatG(x)).to.equal(s));
  });
});
