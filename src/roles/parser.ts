/**
 * The roles file: a script of role DDL that a PostgreSQL user can write without a manual.
 *
 *   CREATE ROLE name [WITH] option ...;   CREATE USER … (implies LOGIN);   CREATE GROUP …
 *   ALTER ROLE|USER name [WITH] option ...;   ALTER GROUP name ADD|DROP USER a, b;
 *   GRANT role[, ...] TO role[, ...] [WITH ADMIN OPTION] [GRANTED BY role];
 *   SET password_encryption = 'md5' | 'scram-sha-256';
 *
 * Options and checks follow PG 15's gram.y and user.c (CreateRole, AlterRole, AddRoleMems),
 * with PG's messages. The file runs as if by a superuser; any error stops it.
 */
import { CryptoRandom, type Random } from '../random.js';
import { PgError } from '../errors.js';
import type { PasswordEncryption } from '../auth/secrets.js';
import type { CheckPasswordHook } from '../hooks/hook.js';
import { BOOTSTRAP_SUPERUSERID, RoleCatalog } from './catalog.js';
import {
  addRoleMems, alterRole, createRole, grantRoles, resolveRoleRef, revokeRoles, RoleDdlError,
  type RoleDdlEnv, type RoleOptions, type RoleRef,
} from './user.js';
import { RESERVED_KEYWORDS, RolesFileError, tokenize, type Token } from './lexer.js';
import { parseTimestamptz } from './timestamp.js';

export interface ParseRolesOptions {
  /** File name used in error messages. */
  path?: string;
  /** The password_encryption in effect at the start of the file (PG 15 default: scram-sha-256). */
  passwordEncryption?: PasswordEncryption;
  /** Source of SCRAM salts. */
  random?: Random;
  /**
   * Start from initdb's catalog with this bootstrap superuser (OID 10) and the predefined
   * roles. Without it (and without `catalog`) the file starts from an empty catalog.
   */
  bootstrapSuperuser?: string;
  /** Run the file against this catalog (a running server's) instead of a new one. */
  catalog?: RoleCatalog;
  /** check_password_hook, called for every PASSWORD as a session's CREATE/ALTER ROLE calls it. */
  checkPasswordHook?: CheckPasswordHook | null;
}

/**
 * Words the grammar treats as keywords in option position, so they are not IDENT there.
 * (PG has several hundred unreserved keywords; an unknown one here reads as an unrecognized
 * option instead of a syntax error.)
 */
const OPTION_KEYWORDS = new Set([
  'password', 'encrypted', 'unencrypted', 'inherit', 'connection', 'valid', 'until', 'sysid', 'admin',
  'role', 'database', 'rename', 'set', 'reset',
]);

/** The IDENT role options of gram.y's AlterOptRoleElem. */
type BooleanOption = 'superuser' | 'createrole' | 'isreplication' | 'createdb' | 'canlogin' | 'bypassrls' | 'inherit';
const BOOLEAN_OPTIONS: Record<string, [key: BooleanOption, value: boolean]> = {
  superuser: ['superuser', true], nosuperuser: ['superuser', false],
  createrole: ['createrole', true], nocreaterole: ['createrole', false],
  replication: ['isreplication', true], noreplication: ['isreplication', false],
  createdb: ['createdb', true], nocreatedb: ['createdb', false],
  login: ['canlogin', true], nologin: ['canlogin', false],
  bypassrls: ['bypassrls', true], nobypassrls: ['bypassrls', false],
  noinherit: ['inherit', false],
};

const SPECIAL_ROLESPECS: Record<string, string> = {
  current_user: 'CURRENT_USER', current_role: 'CURRENT_ROLE', session_user: 'SESSION_USER',
};

type RoleSpec = { kind: 'name'; name: string; token: Token } | { kind: 'public'; token: Token };


class RolesParser {
  private pos = 0;
  private readonly tokens: Token[];
  readonly catalog: RoleCatalog;
  private passwordEncryption: PasswordEncryption;
  private readonly random: Random;
  private readonly checkPasswordHook: CheckPasswordHook | null;

  constructor(text: string, private readonly file: string, opts: ParseRolesOptions) {
    this.passwordEncryption = opts.passwordEncryption ?? 'scram-sha-256';
    this.random = opts.random ?? new CryptoRandom();
    this.checkPasswordHook = opts.checkPasswordHook ?? null;
    this.catalog = opts.catalog ?? (opts.bootstrapSuperuser !== undefined ? RoleCatalog.initdb(opts.bootstrapSuperuser) : new RoleCatalog());
    this.tokens = tokenize(text, file, this.catalog.notices);
  }

  // -- token helpers ----------------------------------------------------------

