/** PostgreSQL's STATUS_* codes (c.h), which ClientAuthentication_hook receives. */
export const STATUS_OK = 0;
export const STATUS_ERROR = -1;
export const STATUS_EOF = -2;
export type Status = typeof STATUS_OK | typeof STATUS_ERROR | typeof STATUS_EOF;

import type { StatusName } from '../events.js';

export function statusName(s: Status): StatusName {
  return s === STATUS_OK ? 'OK' : s === STATUS_ERROR ? 'ERROR' : 'EOF';
}
