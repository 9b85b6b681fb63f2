/**
 * A backend's own view of the GUCs: a copy of the postmaster's registry (as a forked backend
 * inherits it), the startup packet's values (PGC_S_CLIENT), SET/RESET (PGC_S_SESSION) with
 * PostgreSQL's context rules, SET LOCAL, transactional rollback of settings, SHOW's text,
 * and which GUC_REPORT values changed since they were last sent as ParameterStatus.
 */
import { PgError, type PgErrorFields } from '../errors.js';
import { GUC_REPORT_15, type GucRegistry, type GucSettingRow } from '../config/index.js';
import { lookupTimeZone } from '../log/timezone.js';
import type { PgMajor, ServerSettings } from '../server/settings.js';
import type { IoSettings } from '../sql/types.js';

export interface SessionIdentity {
  user: string;
  superuser: boolean;
  serverVersion: string;
  serverMajor: PgMajor;
  scramIterations: number;
}

/** Internal parameters whose value is the session's or the server's, not a stored setting. */
const DERIVED = new Set(['server_version', 'server_version_num', 'is_superuser', 'session_authorization', 'scram_iterations', 'server_encoding']);

export class SessionSettings {
  private gucs: GucRegistry;
  /** SET LOCAL values, by canonical name, until the transaction ends. */
  private local = new Map<string, string>();
  /** The values last sent as ParameterStatus. */
  private reported = new Map<string, string>();

  /** The values the session started with (after the startup packet): what RESET goes back to. */
  private resetState: GucRegistry;
  /** The postmaster's registry, and how far this session has caught up with its reloads. */
  private readonly server: GucRegistry;
  private serverGeneration: number;
  /** Values taken from ServerSettings rather than the registry: a reload does not touch them. */
  private readonly fromServerSettings = new Set<string>();

  /** Where WARNINGs/NOTICEs the registry raises go (truncate_identifier for a long application_name). */
  private readonly options: { onMessage: (m: PgErrorFields) => void };

  constructor(serverGucs: GucRegistry, private readonly id: SessionIdentity, server?: ServerSettings, notice: (m: PgErrorFields) => void = () => {}) {
    this.options = { onMessage: notice };
    this.server = serverGucs;
    this.serverGeneration = serverGucs.generation;
    this.gucs = serverGucs.fork(this.options);
    // client_encoding defaults to the database encoding (PGC_S_DYNAMIC_DEFAULT), as InitPostgres sets it.
    this.gucs.set('client_encoding', 'UTF8', 'dynamic-default');
    // A server configured through ServerSettings (not postgresql.conf) still shows those values.
    if (server) {
      const fromSettings: Record<string, string> = {
        ssl: server.ssl ? 'on' : 'off', max_connections: String(server.maxConnections),
        superuser_reserved_connections: String(server.superuserReservedConnections),
        authentication_timeout: `${server.authenticationTimeoutMs}ms`, password_encryption: server.passwordEncryption,
        log_connections: server.logConnections ? 'on' : 'off', log_disconnections: server.logDisconnections ? 'on' : 'off',
        log_line_prefix: server.logLinePrefix, TimeZone: server.timezone,
      };
      for (const [name, value] of Object.entries(fromSettings)) {
        if (!this.gucs.has(name) || this.gucs.source(name) !== 'default') continue;
        try {
          this.gucs.set(name, value, 'file');
          this.fromServerSettings.add(name);
        } catch {
          // A value only ServerSettings can hold (a 200 ms authentication_timeout in a test) keeps the default here.
        }
      }
    }
    this.resetState = this.gucs.fork(this.options);
  }

  /**
   * ProcessConfigFile(PGC_SIGHUP) in the backend, before it reads its next command: after a
   * reload, every value this session has from the configuration (not SET, not the startup
   * packet) takes the postmaster's new value, and so does what RESET goes back to.
   */
  catchUpWithReload(): void {
    if (this.server.generation === this.serverGeneration) return;
    this.serverGeneration = this.server.generation;
    const fromConfig = (r: GucRegistry, name: string) => { const src = r.source(name); return src === 'default' || src === 'file'; };
    for (const name of this.server.variableNames()) {
      if (this.fromServerSettings.has(name) || !this.gucs.has(name)) continue;
      for (const target of [this.gucs, this.resetState]) {
        if (fromConfig(target, name) && (target.getConfigOption(name) !== this.server.getConfigOption(name) || target.source(name) !== this.server.source(name))) {
          target.copyValueFrom(this.server, name);
        }
      }
    }
  }

