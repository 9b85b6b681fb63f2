/**
 * GUC value parsing: booleans, integers and reals with units, as guc.c's parse_bool,
 * parse_int, parse_real and the unit conversion tables do it in PostgreSQL 15.
 */
import { isCSpace, rint, strtod, strtol0 } from './c-numbers.js';

/** The base unit a numeric GUC is stored in (GUC_UNIT_* flags). */
export type GucUnit = 'B' | 'kB' | 'MB' | 'blocks' | 'xblocks' | 'ms' | 's' | 'min';

const BLCKSZ = 8192;
const XLOG_BLCKSZ = 8192;

interface UnitConversion { unit: string; base: GucUnit; multiplier: number }

/** Ordered largest to smallest per base unit; show() takes the first that divides evenly. */
const MEMORY_UNITS: UnitConversion[] = [
  ...memoryRows('B', 1),
  ...memoryRows('kB', 1024),
  ...memoryRows('MB', 1024 * 1024),
  ...memoryRows('blocks', BLCKSZ),
  ...memoryRows('xblocks', XLOG_BLCKSZ),
];

function memoryRows(base: GucUnit, bytesPerBase: number): UnitConversion[] {
  const k = 1024;
  return [
    { unit: 'TB', base, multiplier: (k * k * k * k) / bytesPerBase },
    { unit: 'GB', base, multiplier: (k * k * k) / bytesPerBase },
    { unit: 'MB', base, multiplier: (k * k) / bytesPerBase },
    { unit: 'kB', base, multiplier: k / bytesPerBase },
    { unit: 'B', base, multiplier: 1 / bytesPerBase },
  ];
}

// Factors written as PostgreSQL's table writes them, so the floating-point products match.
const TIME_UNITS: UnitConversion[] = [
  { unit: 'd', base: 'ms', multiplier: 1000 * 60 * 60 * 24 },
  { unit: 'h', base: 'ms', multiplier: 1000 * 60 * 60 },
  { unit: 'min', base: 'ms', multiplier: 1000 * 60 },
  { unit: 's', base: 'ms', multiplier: 1000 },
  { unit: 'ms', base: 'ms', multiplier: 1 },
  { unit: 'us', base: 'ms', multiplier: 1.0 / 1000 },

  { unit: 'd', base: 's', multiplier: 60 * 60 * 24 },
  { unit: 'h', base: 's', multiplier: 60 * 60 },
  { unit: 'min', base: 's', multiplier: 60 },
  { unit: 's', base: 's', multiplier: 1 },
  { unit: 'ms', base: 's', multiplier: 1.0 / 1000 },
  { unit: 'us', base: 's', multiplier: 1.0 / (1000 * 1000) },

  { unit: 'd', base: 'min', multiplier: 60 * 24 },
  { unit: 'h', base: 'min', multiplier: 60 },
  { unit: 'min', base: 'min', multiplier: 1 },
  { unit: 's', base: 'min', multiplier: 1.0 / 60 },
  { unit: 'ms', base: 'min', multiplier: 1.0 / (1000 * 60) },
  { unit: 'us', base: 'min', multiplier: 1.0 / (1000 * 1000 * 60) },
];

export function isMemoryUnit(unit: GucUnit): boolean {
  return unit === 'B' || unit === 'kB' || unit === 'MB' || unit === 'blocks' || unit === 'xblocks';
}

function tableFor(unit: GucUnit): UnitConversion[] {
  return (isMemoryUnit(unit) ? MEMORY_UNITS : TIME_UNITS).filter((row) => row.base === unit);
}

export const MEMORY_UNITS_HINT = 'Valid units for this parameter are "B", "kB", "MB", "GB", and "TB".';
export const TIME_UNITS_HINT = 'Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".';
export const INTEGER_RANGE_HINT = 'Value exceeds integer range.';

/** How the unit appears in messages and pg_settings.unit (get_config_unit_name). */
export function unitDisplayName(unit: GucUnit): string {
  switch (unit) {
    case 'blocks': return `${BLCKSZ / 1024}kB`;
    case 'xblocks': return `${XLOG_BLCKSZ / 1024}kB`;
    default: return unit;
  }
}

const MAX_UNIT_LEN = 3;

