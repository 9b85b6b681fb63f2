/**
 * PostgreSQL's Port (libpq-be.h): what the backend knows about the client
 * connection. Field names follow the C struct so hook authors feel at home.
 */
import { stringToBytes } from './bytes.js';

export interface HbaLineView {
  /** The file the line came from: pg_hba.conf, or (16+) a file it includes. */
  readonly source_file: string;
  readonly line_number: number;
  readonly raw_line: string;
  readonly auth_method: string;
}

/**
 * The client's bytes behind Port's strings, for hooks that must not depend on how they
 * decode. PostgreSQL compares and logs exactly these.
 */
export interface PortBytes {
  /** The startup packet's `user`, cut to NAMEDATALEN-1 (63) bytes. */
  readonly user_name: Buffer;
  /** `database` (the user name when absent or empty), cut to 63 bytes. */
  readonly database_name: Buffer;
  /** The last `application_name` value as sent, before pg_clean_ascii; null when none was sent. */
  readonly application_name: Buffer | null;
  readonly guc_options: ReadonlyArray<readonly [Buffer, Buffer]>;
  readonly cmdline_options: Buffer | null;
}

/**
 * Strings a client supplied (user_name, database_name, guc_options, cmdline_options) are its
 * bytes decoded without loss (src/bytes.ts): well-formed UTF-8 as text, every other byte as
 * the lone surrogate U+DC80–U+DCFF (Python's surrogateescape), so equal strings mean equal
 * bytes and a terminal shows U+FFFD for such a byte. `raw` has the bytes themselves.
 * application_name is pg_clean_ascii's output, printable ASCII only.
 */
export interface Port {
  readonly pid: number;
  readonly remote_host: string;
  readonly remote_port: string;
  readonly database_name: string;
  readonly user_name: string;
  readonly application_name: string | null;
  /** Startup packet parameters other than user/database/options, in arrival order. */
  readonly guc_options: ReadonlyArray<readonly [string, string]>;
  readonly cmdline_options: string | null;
  readonly ssl_in_use: boolean;
  readonly gss_enc: boolean;
  readonly peer_cn: string | null;
  readonly peer_dn: string | null;
  readonly peer_cert_valid: boolean;
  readonly hba: HbaLineView | null;
  readonly authn_id: string | null;
  readonly ssl_protocol: string | null;
  readonly ssl_cipher: string | null;
  /** The same client-supplied values as bytes. */
  readonly raw: PortBytes;
}

/** The backend's own mutable copy; hooks only ever see a frozen snapshot (which adds `raw`). */
export type MutablePort = { -readonly [K in Exclude<keyof Port, 'raw'>]: Port[K] };

export function newPort(pid: number, remoteHost: string, remotePort: string): MutablePort {
  return {
    pid,
    remote_host: remoteHost,
    remote_port: remotePort,
    database_name: '',
    user_name: '',
    application_name: null,
    guc_options: [],
    cmdline_options: null,
    ssl_in_use: false,
    gss_enc: false,
    peer_cn: null,
    peer_dn: null,
    peer_cert_valid: false,
    hba: null,
    authn_id: null,
    ssl_protocol: null,
    ssl_cipher: null,
  };
}

export function snapshotPort(p: MutablePort): Port {
  return Object.freeze({
    ...p,
    guc_options: Object.freeze(p.guc_options.map((kv) => Object.freeze([kv[0], kv[1]] as const))),
    hba: p.hba ? Object.freeze({ ...p.hba }) : null,
    raw: portBytes(p),
  });
}

/** The strings map back to their bytes one to one, so the bytes are derived rather than kept twice. */
function portBytes(p: MutablePort): PortBytes {
  const appName = [...p.guc_options].reverse().find(([name]) => name === 'application_name');
  return Object.freeze({
    user_name: stringToBytes(p.user_name),
    database_name: stringToBytes(p.database_name),
    application_name: appName ? stringToBytes(appName[1]) : null,
    guc_options: Object.freeze(p.guc_options.map(([n, v]) => Object.freeze([stringToBytes(n), stringToBytes(v)] as const))),
    cmdline_options: p.cmdline_options === null ? null : stringToBytes(p.cmdline_options),
  });
}
