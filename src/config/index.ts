export * from './guc.js';
export * from './builtin-gucs.js';
export * from './postgresql-conf.js';
export { parseBool, parseIntGuc, parseRealGuc, MEMORY_UNITS_HINT, TIME_UNITS_HINT, INTEGER_RANGE_HINT } from './units.js';
export { formatG } from './c-numbers.js';
export { GUC_REPORT_15, LIST_QUOTE, canonicalClientEncoding, checkDateStyle } from './pg15-gucs.js';
