/**
 * The GUC (Grand Unified Configuration) registry: typed parameter definitions, value parsing
 * and validation, context/source rules, SHOW formatting, and the extension machinery
 * (placeholders, DefineCustom*Variable, MarkGUCPrefixReserved) as PostgreSQL 15's guc.c has them.
 *
 * Errors are thrown as PgError at the severity the caller asks for (PostgreSQL's `elevel`);
 * messages PostgreSQL reports without failing (WARNING/NOTICE) go to the registry's onMessage.
 */
import { PgError, type PgErrorFields, type Severity } from '../errors.js';
import { formatG } from './c-numbers.js';
import {
  INT_MAX, INT_MIN, intFromBaseUnit, parseBool, parseIntGuc, parseRealGuc, realFromBaseUnit,
  unitDisplayName, type GucUnit,
} from './units.js';

export type { GucUnit } from './units.js';

/** GucContext, least to most permissive (PGC_INTERNAL .. PGC_USERSET). */
export type GucContext = 'internal' | 'postmaster' | 'sighup' | 'superuser-backend' | 'backend' | 'superuser' | 'user';
const CONTEXT_RANK: Record<GucContext, number> = {
  internal: 0, postmaster: 1, sighup: 2, 'superuser-backend': 3, backend: 4, superuser: 5, user: 6,
};

/** GucSource, lowest to highest priority (PGC_S_DEFAULT .. PGC_S_SESSION). */
export type GucSource =
  | 'default' | 'dynamic-default' | 'env' | 'file' | 'argv' | 'global' | 'database' | 'user'
  | 'database-user' | 'client' | 'override' | 'interactive' | 'test' | 'session';
const SOURCE_RANK: Record<GucSource, number> = {
  default: 0, 'dynamic-default': 1, env: 2, file: 3, argv: 4, global: 5, database: 6, user: 7,
  'database-user': 8, client: 9, override: 10, interactive: 11, test: 12, session: 13,
};

/** pg_settings.source spelling. */
const SOURCE_NAME: Record<GucSource, string> = {
  default: 'default', 'dynamic-default': 'default', env: 'environment variable', file: 'configuration file',
  argv: 'command line', global: 'global', database: 'database', user: 'user', 'database-user': 'database user',
  client: 'client', override: 'override', interactive: 'interactive', test: 'test', session: 'session',
};

export interface GucFlags {
  /** GUC_LIST_INPUT: a comma-separated list (see splitGucList). */
  list?: boolean;
  /** GUC_IS_NAME: truncated to NAMEDATALEN-1 bytes like an identifier. */
  isName?: boolean;
  /** GUC_REPORT: sent to the client in ParameterStatus. */
  report?: boolean;
  /** GUC_SUPERUSER_ONLY: hidden from non-superusers. */
  superuserOnly?: boolean;
  /** GUC_NO_SHOW_ALL. */
  noShowAll?: boolean;
}

/** What a check hook returns: accept (optionally replacing the value) or reject with GUC_check_err* text. */
export type GucCheckResult<T> =
  | { ok: true; value?: T }
  | { ok: false; message?: string; detail?: string; hint?: string; sqlstate?: string };
/** `current` is the variable's value before the change (check_datestyle keeps the half not given). */
export type GucCheckHook<T> = (value: T, source: GucSource, current: T) => GucCheckResult<T>;

interface BaseDef {
  name: string;
  context: GucContext;
  description?: string;
  flags?: GucFlags;
}
export interface BoolGucDef extends BaseDef { type: 'bool'; boot: boolean; check?: GucCheckHook<boolean> }
export interface IntGucDef extends BaseDef {
  type: 'int'; boot: number; min: number; max: number; unit?: GucUnit; check?: GucCheckHook<number>;
}
export interface RealGucDef extends BaseDef {
  type: 'real'; boot: number; min: number; max: number; unit?: GucUnit; check?: GucCheckHook<number>;
}
export interface StringGucDef extends BaseDef { type: 'string'; boot: string; check?: GucCheckHook<string> }
export interface EnumOption { name: string; value: number; hidden?: boolean }
export interface EnumGucDef extends BaseDef {
  type: 'enum'; boot: string; options: EnumOption[]; check?: GucCheckHook<string>;
}
export type GucDef = BoolGucDef | IntGucDef | RealGucDef | StringGucDef | EnumGucDef;
export type GucType = GucDef['type'];
export type GucValue = boolean | number | string;