  /** The startup packet has been applied: RESET goes back to these values from now on. */
  startupDone(): void {
    this.resetState = this.gucs.fork(this.options);
  }

  // ---- reading ---------------------------------------------------------------------------

  /** SHOW name: the text PostgreSQL prints, or its error for unknown / superuser-only names. */
  show(name: string): string {
    const canonical = this.canonical(name);
    const derived = this.derived(canonical);
    if (derived !== null) return derived;
    const def = this.gucs.definition(canonical);
    if (def?.flags?.superuserOnly && !this.id.superuser) {
      throw new PgError({
        severity: 'ERROR', sqlstate: '42501', message: `must be superuser or have privileges of pg_read_all_settings to examine "${name}"`,
        file: 'guc.c', line: 10117, routine: 'GetConfigOptionByName',
      });
    }
    return this.local.get(canonical) ?? this.gucs.show(canonical);
  }

  /** The canonical spelling ("datestyle" → "DateStyle"); throws 42704 for an unknown name. */
  canonical(name: string): string {
    if (DERIVED.has(name.toLowerCase())) return name.toLowerCase();
    this.gucs.get(name); // find_option's error for an unknown name
    return this.gucs.canonicalName(name) ?? name;
  }

  /** The typed value (what an extension's C variable holds in this backend); undefined when unknown or derived. */
  value(name: string): boolean | number | string | undefined {
    if (DERIVED.has(name.toLowerCase()) || !this.gucs.has(name)) return undefined;
    const canonical = this.gucs.canonicalName(name) ?? name;
    const local = this.local.get(canonical);
    if (local === undefined) return this.gucs.get(canonical);
    // SET LOCAL keeps SHOW's text; read it back through a scratch copy.
    const scratch = this.gucs.fork(this.options);
    scratch.set(canonical, local, 'session', { context: 'superuser', isSuperuser: true });
    return scratch.get(canonical);
  }

  /** show() without errors, for current_setting(name, true) and the registry's setting(). */
  tryShow(name: string): string | null {
    try {
      return this.show(name);
    } catch {
      return null;
    }
  }

  private derived(name: string): string | null {
    switch (name) {
      case 'server_version': return this.id.serverVersion;
      case 'server_version_num': {
        const [major = '15', minor = '0'] = this.id.serverVersion.split(/[ .]/);
        return String(Number(major) * 10000 + Number(minor));
      }
      case 'is_superuser': return this.id.superuser ? 'on' : 'off';
      case 'session_authorization': return this.id.user;
      case 'server_encoding': return 'UTF8';
      case 'scram_iterations': return this.id.serverMajor >= 16 ? String(this.id.scramIterations) : null;
      default: return null;
    }
  }

  get application_name(): string { return this.show('application_name'); }
  get client_encoding(): string { return this.show('client_encoding'); }
  get DateStyle(): string { return this.show('DateStyle'); }
  get IntervalStyle(): string { return this.show('IntervalStyle'); }
  get TimeZone(): string { return this.show('TimeZone'); }

  /** GUC_LIST_INPUT: SET takes several comma-separated values. */
  isList(name: string): boolean {
    return this.gucs.definition(name)?.flags?.list ?? false;
  }

  /** What the type output functions read. */
  io(): IoSettings {
    const efd = Number(this.show('extra_float_digits'));
    return {
      extraFloatDigits: Number.isFinite(efd) ? efd : 1,
      timeZone: lookupTimeZone(this.show('TimeZone')) ?? lookupTimeZone('UTC')!,
      byteaOutput: this.show('bytea_output') === 'escape' ? 'escape' : 'hex',
    };
  }

  /** SHOW ALL's rows: name, setting, description (superuser-only ones hidden from others). */
  showAll(): Array<[string, string, string]> {
    return this.gucs.settings()
      .filter((r) => this.id.superuser || !this.gucs.definition(r.name)?.flags?.superuserOnly)
      .map((r) => [r.name, this.show(r.name), this.gucs.definition(r.name)?.description ?? '']);
  }

