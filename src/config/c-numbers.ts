/**
 * The C library number handling that guc.c leans on (glibc strtol/strtod, rint, printf "%g"),
 * rebuilt so that GUC values parse, round and print exactly as PostgreSQL's do.
 */

/** isspace() in the C locale. */
export function isCSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r';
}

export interface CParse {
  value: number;
  /** Index of the first unconsumed character; 0 when nothing was parsed. */
  end: number;
  /** errno == ERANGE. */
  range: boolean;
}

const LONG_MAX = (1n << 63n) - 1n;

/** strtol(s, &end, 0) with a 64-bit long: sign, 0x hex, leading-0 octal, else decimal. */
export function strtol0(s: string): CParse {
  let i = 0;
  while (isCSpace(s[i])) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') { negative = s[i] === '-'; i++; }
  let base = 10;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && digitValue(s[i + 2]) < 16) {
    base = 16; i += 2;
  } else if (s[i] === '0') {
    base = 8;
  }
  const start = i;
  let acc = 0n;
  let overflow = false;
  while (i < s.length && digitValue(s[i]) < base) {
    acc = acc * BigInt(base) + BigInt(digitValue(s[i]));
    if (acc > LONG_MAX + 1n) overflow = true;
    i++;
  }
  if (i === start) return { value: 0, end: 0, range: false };
  if (!negative && acc > LONG_MAX) overflow = true;
  if (overflow) return { value: negative ? -9223372036854775808 : 9223372036854775807, end: i, range: true };
  return { value: Number(negative ? -acc : acc), end: i, range: false };
}

function digitValue(ch: string | undefined): number {
  if (ch === undefined) return 99;
  const c = ch.charCodeAt(0);
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 122) return c - 87;
  if (c >= 65 && c <= 90) return c - 55;
  return 99;
}

const DBL_MIN = 2.2250738585072014e-308;

/** glibc strtod: decimal, hex floats, inf/infinity, nan[(...)], with ERANGE on overflow/underflow. */
export function strtod(s: string): CParse {
  let i = 0;
  while (isCSpace(s[i])) i++;
  let sign = 1;
  if (s[i] === '+' || s[i] === '-') { sign = s[i] === '-' ? -1 : 1; i++; }
  const rest = s.slice(i).toLowerCase();
  if (rest.startsWith('infinity')) return { value: sign * Infinity, end: i + 8, range: false };
  if (rest.startsWith('inf')) return { value: sign * Infinity, end: i + 3, range: false };
  if (rest.startsWith('nan')) {
    let end = i + 3;
    const m = /^\(([0-9A-Za-z_]*)\)/.exec(s.slice(end));
    if (m) end += m[0].length;
    return { value: NaN, end, range: false };
  }
  if (rest.startsWith('0x')) {
    const m = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?/.exec(s.slice(i));
    const intPart = m?.[1] ?? '';
    const fracPart = m?.[2] ?? '';
    if (m && (intPart.length > 0 || fracPart.length > 0)) {
      let end = i + m[0].length;
      let value = 0;
      for (const ch of intPart + fracPart) value = value * 16 + digitValue(ch);
      let exp2 = -4 * fracPart.length;
      const e = /^[pP]([+-]?[0-9]+)/.exec(s.slice(end));
      if (e) { exp2 += Number(e[1]); end += e[0].length; }
      return finish(sign * value * Math.pow(2, exp2), value !== 0, end);
    }
    // "0x" with no hex digits: strtod takes just the "0".
    return { value: sign * 0, end: i + 1, range: false };
  }
  const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s.slice(i));
  const intPart = m?.[1] ?? '';
  const fracPart = m?.[2] ?? '';
  if (intPart.length === 0 && fracPart.length === 0) return { value: 0, end: 0, range: false };
  let text = `${intPart || '0'}.${fracPart || '0'}`;
  let end = i + (m?.[0].length ?? 0);
  const e = /^[eE][+-]?[0-9]+/.exec(s.slice(end));
  if (e) { text += e[0]; end += e[0].length; }
  const magnitude = Number(text);
  return finish(sign * magnitude, /[1-9]/.test(intPart + fracPart), end);
}

function finish(value: number, nonzeroMantissa: boolean, end: number): CParse {
  const range = !Number.isFinite(value) || (nonzeroMantissa && Math.abs(value) < DBL_MIN);
  return { value, end, range };
}

/** rint() in the default rounding mode: halves go to the even neighbour. */
export function rint(x: number): number {
  if (!Number.isFinite(x)) return x;
  if (Math.abs(x % 1) === 0.5) return 2 * Math.round(x / 2);
  return Math.round(x);
}

/**
 * printf("%g", x): six significant digits, exponent form when the exponent is < -4 or >= 6,
 * trailing zeros removed. Rounds the exact binary value half-to-even like glibc.
 */
export function formatG(x: number, precision = 6): string {
  if (Number.isNaN(x)) return x < 0 ? '-nan' : 'nan';
  if (!Number.isFinite(x)) return x < 0 ? '-inf' : 'inf';
  const negative = x < 0 || Object.is(x, -0);
  if (x === 0) return negative ? '-0' : '0';
  const { digits, exponent } = roundSignificant(exactDecimal(Math.abs(x)), precision);
  let body: string;
  if (exponent < -4 || exponent >= precision) {
    const mantissa = stripZeros(digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits);
    const exp = Math.abs(exponent).toString().padStart(2, '0');
    body = `${mantissa}e${exponent < 0 ? '-' : '+'}${exp}`;
  } else if (exponent >= 0) {
    const intPart = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    const frac = digits.slice(exponent + 1);
    body = stripZeros(frac ? `${intPart}.${frac}` : intPart);
  } else {
    body = stripZeros(`0.${'0'.repeat(-exponent - 1)}${digits}`);
  }
  return negative ? `-${body}` : body;
}

function stripZeros(s: string): string {
  if (!s.includes('.')) return s;
  return s.replace(/0+$/, '').replace(/\.$/, '');
}

interface Decimal { digits: string; exponent: number }

/** The exact decimal expansion of a positive finite double: value = 0.d1d2... x 10^(exponent+1). */
function exactDecimal(x: number): Decimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp2: number;
  if (biased === 0) exp2 = -1074;
  else { mantissa |= 1n << 52n; exp2 = biased - 1075; }
  let digits: string;
  let pointShift: number;
  if (exp2 >= 0) {
    digits = (mantissa << BigInt(exp2)).toString();
    pointShift = 0;
  } else {
    digits = (mantissa * 5n ** BigInt(-exp2)).toString();
    pointShift = -exp2;
  }
  // value = digits x 10^-pointShift
  const trimmed = digits.replace(/^0+/, '');
  return { digits: trimmed, exponent: trimmed.length - 1 - pointShift };
}

function roundSignificant(d: Decimal, precision: number): Decimal {
  if (d.digits.length <= precision) return d;
  const keep = d.digits.slice(0, precision);
  const rest = d.digits.slice(precision);
  const first = rest.charCodeAt(0) - 48;
  const tail = /[1-9]/.test(rest.slice(1));
  const lastEven = (keep.charCodeAt(keep.length - 1) - 48) % 2 === 0;
  const roundUp = first > 5 || (first === 5 && (tail || !lastEven));
  if (!roundUp) return { digits: keep, exponent: d.exponent };
  const bumped = (BigInt(keep) + 1n).toString();
  if (bumped.length > keep.length) return { digits: bumped.slice(0, precision), exponent: d.exponent + 1 };
  return { digits: bumped, exponent: d.exponent };
}