type WithoutNameType<T> = Omit<T, 'name' | 'type'>;

interface GucVariable {
  def: GucDef;
  /** Typed value: boolean, number (int/real), string (string, and enum by option name). */
  value: GucValue;
  source: GucSource;
  /** The context the current value was set in, and by whom (a placeholder's value is re-applied so). */
  setContext: GucContext;
  setBySuperuser: boolean;
  sourceFile?: string;
  sourceLine?: number;
  placeholder: boolean;
  pendingRestart: boolean;
  /** GUC_IS_IN_FILE, used while a configuration file is processed. */
  inFile: boolean;
}

export interface SetOptions {
  /** The GucContext the change is made in; derived from the source when omitted. */
  context?: GucContext;
  /** Superusers may set PGC_SUSET/PGC_SU_BACKEND parameters. */
  isSuperuser?: boolean;
  /** Severity of any error thrown (PostgreSQL's elevel); ERROR by default. */
  elevel?: Severity;
  /** Validate only (set_config_option's changeVal = false). */
  validateOnly?: boolean;
  /** Source location, recorded for values from a configuration file. */
  file?: string;
  line?: number;
}

/** 'applied': the value was set; 'ignored': valid, but not applied (outranked or unchanged). */
export type SetOutcome = 'applied' | 'ignored';

/** One row of pg_settings, as far as the simulation keeps it. */
export interface GucSettingRow {
  name: string;
  setting: string;
  unit: string | null;
  vartype: 'bool' | 'integer' | 'real' | 'string' | 'enum';
  context: GucContext;
  source: string;
  minVal: string | null;
  maxVal: string | null;
  enumvals: string[] | null;
  bootVal: string;
  sourcefile: string | null;
  sourceline: number | null;
  pendingRestart: boolean;
}

export interface GucRegistryOptions {
  /** Receives WARNING/NOTICE reports PostgreSQL makes without failing (e.g. while defining an extension's GUCs). */
  onMessage?: (message: PgErrorFields) => void;
}

export const NAMEDATALEN = 64;
const GUC_QUALIFIER_SEPARATOR = '.';

/** guc_name_compare folds ASCII only. */
function foldName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * valid_custom_variable_name: two or more identifiers separated by dots, each starting with a
 * letter, underscore, $ or high-bit byte.
 */
export function validCustomVariableName(name: string): boolean {
  let sawSep = false;
  let nameStart = true;
  for (const ch of name) {
    if (ch === GUC_QUALIFIER_SEPARATOR) {
      if (nameStart) return false;
      sawSep = true;
      nameStart = true;
    } else if (/[A-Za-z_$]/.test(ch) || ch.charCodeAt(0) >= 0x80) {
      nameStart = false;
    } else if (!nameStart && /[0-9]/.test(ch)) {
      // digits are fine after the first character
    } else {
      return false;
    }
  }
  return !nameStart && sawSep;
}

/** Where PostgreSQL 15.20 raises each of these (its F/L/R fields, measured). */
const AT = {
  findOptionName: { file: 'guc.c', line: 5734, routine: 'find_option' },
  findOption: { file: 'guc.c', line: 5766, routine: 'find_option' },
  internal: { file: 'guc.c', line: 7728, routine: 'set_config_option_ext' },
  postmaster: { file: 'guc.c', line: 7751, routine: 'set_config_option_ext' },
  sighup: { file: 'guc.c', line: 7761, routine: 'set_config_option_ext' },
  backendPermission: { file: 'guc.c', line: 7788, routine: 'set_config_option_ext' },
  afterStart: { file: 'guc.c', line: 7830, routine: 'set_config_option_ext' },
  superuserPermission: { file: 'guc.c', line: 7850, routine: 'set_config_option_ext' },
  bool: { file: 'guc.c', line: 7434, routine: 'parse_and_validate_value' },
  intSyntax: { file: 'guc.c', line: 7454, routine: 'parse_and_validate_value' },
  intRange: { file: 'guc.c', line: 7466, routine: 'parse_and_validate_value' },
  realSyntax: { file: 'guc.c', line: 7490, routine: 'parse_and_validate_value' },
  realRange: { file: 'guc.c', line: 7502, routine: 'parse_and_validate_value' },
  enumValue: { file: 'guc.c', line: 7560, routine: 'parse_and_validate_value' },
  stringCheck: { file: 'guc.c', line: 12085, routine: 'call_string_check_hook' },
} as const;

