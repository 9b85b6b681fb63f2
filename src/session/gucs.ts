/** The session's GUCs as InitPostgres leaves them (a leaf module: the connection handle refers to it). */
export interface SessionGucs {
  application_name: string;
  client_encoding: string;
  DateStyle: string;
  IntervalStyle: string;
  TimeZone: string | null;
  other: Map<string, string>;
}
