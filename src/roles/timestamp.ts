/**
 * VALID UNTIL values: the ISO-style subset of timestamptz input that role files use.
 * Times without a zone are read as UTC (a fresh cluster's TimeZone is usually Etc/UTC).
 */

export type TimestampParse =
  | { ok: true; ms: number }
  | { ok: false; message: string; sqlstate: string; hint?: string };

const SPECIAL: Record<string, number> = { infinity: Infinity, '+infinity': Infinity, '-infinity': -Infinity, epoch: 0 };

const TIMESTAMP_RE = new RegExp(
  '^(\\d{4,})-(\\d{1,2})-(\\d{1,2})' + // date
  '(?:(?:[Tt]|\\s+)(\\d{1,2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d+))?)?)?' + // time
  '\\s*(?:([Zz]|UTC|utc|GMT|gmt)|([+-])(\\d{1,2})(?::?(\\d{2}))?)?$', // zone
);

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Milliseconds since the epoch, ±Infinity, or PG's error for the input. */
export function parseTimestamptz(input: string): TimestampParse {
  const s = input.trim();
  const special = SPECIAL[s.toLowerCase()];
  if (special !== undefined) return { ok: true, ms: special };
  const syntax = { ok: false as const, message: `invalid input syntax for type timestamp with time zone: "${input}"`, sqlstate: '22007' };
  const m = TIMESTAMP_RE.exec(s);
  if (!m) return syntax;
  const [, y, mo, d, hh, mi, ss, frac, utc, sign, tzh, tzm] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const range = (hint?: string): TimestampParse => ({
    ok: false, message: `date/time field value out of range: "${input}"`, sqlstate: '22008', ...(hint ? { hint } : {}),
  });
  if (month < 1 || month > 12) return range('Perhaps you need a different "datestyle" setting.');
  if (day < 1 || day > daysInMonth(year, month)) return range();
  const hour = Number(hh ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(ss ?? 0);
  // 24:00:00 is allowed and means the next midnight.
  if (hour > 24 || minute > 59 || second > 60 || (hour === 24 && (minute > 0 || second > 0 || Number(frac ?? 0) > 0))) {
    return range();
  }
  let offsetMinutes = 0;
  if (sign && !utc) {
    const oh = Number(tzh);
    const om = Number(tzm ?? 0);
    if (oh > 15 || om > 59) return { ok: false, message: `time zone displacement out of range: "${input}"`, sqlstate: '22009' };
    offsetMinutes = (sign === '-' ? -1 : 1) * (oh * 60 + om);
  }
  // Microsecond precision, as timestamptz stores it.
  const micros = frac ? Math.round(Number(`0.${frac}`) * 1e6) : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return { ok: true, ms: date.getTime() + micros / 1000 - offsetMinutes * 60_000 };
}