function gucError(elevel: Severity, sqlstate: string, message: string, extra: Partial<PgErrorFields> = {}): PgError {
  return new PgError({ severity: elevel, sqlstate, message, ...extra });
}

/** ERRCODE_INVALID_PARAMETER_VALUE */
const INVALID_PARAMETER_VALUE = '22023';
/** ERRCODE_UNDEFINED_OBJECT */
const UNDEFINED_OBJECT = '42704';
/** ERRCODE_INVALID_NAME */
const INVALID_NAME = '42602';
/** ERRCODE_CANT_CHANGE_RUNTIME_PARAM */
const CANT_CHANGE_RUNTIME_PARAM = '55P02';
/** ERRCODE_INSUFFICIENT_PRIVILEGE */
const INSUFFICIENT_PRIVILEGE = '42501';

export function unrecognizedParameter(name: string, elevel: Severity = 'ERROR'): PgError {
  return gucError(elevel, UNDEFINED_OBJECT, `unrecognized configuration parameter "${name}"`, AT.findOption);
}

/** The context a source normally sets values in (what the caller of set_config_option passes). */
function contextForSource(source: GucSource, isSuperuser: boolean): GucContext {
  switch (source) {
    case 'default': case 'dynamic-default': case 'env': case 'file': case 'argv': case 'override':
      return 'postmaster';
    case 'client':
      return isSuperuser ? 'superuser-backend' : 'backend';
    default:
      return isSuperuser ? 'superuser' : 'user';
  }
}

function utf8Truncate(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  let cut = maxBytes;
  // pg_mbcliplen: never split a multibyte character.
  while (cut > 0 && (buf[cut]! & 0xc0) === 0x80) cut--;
  return buf.subarray(0, cut).toString('utf8');
}

export class GucRegistry {
  private readonly vars = new Map<string, GucVariable>();
  private readonly reservedPrefixes: string[] = [];
  private readonly onMessage: (message: PgErrorFields) => void;
  /** Reports made through onMessage when no callback was given. */
  readonly messages: PgErrorFields[] = [];
  private changes = 0;

  /** Counts changes to values and definitions: a backend compares it to notice a reload. */
  get generation(): number {
    return this.changes;
  }

  constructor(defs: readonly GucDef[] = [], options: GucRegistryOptions = {}) {
    this.onMessage = options.onMessage ?? ((m) => { this.messages.push(m); });
    for (const def of defs) this.addVariable(def);
  }

  /**
   * A copy with the same definitions and current values (and change count), as a forked
   * backend inherits the postmaster's.
   */
  fork(options: GucRegistryOptions = {}): GucRegistry {
    const copy = new GucRegistry([], options);
    for (const [key, v] of this.vars) copy.vars.set(key, { ...v });
    copy.reservedPrefixes.push(...this.reservedPrefixes);
    copy.changes = this.changes;
    return copy;
  }

  private addVariable(def: GucDef): GucVariable {
    const key = foldName(def.name);
    if (this.vars.has(key)) throw new Error(`attempt to redefine parameter "${def.name}"`);
    const v: GucVariable = {
      def, value: bootValue(def), source: 'default', setContext: 'internal', setBySuperuser: true,
      placeholder: false, pendingRestart: false, inFile: false,
    };
    this.vars.set(key, v);
    this.changes++;
    return v;
  }

  /** find_option without creating placeholders. */
  private lookup(name: string): GucVariable | undefined {
    return this.vars.get(foldName(name));
  }

  /** Is there a parameter (or placeholder) by this name? */
  has(name: string): boolean {
    return this.lookup(name) !== undefined;
  }