  /** pg_settings rows of this session (values as SHOW would not print them: raw, without units). */
  rows(): Array<GucSettingRow & { resetVal: string }> {
    return this.gucs.settings()
      .filter((r) => this.id.superuser || !this.gucs.definition(r.name)?.flags?.superuserOnly)
      .map((r) => {
        const derived = this.derived(r.name);
        const local = this.local.get(r.name);
        return { ...r, ...(derived !== null ? { setting: derived } : local !== undefined ? { setting: local } : {}), resetVal: derived ?? this.resetState.getConfigOption(r.name) ?? '' };
      });
  }

  // ---- writing ---------------------------------------------------------------------------

  /** process_startup_options(): a startup-packet value, PGC_S_CLIENT in a backend context; errors are FATAL. */
  applyStartup(name: string, value: string): void {
    this.gucs.set(name, value, 'client', {
      context: this.id.superuser ? 'superuser-backend' : 'backend', isSuperuser: this.id.superuser, elevel: 'FATAL',
    });
  }

  /** SET / SET LOCAL / RESET (value null): PGC_S_SESSION in a user or superuser context. */
  set(name: string, value: string | null, opts: { local?: boolean } = {}): void {
    if (DERIVED.has(name.toLowerCase())) {
      throw new PgError({ severity: 'ERROR', sqlstate: '55P02', message: `parameter "${name}" cannot be changed`, file: 'guc.c', line: 7728, routine: 'set_config_option_ext' });
    }
    const context = this.id.superuser ? 'superuser' : 'user';
    if (opts.local) {
      // Validate against a scratch copy, keep the canonical text until the transaction ends.
      const scratch = this.gucs.fork(this.options);
      scratch.set(name, value, 'session', { context, isSuperuser: this.id.superuser });
      const canonical = this.gucs.canonicalName(name) ?? name;
      this.local.set(canonical, scratch.show(canonical));
      return;
    }
    if (value === null) {
      // The context checks still apply to RESET; the value comes from the session's start.
      this.gucs.set(name, null, 'session', { context, isSuperuser: this.id.superuser, validateOnly: true });
      this.gucs.copyValueFrom(this.resetState, name);
    } else {
      this.gucs.set(name, value, 'session', { context, isSuperuser: this.id.superuser });
    }
    this.local.delete(this.gucs.canonicalName(name) ?? name);
  }

  /** RESET ALL: every user-settable value back to its default (GUC_NO_RESET_ALL ones excepted). */
  resetAll(): void {
    for (const row of this.gucs.settings()) {
      if (row.source !== 'session' || NO_RESET_ALL.has(row.name)) continue;
      this.gucs.copyValueFrom(this.resetState, row.name);
    }
    this.local.clear();
  }

  // ---- transactions ------------------------------------------------------------------------

  /** A copy to go back to if the transaction (or savepoint) aborts. */
  snapshot(): { gucs: GucRegistry; local: Map<string, string> } {
    return { gucs: this.gucs.fork(this.options), local: new Map(this.local) };
  }

  restore(s: { gucs: GucRegistry; local: Map<string, string> }): void {
    this.gucs = s.gucs;
    this.local = new Map(s.local);
  }

  /** At transaction end SET LOCAL values lapse. */
  endTransaction(): void {
    this.local.clear();
  }

  // ---- ParameterStatus -----------------------------------------------------------------------

  /** The GUC_REPORT names of this major. */
  reportNames(): string[] {
    const names = [...GUC_REPORT_15];
    if (this.id.serverMajor >= 16) names.push('scram_iterations');
    if (this.id.serverMajor >= 18) names.push('search_path');
    return names;
  }

  /** Remember what the startup ParameterStatus messages said. */
  markReported(values: ReadonlyArray<readonly [string, string]>): void {
    for (const [name, value] of values) this.reported.set(name, value);
  }

  /** ReportChangedGUCOptions(): the reportable values that differ from what the client was last told. */
  changedReports(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const name of this.reportNames()) {
      const value = this.tryShow(name);
      if (value === null || this.reported.get(name) === value) continue;
      this.reported.set(name, value);
      out.push([name, value]);
    }
    return out;
  }
}

const NO_RESET_ALL = new Set(['transaction_isolation', 'transaction_read_only', 'transaction_deferrable', 'session_authorization', 'role']);