/** convert_to_base_unit: `unitText` is everything after the number and its blanks. */
function convertToBaseUnit(value: number, unitText: string, base: GucUnit): number | null {
  let i = 0;
  let unitStr = '';
  while (i < unitText.length && !isCSpace(unitText[i]) && unitStr.length < MAX_UNIT_LEN) unitStr += unitText[i++];
  while (isCSpace(unitText[i])) i++;
  if (i < unitText.length) return null; // unit too long, or garbage after it
  const table = tableFor(base);
  for (let k = 0; k < table.length; k++) {
    const row = table[k]!;
    if (row.unit !== unitStr) continue;
    let converted = value * row.multiplier;
    // A fractional input like "30.1GB" is rounded to a whole multiple of the next smaller unit.
    const smaller = table[k + 1];
    if (smaller) converted = rint(converted / smaller.multiplier) * smaller.multiplier;
    return converted;
  }
  return null;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; hint?: string };

/** parse_bool: on/off/true/false/yes/no/1/0 and unique prefixes, case-insensitive; no blanks. */
export function parseBool(value: string): boolean | null {
  const v = value.toLowerCase();
  const len = v.length;
  if (len === 0) return null;
  const prefixOf = (word: string, minLen = 1) => len >= minLen && len <= word.length && word.startsWith(v);
  switch (v[0]) {
    case 't': return prefixOf('true') ? true : null;
    case 'f': return prefixOf('false') ? false : null;
    case 'y': return prefixOf('yes') ? true : null;
    case 'n': return prefixOf('no') ? false : null;
    case 'o':
      // A lone "o" is ambiguous between on and off.
      if (prefixOf('on', 2)) return true;
      if (prefixOf('off', 2)) return false;
      return null;
    case '1': return len === 1 ? true : null;
    case '0': return len === 1 ? false : null;
    default: return null;
  }
}

/** Number part of parse_int/parse_real followed by the optional unit. Returns base-unit double. */
function parseNumberWithUnit(value: string, unit: GucUnit | undefined, asInteger: boolean): ParseResult<number> {
  let parsed = asInteger ? strtol0(value) : strtod(value);
  if (asInteger) {
    const stop = value[parsed.end];
    // Integers may still be written as 1.5 or 1e3; re-read those as floating point.
    if (stop === '.' || stop === 'e' || stop === 'E' || parsed.range) parsed = strtod(value);
  }
  if (parsed.end === 0 || parsed.range) return { ok: false };
  let val = parsed.value;
  if (Number.isNaN(val)) return { ok: false };
  let i = parsed.end;
  while (isCSpace(value[i])) i++;
  if (i < value.length) {
    if (!unit) return { ok: false };
    const converted = convertToBaseUnit(val, value.slice(i), unit);
    if (converted === null) return { ok: false, hint: isMemoryUnit(unit) ? MEMORY_UNITS_HINT : TIME_UNITS_HINT };
    val = converted;
  }
  return { ok: true, value: val };
}

export const INT_MAX = 2147483647;
export const INT_MIN = -2147483648;

/** parse_int: the value in the GUC's base unit, rounded half-to-even. */
export function parseIntGuc(value: string, unit?: GucUnit): ParseResult<number> {
  const r = parseNumberWithUnit(value, unit, true);
  if (!r.ok) return r;
  const rounded = rint(r.value);
  if (rounded > INT_MAX || rounded < INT_MIN) return { ok: false, hint: INTEGER_RANGE_HINT };
  return { ok: true, value: rounded === 0 ? 0 : rounded };
}

/** parse_real: the value in the GUC's base unit. */
export function parseRealGuc(value: string, unit?: GucUnit): ParseResult<number> {
  return parseNumberWithUnit(value, unit, false);
}

/** convert_int_from_base_unit: the largest unit that divides the value evenly. */
export function intFromBaseUnit(value: number, unit: GucUnit): { value: number; unit: string } {
  for (const row of tableFor(unit)) {
    if (row.multiplier <= 1 || value % row.multiplier === 0) {
      return { value: rint(value / row.multiplier), unit: row.unit };
    }
  }
  return { value, unit: unit };
}

/** convert_real_from_base_unit: the first unit giving (nearly) an integer, else the smallest. */
export function realFromBaseUnit(value: number, unit: GucUnit): { value: number; unit: string } {
  let out = { value, unit: unit as string };
  for (const row of tableFor(unit)) {
    out = { value: value / row.multiplier, unit: row.unit };
    if (out.value > 0 && Math.abs(rint(out.value) / out.value - 1.0) <= 1e-8) break;
  }
  return out;
}