  /** Definition of a parameter, undefined when unknown. Placeholders report type 'string'. */
  definition(name: string): Readonly<GucDef> | undefined {
    return this.lookup(name)?.def;
  }

  isPlaceholder(name: string): boolean {
    return this.lookup(name)?.placeholder ?? false;
  }

  /** find_option with create_placeholders: dotted names become placeholders unless reserved. */
  private findOrCreate(name: string, elevel: Severity): GucVariable {
    const existing = this.lookup(name);
    if (existing) return existing;
    const sep = name.indexOf(GUC_QUALIFIER_SEPARATOR);
    if (sep < 0) throw unrecognizedParameter(name, elevel);
    if (!validCustomVariableName(name)) {
      throw gucError(elevel, INVALID_NAME, `invalid configuration parameter name "${name}"`, {
        detail: 'Custom parameter names must be two or more simple identifiers separated by dots.', ...AT.findOptionName,
      });
    }
    const className = name.slice(0, sep);
    // PostgreSQL compares reserved prefixes with strncmp: case-sensitively.
    const reserved = this.reservedPrefixes.find((p) => p === className);
    if (reserved !== undefined) {
      throw gucError(elevel, INVALID_NAME, `invalid configuration parameter name "${name}"`, {
        detail: `"${reserved}" is a reserved prefix.`,
      });
    }
    const v = this.addVariable({ type: 'string', name, context: 'user', boot: '', flags: { noShowAll: true } });
    v.placeholder = true;
    return v;
  }

  // ---- reading ----

  private mustFind(name: string): GucVariable {
    const v = this.lookup(name);
    if (!v) throw unrecognizedParameter(name);
    return v;
  }

  /** Names of all variables (placeholders included), as defined. */
  variableNames(): string[] {
    return [...this.vars.values()].map((v) => v.def.name);
  }

  /** The typed value: boolean, number (in the base unit), or string (enum values by name). */
  get(name: string): GucValue {
    return this.mustFind(name).value;
  }

  getBool(name: string): boolean {
    const v = this.mustFind(name);
    if (typeof v.value !== 'boolean') throw new TypeError(`parameter "${name}" is not a bool`);
    return v.value;
  }

  getNumber(name: string): number {
    const v = this.mustFind(name);
    if (typeof v.value !== 'number') throw new TypeError(`parameter "${name}" is not numeric`);
    return v.value;
  }

  getString(name: string): string {
    const v = this.mustFind(name);
    if (typeof v.value !== 'string') throw new TypeError(`parameter "${name}" is not a string or enum`);
    return v.value;
  }

  /** GetConfigOption: the value as text without units (what `postgres -C` prints). */
  getConfigOption(name: string): string | undefined {
    const v = this.lookup(name);
    return v ? rawText(v.def, v.value) : undefined;
  }

  /** SHOW name: numeric values in the largest unit that divides them evenly ("1min", "2s", "128MB"). */
  show(name: string): string {
    const v = this.mustFind(name);
    return showValue(v.def, v.value);
  }

  /** The file and line a value came from, for values set from a configuration file. */
  sourceLocation(name: string): { file: string; line: number } | undefined {
    const v = this.lookup(name);
    return v?.sourceFile !== undefined && v.sourceLine !== undefined ? { file: v.sourceFile, line: v.sourceLine } : undefined;
  }

  source(name: string): GucSource {
    return this.mustFind(name).source;
  }

  /** Variables whose new value in the file needs a restart (GUC_PENDING_RESTART). */
  pendingRestart(name: string): boolean {
    return this.mustFind(name).pendingRestart;
  }

  /** The canonical spelling of a name ("timezone" -> "TimeZone"). */
  canonicalName(name: string): string | undefined {
    return this.lookup(name)?.def.name;
  }

  /** pg_settings-like rows, sorted by name. */
  settings(): GucSettingRow[] {
    return [...this.vars.values()]
      .filter((v) => !v.def.flags?.noShowAll)
      .sort((a, b) => (foldName(a.def.name) < foldName(b.def.name) ? -1 : foldName(a.def.name) > foldName(b.def.name) ? 1 : 0))
      .map((v) => settingRow(v));
  }

