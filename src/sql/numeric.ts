/**
 * numeric arithmetic on decimal strings, exact (BigInt), with PostgreSQL's result scales:
 * + and - keep the larger scale, * adds the scales, / uses select_div_scale() (at least 16
 * significant digits), and results round half away from zero as numeric.c's round_var does.
 */
import { PgError } from '../errors.js';
import { numericDigits } from './types.js';

interface Decimal { n: bigint; scale: number }

function parse(text: string): Decimal {
  const neg = text.startsWith('-');
  const [int = '0', frac = ''] = text.replace(/^[+-]/, '').split('.');
  const n = BigInt(`${int}${frac}` || '0');
  return { n: neg ? -n : n, scale: frac.length };
}

function format(d: Decimal): string {
  const neg = d.n < 0n;
  const digits = (neg ? -d.n : d.n).toString().padStart(d.scale + 1, '0');
  const int = digits.slice(0, digits.length - d.scale);
  const frac = digits.slice(digits.length - d.scale);
  const out = d.scale > 0 ? `${int}.${frac}` : int;
  return neg && /[1-9]/.test(out) ? `-${out}` : out;
}

const pow10 = (k: number) => 10n ** BigInt(k);

function rescale(d: Decimal, scale: number): bigint {
  return scale >= d.scale ? d.n * pow10(scale - d.scale) : divRound(d.n, pow10(d.scale - scale));
}

/** Integer division rounding half away from zero. */
function divRound(a: bigint, b: bigint): bigint {
  const neg = (a < 0n) !== (b < 0n);
  const x = a < 0n ? -a : a;
  const y = b < 0n ? -b : b;
  let q = x / y;
  if ((x % y) * 2n >= y) q += 1n;
  return neg ? -q : q;
}

/** select_div_scale(): enough digits for NUMERIC_MIN_SIG_DIGITS (16) significant ones, and no fewer than either input shows. */
function divScale(a: string, b: string): number {
  const first = (t: string) => {
    const { digits, weight, dscale } = numericDigits(t.replace(/^\+/, ''));
    return { weight: digits.length ? weight : 0, firstDigit: digits[0] ?? 0, dscale };
  };
  const x = first(a);
  const y = first(b);
  let qweight = x.weight - y.weight;
  if (x.firstDigit <= y.firstDigit) qweight--;
  return Math.min(1000, Math.max(16 - qweight * 4, x.dscale, y.dscale, 0));
}

export function numericArithmetic(op: string, a: string, b: string): string {
  const x = parse(a);
  const y = parse(b);
  switch (op) {
    case '+': case '-': {
      const scale = Math.max(x.scale, y.scale);
      const n = op === '+' ? rescale(x, scale) + rescale(y, scale) : rescale(x, scale) - rescale(y, scale);
      return format({ n, scale });
    }
    case '*': return format({ n: x.n * y.n, scale: x.scale + y.scale });
    case '/': case '%': {
      if (y.n === 0n) throw new PgError({ severity: 'ERROR', sqlstate: '22012', message: 'division by zero', file: 'numeric.c', line: 8527, routine: 'div_var' });
      if (op === '%') {
        const scale = Math.max(x.scale, y.scale);
        return format({ n: rescale(x, scale) % rescale(y, scale), scale });
      }
      const scale = divScale(a, b);
      // x/y at `scale` digits: (x.n * 10^(scale + y.scale - x.scale)) / y.n, rounded.
      const shift = scale + y.scale - x.scale;
      const n = shift >= 0 ? divRound(x.n * pow10(shift), y.n) : divRound(x.n, y.n * pow10(-shift));
      return format({ n, scale });
    }
    default: throw new Error(`numeric operator ${op}`);
  }
}
