import type { Port } from '../port.js';
import type { Status } from './status.js';

/**
 * ClientAuthentication_hook_type: `void (*)(Port *, int status)`. May return a
 * promise; the backend waits for it as it waits for a C hook to return.
 */
export type ClientAuthenticationHook = (port: Port, status: Status) => void | Promise<void>;

/** crypt.h PasswordType: what get_password_type() says a PASSWORD literal is. */
export const PASSWORD_TYPE_PLAINTEXT = 0;
export const PASSWORD_TYPE_MD5 = 1;
export const PASSWORD_TYPE_SCRAM_SHA_256 = 2;
export type PasswordTypeCode = typeof PASSWORD_TYPE_PLAINTEXT | typeof PASSWORD_TYPE_MD5 | typeof PASSWORD_TYPE_SCRAM_SHA_256;

/**
 * check_password_hook_type: `void (*)(const char *username, const char *shadow_pass,
 * PasswordType password_type, Datum validuntil_time, bool validuntil_null)`.
 *
 * Called by CREATE ROLE and ALTER ROLE that carry a password (not PASSWORD NULL), before the
 * password is encrypted: `shadow_pass` is the literal as written, which is already an md5 or
 * SCRAM secret when `password_type` says so. `validuntil_time` is the VALID UNTIL of the same
 * statement in ms since the epoch (±Infinity for 'infinity'), meaningful only when
 * `validuntil_null` is false. Reject a password by throwing (ereport(ERROR)); the statement
 * then fails with that error. Synchronous, like the C hook.
 */
export type CheckPasswordHook = (
  username: string, shadow_pass: string, password_type: PasswordTypeCode, validuntil_time: number, validuntil_null: boolean,
) => void;

/**
 * elog.h ErrorData, the part a hook may read. emit_log_hook may set `output_to_server = false`
 * to keep the report out of the server log (PostgreSQL's supported use); changing the text
 * changes what is logged and what the client is sent, as in C.
 */
export interface ErrorData {
  /** The level as elog.h numbers it (ERROR = 21, LOG = 15, ...; see the exported constants). */
  elevel: number;
  /** The level's name ('ERROR', 'LOG', 'DEBUG1', ...). */
  severity: string;
  output_to_server: boolean;
  output_to_client: boolean;
  /** Set it to keep the STATEMENT line (the query text) out of the log record, as credcheck does for passwords. */
  hide_stmt: boolean;
  /** The five-character SQLSTATE (C keeps it packed in an int). */
  sqlerrcode: string;
  message: string;
  detail: string | null;
  detail_log: string | null;
  hint: string | null;
  context: string | null;
  filename: string | null;
  lineno: number;
  funcname: string | null;
}

/** emit_log_hook_type: `void (*)(ErrorData *edata)`. Synchronous, like the C hook. */
export type EmitLogHook = (edata: ErrorData) => void;

/** shmem_request_hook_type / shmem_startup_hook_type: `void (*)(void)`, run by the postmaster. */
export type ShmemHook = () => void;

/** Hook variables that are traced as `hook-entered` / `hook-left` events. */
export type HookSlotName = 'check_password_hook' | 'shmem_request_hook' | 'shmem_startup_hook';