  /** All names, including placeholders (for SHOW ALL-like listings). */
  names(): string[] {
    return [...this.vars.values()].map((v) => v.def.name);
  }

  // ---- writing ----

  /**
   * set_config_option: validate `value` (null resets to the boot value) and apply it with
   * `source`'s priority. Throws PgError at `options.elevel` exactly as PostgreSQL reports.
   */
  set(name: string, value: string | null, source: GucSource = 'session', options: SetOptions = {}): SetOutcome {
    const elevel = options.elevel ?? 'ERROR';
    const isSuperuser = options.isSuperuser ?? false;
    const context = options.context ?? contextForSource(source, isSuperuser);
    const v = this.findOrCreate(name, elevel);
    const def = v.def;
    let prohibitValueChange = false;

    switch (def.context) {
      case 'internal':
        if (context !== 'internal') {
          throw gucError(elevel, CANT_CHANGE_RUNTIME_PARAM, `parameter "${name}" cannot be changed`, AT.internal);
        }
        break;
      case 'postmaster':
        if (context === 'sighup') {
          // Re-reading the file: a different value is only reported, below, once parsed.
          prohibitValueChange = true;
        } else if (context !== 'postmaster') {
          throw gucError(elevel, CANT_CHANGE_RUNTIME_PARAM,
            `parameter "${name}" cannot be changed without restarting the server`, AT.postmaster);
        }
        break;
      case 'sighup':
        if (context !== 'sighup' && context !== 'postmaster') {
          throw gucError(elevel, CANT_CHANGE_RUNTIME_PARAM, `parameter "${name}" cannot be changed now`, AT.sighup);
        }
        break;
      case 'superuser-backend':
      case 'backend':
        if (def.context === 'superuser-backend' && context === 'backend' && !isSuperuser) {
          throw gucError(elevel, INSUFFICIENT_PRIVILEGE, `permission denied to set parameter "${name}"`, AT.backendPermission);
        }
        if (context !== 'postmaster' && context !== 'sighup' && context !== 'backend' &&
            context !== 'superuser-backend' && source !== 'client') {
          throw gucError(elevel, CANT_CHANGE_RUNTIME_PARAM, `parameter "${name}" cannot be set after connection start`, AT.afterStart);
        }
        break;
      case 'superuser':
        if ((context === 'user' || context === 'backend') && !isSuperuser) {
          throw gucError(elevel, INSUFFICIENT_PRIVILEGE, `permission denied to set parameter "${name}"`, AT.superuserPermission);
        }
        break;
      case 'user':
        break;
    }

    let changeVal = !options.validateOnly;
    if (SOURCE_RANK[v.source] > SOURCE_RANK[source]) {
      // A higher-priority setting stands. Defaults-type sources are still validated.
      if (changeVal && SOURCE_RANK[source] > SOURCE_RANK.override) return 'ignored';
      changeVal = false;
    }

    const newValue = value === null ? bootValue(def) : this.parseValue(def, name, value, source, elevel, v.value);

    if (prohibitValueChange) {
      if (newValue !== v.value) {
        v.pendingRestart = true;
        throw gucError(elevel, CANT_CHANGE_RUNTIME_PARAM,
          `parameter "${name}" cannot be changed without restarting the server`);
      }
      v.pendingRestart = false;
      return 'ignored';
    }
    if (!changeVal) return 'ignored';

    v.value = newValue;
    v.source = source;
    this.changes++;
    v.setContext = context;
    v.setBySuperuser = isSuperuser || CONTEXT_RANK[context] <= CONTEXT_RANK.sighup;
    if (source === 'file' && options.file !== undefined) {
      v.sourceFile = options.file;
      v.sourceLine = options.line;
    } else if (source !== 'file') {
      v.sourceFile = undefined;
      v.sourceLine = undefined;
    }
    return 'applied';
  }

  /**
   * Copy one variable's value and source from another registry with the same definitions:
   * RESET puts a session's variable back to the value the session started with.
   */
  copyValueFrom(other: GucRegistry, name: string): void {
    const from = other.lookup(name);
    const to = this.lookup(name);
    if (!from || !to) throw unrecognizedParameter(name);
    Object.assign(to, { value: from.value, source: from.source, setContext: from.setContext, setBySuperuser: from.setBySuperuser, sourceFile: from.sourceFile, sourceLine: from.sourceLine });
    this.changes++;
  }

