/**
 * What the rest of the server reads of a session's settings: the application_name GUC, which
 * log_line_prefix's %a shows, and any other (client_min_messages for routing reports). A leaf module: the connection handle refers to it; the session's
 * settings themselves live in SessionSettings (settings.ts).
 */
export interface SessionGucs {
  readonly application_name: string;
  /** A parameter's current value in this session as SHOW prints it; undefined for an unknown name. */
  setting(name: string): string | undefined;
  /**
   * The typed value C code in this backend reads from the GUC's variable (SET, RESET and SET
   * LOCAL included); undefined for an unknown or derived name.
   */
  value?(name: string): boolean | number | string | undefined;
}
