export * from './log-line-prefix.js';
export * from './format.js';
export { formatTimestamp, formatTimestampMs, lookupTimeZone, offsetZoneName, zoneFor, type ZoneInfo } from './timezone.js';