  /** Record where a value came from (set_config_sourcefile). */
  setSourceLocation(name: string, file: string, line: number): void {
    const v = this.lookup(name);
    if (v) { v.sourceFile = file; v.sourceLine = line; }
  }

  /** Clear/set GUC_IS_IN_FILE marks (used by ProcessConfigFile). */
  markInFile(name: string | null, inFile: boolean): void {
    if (name === null) {
      for (const v of this.vars.values()) v.inFile = inFile;
    } else {
      const v = this.lookup(name);
      if (v) v.inFile = inFile;
    }
  }

  isInFile(name: string): boolean {
    return this.lookup(name)?.inFile ?? false;
  }

  /** Variables whose value came from the configuration file but are no longer in it, in name order. */
  fileVariablesNotInFile(): { name: string; context: GucContext }[] {
    return [...this.vars.entries()]
      .filter(([, v]) => v.source === 'file' && !v.inFile)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, v]) => ({ name: v.def.name, context: v.def.context }));
  }

  /** Put a variable back to its boot value with source 'default' (the reload "reset to default"). */
  resetToDefault(name: string): void {
    const v = this.mustFind(name);
    v.value = bootValue(v.def);
    v.source = 'default';
    v.sourceFile = undefined;
    v.sourceLine = undefined;
    this.changes++;
  }

  /** parse_and_validate_value plus the check hook. */
  private parseValue(def: GucDef, name: string, value: string, source: GucSource, elevel: Severity, current: GucValue): GucValue {
    switch (def.type) {
      case 'bool': {
        const b = parseBool(value);
        if (b === null) {
          throw gucError(elevel, INVALID_PARAMETER_VALUE, `parameter "${name}" requires a Boolean value`, AT.bool);
        }
        return runCheck(def, b, source, elevel, current, () => String(b ? 1 : 0));
      }
      case 'int': {
        const r = parseIntGuc(value, def.unit);
        if (!r.ok) {
          throw gucError(elevel, INVALID_PARAMETER_VALUE, `invalid value for parameter "${name}": "${value}"`,
            { ...(r.hint ? { hint: r.hint } : {}), ...AT.intSyntax });
        }
        if (r.value < def.min || r.value > def.max) {
          const unit = def.unit ? ` ${unitDisplayName(def.unit)}` : '';
          throw gucError(elevel, INVALID_PARAMETER_VALUE,
            `${r.value}${unit} is outside the valid range for parameter "${name}" (${def.min} .. ${def.max})`, AT.intRange);
        }
        return runCheck(def, r.value, source, elevel, current, (n) => String(n));
      }
      case 'real': {
        const r = parseRealGuc(value, def.unit);
        if (!r.ok) {
          throw gucError(elevel, INVALID_PARAMETER_VALUE, `invalid value for parameter "${name}": "${value}"`,
            { ...(r.hint ? { hint: r.hint } : {}), ...AT.realSyntax });
        }
        if (r.value < def.min || r.value > def.max) {
          const unit = def.unit ? ` ${unitDisplayName(def.unit)}` : '';
          throw gucError(elevel, INVALID_PARAMETER_VALUE,
            `${formatG(r.value)}${unit} is outside the valid range for parameter "${name}" (${formatG(def.min)} .. ${formatG(def.max)})`, AT.realRange);
        }
        return runCheck(def, r.value, source, elevel, current, (n) => formatG(n));
      }
      case 'string': {
        let s = value;
        if (def.flags?.isName && Buffer.byteLength(s, 'utf8') >= NAMEDATALEN) {
          const truncated = utf8Truncate(s, NAMEDATALEN - 1);
          // truncate_identifier(..., warn = true)
          this.onMessage({
            severity: 'NOTICE', sqlstate: '42622',
            message: `identifier "${s}" will be truncated to "${truncated}"`,
          });
          s = truncated;
        }
        return runCheck(def, s, source, elevel, current, (x) => `"${x}"`);
      }
      case 'enum': {
        const folded = foldName(value);
        const option = def.options.find((o) => foldName(o.name) === folded);
        if (!option) {
          const visible = def.options.filter((o) => !o.hidden).map((o) => o.name);
          throw gucError(elevel, INVALID_PARAMETER_VALUE, `invalid value for parameter "${name}": "${value}"`, {
            hint: `Available values: ${visible.join(', ')}.`, ...AT.enumValue,
          });
        }
        const canonical = enumName(def, option.value);
        return runCheck(def, canonical, source, elevel, current, (x) => `"${x}"`);
      }
    }
  }

  // ---- extensions ----

  /**
   * DefineCustom*Variable: define an extension's parameter. A placeholder of the same name
   * (set before the extension loaded) is replaced and its value re-applied; a bad value is
   * reported as a WARNING and the boot value stays, as in PostgreSQL.
   */
  defineCustomBoolVariable(name: string, def: WithoutNameType<BoolGucDef>): void {
    this.defineCustom({ ...def, name, type: 'bool' });
  }
  defineCustomIntVariable(name: string, def: WithoutNameType<IntGucDef>): void {
    this.defineCustom({ ...def, name, type: 'int' });
  }
  defineCustomRealVariable(name: string, def: WithoutNameType<RealGucDef>): void {
    this.defineCustom({ ...def, name, type: 'real' });
  }
  defineCustomStringVariable(name: string, def: WithoutNameType<StringGucDef>): void {
    this.defineCustom({ ...def, name, type: 'string' });
  }
  defineCustomEnumVariable(name: string, def: WithoutNameType<EnumGucDef>): void {
    this.defineCustom({ ...def, name, type: 'enum' });
  }

  /**
   * Built-in style definition with no placeholder handling (for simulation-specific parameters).
   * A parameter that is still at its boot value is replaced by the new definition.
   */
  define(def: GucDef): void {
    const existing = this.lookup(def.name);
    if (existing && !existing.placeholder && existing.source === 'default') this.vars.delete(foldName(def.name));
    this.addVariable(def);
  }

  private defineCustom(def: GucDef): void {
    const key = foldName(def.name);
    const holder = this.vars.get(key);
    if (!holder) {
      this.addVariable(def);
      return;
    }
    if (!holder.placeholder) {
      throw gucError('ERROR', 'XX000', `attempt to redefine parameter "${def.name}"`);
    }
    this.vars.delete(key);
    const v = this.addVariable(def);
    if (holder.source !== 'default') {
      try {
        this.set(def.name, String(holder.value), holder.source, {
          context: holder.setContext, elevel: 'WARNING', isSuperuser: holder.setBySuperuser,
        });
        if (holder.sourceFile !== undefined && holder.sourceLine !== undefined) {
          v.sourceFile = holder.sourceFile;
          v.sourceLine = holder.sourceLine;
        }
      } catch (e) {
        if (!(e instanceof PgError)) throw e;
        // A startup WARNING: reported without the source location (only verbose logs show it).
        const { file: _f, line: _l, routine: _r, ...report } = e.fields;
        this.onMessage(report);
      }
    }
  }

  /**
   * MarkGUCPrefixReserved: placeholders under `prefix.` are removed with a WARNING, and
   * later attempts to create one fail with "is a reserved prefix".
   */
  markPrefixReserved(prefix: string): void {
    // Deleting the entry the walk is on is safe for a Map: no copy of every entry needed.
    this.vars.forEach((v, key) => {
      if (v.placeholder && v.def.name.startsWith(prefix) && v.def.name[prefix.length] === GUC_QUALIFIER_SEPARATOR) {
        this.onMessage({
          severity: 'WARNING', sqlstate: INVALID_NAME,
          message: `invalid configuration parameter name "${v.def.name}", removing it`,
          detail: `"${prefix}" is now a reserved prefix.`,
        });
        this.vars.delete(key);
      }
    });
    this.reservedPrefixes.push(prefix);
  }

  isReservedPrefix(prefix: string): boolean {
    return this.reservedPrefixes.includes(prefix);
  }
}