  private peek(): Token { return this.tokens[this.pos]!; }
  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.kind !== 'eof') this.pos++;
    return t;
  }
  private static isKw(t: Token, word: string): boolean { return t.kind === 'ident' && !t.quoted && t.value === word; }
  private static isOp(t: Token, op: string): boolean { return t.kind === 'op' && t.value === op; }
  private atStatementEnd(): boolean {
    const t = this.peek();
    return t.kind === 'eof' || RolesParser.isOp(t, ';');
  }

  private error(message: string, line: number, sqlstate: string, hint?: string, detail?: string): RolesFileError {
    return new RolesFileError(message, this.file, line, sqlstate, hint, detail);
  }
  private syntaxError(t: Token): RolesFileError {
    const msg = t.kind === 'eof' ? 'syntax error at end of input' : `syntax error at or near "${t.text}"`;
    return this.error(msg, t.line, '42601');
  }
  private expectKw(word: string): Token {
    const t = this.next();
    if (!RolesParser.isKw(t, word)) throw this.syntaxError(t);
    return t;
  }
  private notice(line: number, message: string, severity: 'NOTICE' | 'WARNING' = 'NOTICE'): void {
    this.catalog.notices.push({ line, severity, message });
  }

  // -- statements -------------------------------------------------------------

  parse(): RoleCatalog {
    while (this.peek().kind !== 'eof') {
      if (RolesParser.isOp(this.peek(), ';')) { this.next(); continue; }
      this.statement();
      const end = this.next();
      if (end.kind !== 'eof' && !RolesParser.isOp(end, ';')) throw this.syntaxError(end);
    }
    return this.catalog;
  }

  private unsupported(t: Token): RolesFileError {
    return this.error(
      `unsupported statement in roles file at or near "${t.text}"`, t.line, '0A000',
      'A roles file may contain CREATE ROLE/USER/GROUP, ALTER ROLE/USER/GROUP, GRANT and SET password_encryption.',
    );
  }

  /** The line the current statement starts on (for errors user.c raises without a position). */
  private statementLine = 1;

  private statement(): void {
    const t = this.next();
    this.statementLine = t.line;
    if (RolesParser.isKw(t, 'create')) {
      const what = this.next();
      if (RolesParser.isKw(what, 'role') || RolesParser.isKw(what, 'group')) return this.createRole(false);
      if (RolesParser.isKw(what, 'user')) return this.createRole(true);
      throw what.kind === 'ident' ? this.unsupported(what) : this.syntaxError(what);
    }
    if (RolesParser.isKw(t, 'alter')) {
      const what = this.next();
      if (RolesParser.isKw(what, 'role') || RolesParser.isKw(what, 'user')) return this.alterRole();
      if (RolesParser.isKw(what, 'group')) return this.alterGroup();
      throw what.kind === 'ident' ? this.unsupported(what) : this.syntaxError(what);
    }
    if (RolesParser.isKw(t, 'grant')) return this.grant();
    if (RolesParser.isKw(t, 'set')) return this.set();
    throw t.kind === 'ident' ? this.unsupported(t) : this.syntaxError(t);
  }

  /** gram.y RoleId: a new role's name. */
  private roleId(): { name: string; token: Token } {
    const t = this.next();
    if (t.kind !== 'ident') throw this.syntaxError(t);
    if (!t.quoted && SPECIAL_ROLESPECS[t.value]) {
      throw this.error(`${SPECIAL_ROLESPECS[t.value]} cannot be used as a role name here`, t.line, '42939');
    }
    if (!t.quoted && RESERVED_KEYWORDS.has(t.value)) throw this.syntaxError(t);
    // "public" and "none" are refused even when quoted: the check is on the name.
    if (t.value === 'public' || t.value === 'none') throw this.error(`role name "${t.value}" is reserved`, t.line, '42939');
    return { name: t.value, token: t };
  }

  /** gram.y RoleSpec: an existing role, or PUBLIC. */
  private roleSpec(): RoleSpec {
    const t = this.next();
    if (t.kind !== 'ident') throw this.syntaxError(t);
    if (!t.quoted && SPECIAL_ROLESPECS[t.value]) {
      throw this.error(`${SPECIAL_ROLESPECS[t.value]} is not supported in a roles file`, t.line, '0A000',
        'The file is not run by any particular user; name the role.');
    }
    if (!t.quoted && RESERVED_KEYWORDS.has(t.value)) throw this.syntaxError(t);
    if (t.value === 'public') return { kind: 'public', token: t };
    if (t.value === 'none') throw this.error('role name "none" is reserved', t.line, '42939');
    return { kind: 'name', name: t.value, token: t };
  }

  /** A role list as user.c's RoleRefs. */
  private refList(): RoleRef[] {
    return this.roleList().map((s) => RolesParser.ref(s));
  }

  private roleList(): RoleSpec[] {
    const list = [this.roleSpec()];
    while (RolesParser.isOp(this.peek(), ',')) {
      this.next();
      list.push(this.roleSpec());
    }
    return list;
  }

  private signedIconst(): number {
    let t = this.next();
    let sign = 1;
    if (RolesParser.isOp(t, '-') || RolesParser.isOp(t, '+')) {
      if (t.value === '-') sign = -1;
      t = this.next();
    }
    if (t.kind !== 'int') throw this.syntaxError(t);
    return sign * Number(t.value);
  }

  private stringConst(): Token {
    const t = this.next();
    if (t.kind !== 'string') throw this.syntaxError(t);
    return t;
  }

  /** OptRoleList / AlterOptRoleList plus the conflicting-option check of CreateRole/AlterRole. */
  private options(isCreate: boolean): RoleOptions {
    const o: RoleOptions = {};
    const seen = new Set<string>();
    const set = <K extends keyof RoleOptions>(key: K, dedupKey: string, value: RoleOptions[K], at: Token) => {
      if (seen.has(dedupKey)) throw this.error('conflicting or redundant options', at.line, '42601');
      seen.add(dedupKey);
      o[key] = value;
    };
    while (!this.atStatementEnd()) {
      const t = this.next();
      const kw = (w: string) => RolesParser.isKw(t, w);
      if (kw('password')) {
        const v = this.next();
        if (v.kind === 'string') set('password', 'password', { value: v.value, at: t.line }, t);
        else if (RolesParser.isKw(v, 'null')) set('password', 'password', { value: null, at: t.line }, t);
        else throw this.syntaxError(v);
      } else if (kw('encrypted')) {
        this.expectKw('password');
        set('password', 'password', { value: this.stringConst().value, at: t.line }, t);
      } else if (kw('unencrypted')) {
        this.expectKw('password');
        this.stringConst();
        throw this.error('UNENCRYPTED PASSWORD is no longer supported', t.line, '0A000',
          'Remove UNENCRYPTED to store the password in encrypted form instead.');
      } else if (kw('inherit')) {
        set('inherit', 'inherit', true, t);
      } else if (kw('connection')) {
        this.expectKw('limit');
        set('connlimit', 'connectionlimit', { value: this.signedIconst(), at: t.line }, t);
      } else if (kw('valid')) {
        this.expectKw('until');
        set('validUntil', 'validUntil', { value: this.stringConst().value, at: t.line }, t);
      } else if (kw('user')) {
        set('rolemembers', 'rolemembers', this.refList(), t);
      } else if (isCreate && kw('sysid')) {
        const n = this.next();
        if (n.kind !== 'int') throw this.syntaxError(n);
        // CreateRole only says so, every time (no "conflicting options" for SYSID).
        this.notice(t.line, 'SYSID can no longer be specified');
      } else if (isCreate && kw('admin')) {
        set('adminmembers', 'adminmembers', this.refList(), t);
      } else if (isCreate && kw('role')) {
        set('rolemembers', 'rolemembers', this.refList(), t);
      } else if (kw('in')) {
        const n = this.next();
        if (isCreate && (RolesParser.isKw(n, 'role') || RolesParser.isKw(n, 'group'))) {
          set('addroleto', 'addroleto', this.refList(), t);
        } else if (!isCreate && RolesParser.isKw(n, 'database')) {
          throw this.unsupported(t);
        } else {
          throw this.syntaxError(n);
        }
      } else if (t.kind === 'ident' && (t.quoted || (!RESERVED_KEYWORDS.has(t.value) && !OPTION_KEYWORDS.has(t.value)))) {
        const b = BOOLEAN_OPTIONS[t.value];
        if (!b) throw this.error(`unrecognized role option "${t.value}"`, t.line, '42601');
        set(b[0], b[0], b[1], t);
      } else if (!isCreate && (kw('rename') || kw('set') || kw('reset'))) {
        throw this.unsupported(t);
      } else {
        throw this.syntaxError(t);
      }
    }
    return o;
  }

  /** RoleSpec tokens as user.c's RoleRef; the position is the token's line. */
  private static ref(spec: RoleSpec): RoleRef {
    return spec.kind === 'public' ? { kind: 'public', at: spec.token.line } : { kind: 'name', name: spec.name, at: spec.token.line };
  }

  /** The file runs as the bootstrap superuser (or, in a catalog without one, as an unnamed superuser). */
  private env(): RoleDdlEnv {
    return {
      catalog: this.catalog,
      currentUser: BOOTSTRAP_SUPERUSERID,
      sessionUser: BOOTSTRAP_SUPERUSERID,
      passwordEncryption: this.passwordEncryption,
      random: this.random,
      checkPasswordHook: this.checkPasswordHook,
      notice: (message, severity = 'NOTICE', at) => this.notice(typeof at === 'number' ? at : this.statementLine, message, severity),
      adoptBootstrap: true,
      runAsSuperuser: true,
      keepPlaintext: true,
    };
  }

  /** Run a user.c step; its errors become file errors at the piece's line (or the statement's). */
  private exec<T>(step: (env: RoleDdlEnv) => T): T {
    try {
      return step(this.env());
    } catch (e) {
      // user.c's own errors carry a position; a check_password_hook's ereport(ERROR) does not.
      if (e instanceof PgError) {
        const at = e instanceof RoleDdlError && typeof e.at === 'number' ? e.at : this.statementLine;
        throw this.error(e.message, at, e.sqlstate, e.hint, e.detail);
      }
      throw e;
    }
  }

  private createRole(isUser: boolean): void {
    const { name, token } = this.roleId();
    if (RolesParser.isKw(this.peek(), 'with')) this.next();
    const o = this.options(true);
    this.exec((env) => createRole(env, name, token.line, isUser, o));
  }

  private alterRole(): void {
    const spec = this.roleSpec();
    if (RolesParser.isKw(this.peek(), 'with')) this.next();
    const o = this.options(false);
    this.exec((env) => alterRole(env, RolesParser.ref(spec), o));
  }

  /** ALTER GROUP g ADD|DROP USER a, b */
  private alterGroup(): void {
    const spec = this.roleSpec();
    const verb = this.next();
    const add = RolesParser.isKw(verb, 'add');
    if (!add && !RolesParser.isKw(verb, 'drop')) {
      throw RolesParser.isKw(verb, 'rename') ? this.unsupported(verb) : this.syntaxError(verb);
    }
    this.expectKw('user');
    const members = this.roleList();
    this.exec((env) => {
      const group = resolveRoleRef(env, RolesParser.ref(spec));
      const refs = members.map((m) => RolesParser.ref(m));
      if (add) addRoleMems(env, group, refs.map((r) => resolveRoleRef(env, r)), refs);
      else revokeRoles(env, RolesParser.ref(spec), refs);
    });
  }

  /** GrantRoleStmt: grantees are resolved before the granted roles, as GrantRole() does. */
  private grant(): void {
    const granted: Token[] = [];
    for (;;) {
      const t = this.next();
      if (t.kind !== 'ident' || (!t.quoted && RESERVED_KEYWORDS.has(t.value))) throw this.syntaxError(t);
      granted.push(t);
      if (!RolesParser.isOp(this.peek(), ',')) break;
      this.next();
    }
    this.expectKw('to');
    const grantees = this.roleList();
    if (RolesParser.isKw(this.peek(), 'with')) {
      this.next();
      this.expectKw('admin');
      this.expectKw('option');
    }
    let grantedBy: RoleSpec | undefined;
    if (RolesParser.isKw(this.peek(), 'granted')) {
      this.next();
      this.expectKw('by');
      grantedBy = this.roleSpec();
    }
    this.exec((env) => grantRoles(env, granted.map((g) => ({ name: g.value, at: g.line })), grantees.map((g) => RolesParser.ref(g)),
      grantedBy ? RolesParser.ref(grantedBy) : undefined));
  }

  /** SET [SESSION|LOCAL] password_encryption { TO | = } value | DEFAULT */
  private set(): void {
    let t = this.next();
    if (RolesParser.isKw(t, 'session') || RolesParser.isKw(t, 'local')) t = this.next();
    if (t.kind !== 'ident') throw this.syntaxError(t);
    if (t.value !== 'password_encryption') {
      throw this.error(`SET ${t.value} is not supported in a roles file`, t.line, '0A000',
        'Only password_encryption affects how roles are stored.');
    }
    const eq = this.next();
    if (!RolesParser.isKw(eq, 'to') && !RolesParser.isOp(eq, '=')) throw this.syntaxError(eq);
    const v = this.next();
    if (RolesParser.isKw(v, 'default')) {
      this.passwordEncryption = 'scram-sha-256';
      return;
    }
    if (v.kind !== 'string' && v.kind !== 'ident') throw this.syntaxError(v);
    const value = v.value;
    // Enum GUCs match case-insensitively.
    const lowered = value.toLowerCase();
    if (lowered !== 'md5' && lowered !== 'scram-sha-256') {
      throw this.error(`invalid value for parameter "password_encryption": "${value}"`, v.line, '22023',
        'Available values: md5, scram-sha-256.');
    }
    this.passwordEncryption = lowered;
  }
}

/** Run a roles file and return the resulting catalog; throws RolesFileError (a ConfigFileError). */
export function parseRolesFile(text: string, opts: ParseRolesOptions = {}): RoleCatalog {
  return new RolesParser(text, opts.path ?? 'roles.sql', opts).parse();
}
