/**
 * PostgreSQL's Port (libpq-be.h): what the backend knows about the client
 * connection. Field names follow the C struct so hook authors feel at home.
 */
export interface HbaLineView {
  /** The file the line came from: pg_hba.conf, or (16+) a file it includes. */
  readonly source_file: string;
  readonly line_number: number;
  readonly raw_line: string;
  readonly auth_method: string;
}

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
}

/** The backend's own mutable copy; hooks only ever see a frozen snapshot. */
export type MutablePort = { -readonly [K in keyof Port]: Port[K] };

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
  });
}