function bootValue(def: GucDef): GucValue {
  return def.boot;
}

function enumName(def: EnumGucDef, value: number): string {
  // config_enum_lookup_by_value: the first entry with this value names it.
  return def.options.find((o) => o.value === value)?.name ?? '';
}

function runCheck<T extends GucValue>(
  def: GucDef, value: T, source: GucSource, elevel: Severity, current: GucValue, formatForMessage: (v: T) => string,
): T {
  const hook = def.check as GucCheckHook<T> | undefined;
  if (!hook) return value;
  const r = hook(value, source, current as T);
  if (r.ok) return r.value ?? value;
  // call_*_check_hook: the default message names the canonical parameter.
  const fields: Partial<PgErrorFields> = {};
  if (r.detail) fields.detail = r.detail;
  if (r.hint) fields.hint = r.hint;
  // The string hook's location is measured; the others' are left out rather than guessed.
  if (def.type === 'string') Object.assign(fields, AT.stringCheck);
  throw gucError(elevel, r.sqlstate ?? INVALID_PARAMETER_VALUE,
    r.message ?? `invalid value for parameter "${def.name}": ${formatForMessage(value)}`, fields);
}

/** GetConfigOption's text: no units. */
function rawText(def: GucDef, value: GucValue): string {
  switch (def.type) {
    case 'bool': return value ? 'on' : 'off';
    case 'int': return String(value);
    case 'real': return formatG(value as number);
    default: return String(value);
  }
}

