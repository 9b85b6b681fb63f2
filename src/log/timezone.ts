/**
 * Time zones for the TimeZone/log_timezone GUCs and for log timestamps.
 *
 * PostgreSQL carries its own tz database; we lean on the platform's (Intl) for named zones
 * and handle PostgreSQL's own fixed-offset forms ("+3" becomes "<+03>-03", POSIX "UTC+3")
 * ourselves. UTC/GMT and fixed offsets print exactly as PostgreSQL prints them; for other
 * named zones the abbreviation comes from ICU and may differ from tzdata's (e.g. "GMT+5:30"
 * where PostgreSQL prints "IST").
 */

import { strtod } from '../config/c-numbers.js';

export interface ZoneInfo {
  /** The name SHOW prints. */
  name: string;
  /** Offset east of UTC in seconds, and the abbreviation %Z prints, at instant `ms`. */
  at(ms: number): { offsetSeconds: number; abbrev: string };
}

/** tzdata's zero-offset links, by lower-cased name, with the spelling SHOW prints. */
const UTC_NAMES = canonicalMap(['UTC', 'Etc/UTC', 'UCT', 'Etc/UCT', 'Zulu', 'Etc/Zulu', 'Universal', 'Etc/Universal']);
const GMT_NAMES = canonicalMap(['GMT', 'Etc/GMT', 'GMT0', 'Etc/GMT0', 'GMT+0', 'Etc/GMT+0', 'GMT-0', 'Etc/GMT-0', 'Greenwich', 'Etc/Greenwich']);

function canonicalMap(names: string[]): Map<string, string> {
  return new Map(names.map((n) => [n.toLowerCase(), n]));
}

function fixedZone(name: string, offsetSeconds: number, abbrev: string): ZoneInfo {
  return { name, at: () => ({ offsetSeconds, abbrev }) };
}

/** The name pg_tzset_offset() builds for a numeric TimeZone setting (Unix sign convention inside). */
export function offsetZoneName(gmtoffset: number): string {
  let abs = Math.abs(gmtoffset);
  let text = String(Math.trunc(abs / 3600)).padStart(2, '0');
  abs %= 3600;
  if (abs !== 0) {
    text += `:${String(Math.trunc(abs / 60)).padStart(2, '0')}`;
    abs %= 60;
    if (abs !== 0) text += `:${String(abs).padStart(2, '0')}`;
  }
  return gmtoffset > 0 ? `<-${text}>+${text}` : `<+${text}>-${text}`;
}

/**
 * A POSIX TZ string without DST rules: STD offset, where offset is hours *west* of UTC.
 * PostgreSQL also takes a bare offset ("+3", "+03:00"), with an empty abbreviation (observed).
 */
