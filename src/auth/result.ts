import type { Status } from '../hooks/status.js';

/** What a method hands back to ClientAuthentication: a status and the log-only reason. */
export interface AuthResult {
  status: Status;
  logdetail?: string;
}