/** _ShowOption with use_units. */
function showValue(def: GucDef, value: GucValue): string {
  switch (def.type) {
    case 'int': {
      const n = value as number;
      if (n > 0 && def.unit) {
        const c = intFromBaseUnit(n, def.unit);
        return `${c.value}${c.unit}`;
      }
      return String(n);
    }
    case 'real': {
      const n = value as number;
      if (n > 0 && def.unit) {
        const c = realFromBaseUnit(n, def.unit);
        return `${formatG(c.value)}${c.unit}`;
      }
      return formatG(n);
    }
    default:
      return rawText(def, value);
  }
}

function settingRow(v: GucVariable): GucSettingRow {
  const def = v.def;
  const numeric = def.type === 'int' || def.type === 'real';
  const fmt = (n: number) => (def.type === 'real' ? formatG(n) : String(n));
  return {
    name: def.name,
    setting: rawText(def, v.value),
    unit: numeric && def.unit ? unitDisplayName(def.unit) : null,
    vartype: def.type === 'int' ? 'integer' : def.type,
    context: def.context,
    source: SOURCE_NAME[v.source],
    minVal: numeric ? fmt(def.min) : null,
    maxVal: numeric ? fmt(def.max) : null,
    enumvals: def.type === 'enum' ? def.options.filter((o) => !o.hidden).map((o) => o.name) : null,
    bootVal: rawText(def, def.boot),
    sourcefile: v.source === 'file' ? v.sourceFile ?? null : null,
    sourceline: v.source === 'file' ? v.sourceLine ?? null : null,
    pendingRestart: v.pendingRestart,
  };
}

/**
 * SplitGUCList: a comma-separated list with optional double-quoted items ("" for a quote),
 * blanks trimmed, no case folding. Null when the syntax is invalid.
 */
export function splitGucList(raw: string, separator = ','): string[] | null {
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f';
  const out: string[] = [];
  let i = 0;
  while (isSpace(raw[i])) i++;
  if (i >= raw.length) return out;
  for (;;) {
    let item: string;
    if (raw[i] === '"') {
      item = '';
      i++;
      for (;;) {
        const q = raw.indexOf('"', i);
        if (q < 0) return null;
        item += raw.slice(i, q);
        if (raw[q + 1] === '"') { item += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
    } else {
      const start = i;
      while (i < raw.length && raw[i] !== separator && !isSpace(raw[i])) i++;
      if (i === start) return null;
      item = raw.slice(start, i);
    }
    while (isSpace(raw[i])) i++;
    out.push(item);
    if (raw[i] === separator) {
      i++;
      while (isSpace(raw[i])) i++;
    } else if (i >= raw.length) {
      return out;
    } else {
      return null;
    }
  }
}

export { INT_MAX, INT_MIN };