function posixFixedZone(name: string): ZoneInfo | null {
  const m = /^(<([+-]?[A-Za-z0-9]+)>|([A-Za-z]{3,})|)([+-]?)(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?$/.exec(name);
  if (!m) return null;
  const abbrev = m[2] ?? m[3] ?? '';
  const west = (Number(m[5]) * 3600 + Number(m[6] ?? 0) * 60 + Number(m[7] ?? 0)) * (m[4] === '-' ? -1 : 1);
  if (west > 24 * 3600 || west < -24 * 3600) return null;
  const upper = name.toUpperCase();
  return fixedZone(m[1]?.startsWith('<') ? name : upper, -west, abbrev);
}

let supportedZones: Map<string, string> | undefined;
function canonicalCase(name: string): string | undefined {
  if (!supportedZones) {
    supportedZones = new Map();
    for (const z of Intl.supportedValuesOf('timeZone')) supportedZones.set(z.toLowerCase(), z);
  }
  return supportedZones.get(name.toLowerCase());
}

/**
 * Look a zone up the way check_timezone()/check_log_timezone() accept it: a number of hours
 * (TimeZone only, `allowNumeric`), a zone name, or a POSIX spec. Null when PostgreSQL would say
 * `invalid value for parameter`.
 */
export function lookupTimeZone(value: string, allowNumeric = true): ZoneInfo | null {
  if (allowNumeric) {
    // check_timezone: a string strtod() consumes entirely is a number of hours east of UTC.
    const num = strtod(value);
    if (num.end > 0 && num.end === value.length && Number.isFinite(num.value)) {
      const gmtoffset = Math.trunc(-num.value * 3600);
      const name = offsetZoneName(gmtoffset);
      return fixedZone(name, -gmtoffset, name.slice(1, name.indexOf('>')));
    }
  }
  const lower = value.toLowerCase();
  const utc = UTC_NAMES.get(lower);
  if (utc) return fixedZone(utc, 0, 'UTC');
  const gmt = GMT_NAMES.get(lower);
  if (gmt) return fixedZone(gmt, 0, 'GMT');
  const etc = /^etc\/gmt([+-])(\d{1,2})$/i.exec(value);
  if (etc) {
    const hours = Number(etc[2]);
    if (hours > 14) return null;
    // Etc/GMT+3 is three hours *west*; tzdata abbreviates it "-03".
    const east = (etc[1] === '+' ? -1 : 1) * hours * 3600;
    const abbrev = `${east < 0 ? '-' : '+'}${String(hours).padStart(2, '0')}`;
    return fixedZone(`Etc/GMT${etc[1]}${hours}`, east, abbrev);
  }
  const posix = posixFixedZone(value);
  if (posix) return posix;
  // Newer ICU reads other offset spellings; PostgreSQL's loader does not.
  if (/^[-+0-9]/.test(value)) return null;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
  const name = canonicalCase(value) ?? (resolved.toLowerCase() === lower ? resolved : value);
  return intlZone(name, value);
}

function intlZone(name: string, intlName: string): ZoneInfo {
  const offsetFmt = new Intl.DateTimeFormat('en-US', { timeZone: intlName, timeZoneName: 'longOffset' });
  const abbrUS = new Intl.DateTimeFormat('en-US', { timeZone: intlName, timeZoneName: 'short' });
  const abbrGB = new Intl.DateTimeFormat('en-GB', { timeZone: intlName, timeZoneName: 'short' });
  const part = (f: Intl.DateTimeFormat, ms: number) => f.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? '';
  return {
    name,
    at(ms: number) {
      const off = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(part(offsetFmt, ms));
      const offsetSeconds = off && off[1] ? (off[1] === '-' ? -1 : 1) * (Number(off[2]) * 3600 + Number(off[3]) * 60) : 0;
      let abbrev = part(abbrUS, ms);
      if (/^GMT[+-]/.test(abbrev)) abbrev = part(abbrGB, ms);
      if (/^GMT[+-]/.test(abbrev) || abbrev === '') {
        // tzdata spells zones without a letter abbreviation as numeric offsets: "+03", "+0530".
        const abs = Math.abs(offsetSeconds);
        const hh = String(Math.trunc(abs / 3600)).padStart(2, '0');
        const mm = Math.trunc((abs % 3600) / 60);
        abbrev = `${offsetSeconds < 0 ? '-' : '+'}${hh}${mm ? String(mm).padStart(2, '0') : ''}`;
      }
      return { offsetSeconds, abbrev };
    },
  };
}

const zoneCache = new Map<string, ZoneInfo | null>();
/**
 * The zone a stored setting names (log_timezone's value), cached: log lines format many
 * timestamps in the same zone. Stored names are never bare hour counts ("+3" means POSIX here).
 */
export function zoneFor(name: string): ZoneInfo {
  let z = zoneCache.get(name);
  if (z === undefined) {
    z = lookupTimeZone(name, false);
    zoneCache.set(name, z);
  }
  return z ?? fixedZone('GMT', 0, 'GMT');
}

export interface LocalTime {
  year: number; month: number; day: number; hour: number; minute: number; second: number;
  millisecond: number; abbrev: string;
}

export function localTime(ms: number, zone: ZoneInfo): LocalTime {
  const { offsetSeconds, abbrev } = zone.at(ms);
  const d = new Date(Math.floor(ms) + offsetSeconds * 1000);
  return {
    year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(),
    hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(),
    millisecond: d.getUTCMilliseconds(), abbrev,
  };
}

const p2 = (n: number) => String(n).padStart(2, '0');

/** pg_strftime "%Y-%m-%d %H:%M:%S %Z" (the %t and %s escapes). */
export function formatTimestamp(ms: number, zone: ZoneInfo): string {
  const t = localTime(ms, zone);
  return `${String(t.year).padStart(4, '0')}-${p2(t.month)}-${p2(t.day)} ${p2(t.hour)}:${p2(t.minute)}:${p2(t.second)} ${t.abbrev}`;
}

/** The %m form: seconds, then milliseconds (truncated, as PostgreSQL pastes tv_usec/1000), then the zone. */
export function formatTimestampMs(ms: number, zone: ZoneInfo): string {
  const t = localTime(ms, zone);
  return `${String(t.year).padStart(4, '0')}-${p2(t.month)}-${p2(t.day)} ${p2(t.hour)}:${p2(t.minute)}:${p2(t.second)}.${String(t.millisecond).padStart(3, '0')} ${t.abbrev}`;
}
