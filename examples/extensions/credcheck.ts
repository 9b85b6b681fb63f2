/**
 * credcheck, ported to pg-authsim from its C source (github.com/MigOpsRepos/credcheck 2.8.0,
 * credcheck.c and credcheck--2.8.0.sql), written anew in TypeScript. The same SQL names
 * (pg_banned_role, pg_banned_role_reset, every credcheck.* setting) so the same psql
 * queries work against both.
 *
 * Ported:
 * - **Ban after failed logins** (`credcheck.max_auth_failure`, 0 = off). Its
 *   ClientAuthentication_hook counts a failure per role OID in shared memory and, once the
 *   count reaches the maximum, ends every later login of that role, right password or not,
 *   with FATAL `rejecting connection, user '…' has been banned` (no errcode: XX000). A
 *   failure counts 0.5 when the server has `ssl = on` and 1 when it has not: upstream assumes
 *   libpq's prefer/allow retry makes two hook calls per failed login. That holds only for a
 *   `host` line under prefer or allow; with sslmode=require or disable, or on a `hostssl` line
 *   (the plaintext retry is rejected before the hook), a login is one call, so
 *   `max_auth_failure = 2` bans after 4 wrong logins instead of 2. Unknown roles are never
 *   counted; EOF (a client that hung up to ask for a password) is not a failure; a successful
 *   login below the maximum clears the count. A superuser with the bootstrap OID (10) banned
 *   is let in and cleared when `credcheck.reset_superuser` is on (a reloadable setting: set it
 *   in postgresql.conf or with ALTER SYSTEM, then reload).
 * - `pg_banned_role` (view, and the function behind it; everyone may read): roleid,
 *   failure_count as an integer (the float truncated, as Int8GetDatum does: 1.5 shows 1),
 *   banned_date (timestamp without time zone, NULL until banned). Entries live in a dynahash
 *   table whose freed elements are reused last-freed-first, and an entry re-created below the
 *   maximum keeps the old element's banned_date: after pg_banned_role_reset() the next failure
 *   shows the old ban date with failure_count 0. The port keeps that free list too. (With
 *   several roles freed at once, upstream frees them in hash order and the port in insertion
 *   order, so which role inherits which stale date can differ.)
 * - `pg_banned_role_reset()` and `pg_banned_role_reset(name)`: remove all entries, or the
 *   role's; superuser only (REVOKE … FROM PUBLIC); return how many were removed.
 * - `credcheck.auth_delay_ms`: sleep before any status other than STATUS_OK (EOF included).
 * - Password and user-name policy through check_password_hook (CREATE/ALTER ROLE with a clear
 *   text password; `credcheck.encrypted_password_allowed` for md5/SCRAM literals;
 *   `credcheck.whitelist`), with upstream's messages, all SQLSTATE 28000. Like upstream, the
 *   hook does not call the previous check_password_hook.
 * - `credcheck.no_password_logging` through emit_log_hook: the STATEMENT of an ERROR raised
 *   while a password was being checked stays out of the log. Upstream clears its flag in
 *   ProcessUtility_hook after each utility statement; pg-authsim has no ProcessUtility_hook,
 *   so the port ties the flag to the statement text (debug_query_string) instead.
 *
 * Not ported (they hang off ProcessUtility_hook and a file in the data directory): password
 * reuse history (pg_password_history*, credcheck.password_reuse_*), the VALID UNTIL rules
 * (credcheck.password_valid_until/_max) and the user-name checks on CREATE ROLE without a
 * password and on RENAME. Their settings exist, so postgresql.conf files work unchanged.
 */
import type { ErrorData, ExtensionContext, ExtensionModule, Port } from 'pg-authsim';

type StringCheck = Parameters<ExtensionContext['gucs']['defineCustomStringVariable']>[1]['check'];

const INT_MAX = 2147483647;
const BOOTSTRAP_SUPERUSERID = 10;
const PASSWORD_TYPE_PLAINTEXT = 0;
const ERROR = 21;
const STATUS_OK = 0;
const STATUS_ERROR = -1;
const STATUS_EOF = -2;

/** One element of the auth failure hash table, kept when freed (its memory is reused). */
interface FailureElement {
  roleid: number;
  failure_count: number;
  /** GetCurrentTimestamp() in ms, 0 when never set in this element's memory. */
  banned_date: number;
}

interface FailureTable {
  entries: Map<number, FailureElement>;
  /** dynahash's free list: the last element freed is the next one handed out. */
  free: FailureElement[];
}

/** SplitIdentifierString(list, ','): unquoted names folded to lower case, "quoted" kept; null on bad syntax. */
function splitIdentifiers(raw: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const skipSpace = () => { while (i < raw.length && /\s/.test(raw[i]!)) i++; };
  skipSpace();
  if (i >= raw.length) return out;
  for (;;) {
    let name: string;
    if (raw[i] === '"') {
      name = '';
      for (i++; ; ) {
        const q = raw.indexOf('"', i);
        if (q < 0) return null;
        name += raw.slice(i, q);
        if (raw[q + 1] === '"') { name += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      if (name === '') return null;
    } else {
      const start = i;
      while (i < raw.length && raw[i] !== ',' && !/\s/.test(raw[i]!)) i++;
      if (i === start) return null;
      name = raw.slice(start, i).replace(/[A-Z]/g, (c) => c.toLowerCase());
    }
    out.push(name.slice(0, 63));
    skipSpace();
    if (raw[i] === ',') {
      i++;
      skipSpace();
    } else if (i >= raw.length) {
      return out;
    } else {
      return null;
    }
  }
}

/** islower/isupper/isdigit in the C locale; everything else, bytes above 0x7f included, is "special". */
function countClasses(s: string): { lower: number; upper: number; digit: number; special: number } {
  const n = { lower: 0, upper: 0, digit: 0, special: 0 };
  for (const b of Buffer.from(s, 'utf8')) {
    if (b >= 0x61 && b <= 0x7a) n.lower++;
    else if (b >= 0x41 && b <= 0x5a) n.upper++;
    else if (b >= 0x30 && b <= 0x39) n.digit++;
    else n.special++;
  }
  return n;
}

/** Does any run of one repeated character exceed `max`? (upstream's char_repeat_exceeds) */
function repeatExceeds(s: string, max: number): boolean {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= 1) return false;
  let run = 1;
  for (let i = 1; i < bytes.length; i++) {
    run = bytes[i] === bytes[i - 1] ? run + 1 : 1;
    if (run > max) return true;
  }
  return false;
}

/** Does `s` contain any character of `chars`? */
const containsAnyOf = (chars: string, s: string): boolean => [...s].some((c) => chars.includes(c));
const lower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

export const credcheck: ExtensionModule = {
  name: 'credcheck',
  _PG_init(ctx: ExtensionContext): void {
    const g = ctx.gucs;
    const int = (name: string, description: string, boot: number, min: number, max: number, context: 'superuser' | 'sighup' | 'postmaster' = 'superuser', unit?: 'ms') =>
      g.defineCustomIntVariable(`credcheck.${name}`, { description, boot, min, max, context, ...(unit ? { unit } : {}) });
    const bool = (name: string, description: string, boot: boolean, context: 'superuser' | 'sighup' = 'superuser') =>
      g.defineCustomBoolVariable(`credcheck.${name}`, { description, boot, context });
    const str = (name: string, description: string, check?: StringCheck) =>
      g.defineCustomStringVariable(`credcheck.${name}`, { description, boot: '', context: 'superuser', ...(check ? { check } : {}) });

    // The user-name and password policy settings, as upstream defines them.
    for (const who of ['username', 'password'] as const) {
      int(`${who}_min_length`, `minimum ${who} length`, 1, 1, INT_MAX);
      int(`${who}_min_special`, `minimum ${who === 'password' ? '' : 'username '}special characters`, 0, 0, INT_MAX);
      int(`${who}_min_digit`, `minimum ${who} digits`, 0, 0, INT_MAX);
      int(`${who}_min_upper`, `minimum ${who} uppercase letters`, 0, 0, INT_MAX);
      int(`${who}_min_lower`, `minimum ${who} lowercase letters`, 0, 0, INT_MAX);
      int(`${who}_min_repeat`, `minimum ${who} characters repeat`, 0, 0, INT_MAX);
    }
    bool('username_contain_password', 'username contains password', true);
    bool('username_ignore_case', 'ignore case while username checking', false);
    str('username_not_contain', 'username should not contain these characters');
    str('username_contain', 'password should contain these characters');
    bool('password_contain_username', 'password contains username', true);
    bool('password_ignore_case', 'ignore case while password checking', false);
    str('password_not_contain', 'password should not contain these characters');
    str('password_contain', 'password should contain these characters');
    int('password_reuse_history', 'minimum number of password changes before permitting reuse', 0, 0, 100);
    int('password_reuse_interval', 'minimum number of days elapsed before permitting reuse', 0, 0, 730);
    int('password_valid_until', 'force use of VALID UNTIL clause in CREATE ROLE statement with a minimum number of days', 0, 0, INT_MAX);
    int('password_valid_max', 'force use of VALID UNTIL clause in CREATE ROLE statement with a maximum number of days', 0, 0, INT_MAX);
    if (ctx.process_shared_preload_libraries_in_progress) {
      int('history_max_size', 'maximum of entries in the password history', 65535, 1, Math.floor(INT_MAX / 1024), 'postmaster');
      int('auth_failure_cache_size', 'maximum of entries in the auth failure cache', 1024, 1, Math.floor(INT_MAX / 1024), 'postmaster');
    }
    bool('no_password_logging', 'prevent exposing the password in error messages logged', true);
    int('max_auth_failure', 'maximum number of authentication failure before the user loggin account be invalidated', 0, 0, 64);
    bool('reset_superuser', 'restore superuser acces when he have been banned.', false, 'sighup');
    bool('encrypted_password_allowed', 'allow encrypted password to be used or throw an error', false);
    str('whitelist', 'comma separated list of username to exclude from password policy check',
      (v) => (splitIdentifiers(v) === null ? { ok: false, detail: 'List syntax is invalid.' } : { ok: true }));
    int('auth_delay_ms', 'Milliseconds to delay before reporting authentication failure', 0, 0, Math.floor(INT_MAX / 1000), 'sighup', 'ms');
    g.markPrefixReserved('credcheck');

    const num = (name: string) => g.getNumber(`credcheck.${name}`);
    const on = (name: string) => g.getBool(`credcheck.${name}`);
    const text = (name: string) => g.getString(`credcheck.${name}`);
    const refuse = (format: string, ...args: unknown[]): never => ctx.ereport('ERROR', ctx.errcode('28000'), ctx.errmsg(format, ...args));

    // ---- password policy (check_password_hook) -------------------------------------------

    const inWhitelist = (username: string): boolean => {
      const list = text('whitelist');
      if (list === '') return false;
      const names = splitIdentifiers(list);
      if (names === null) return refuse('username list is invalid: %s', list);
      return names.some((n) => lower(n) === lower(username));
    };

    /** statement_has_password, per backend: the statement it was set for (see the header). */
    const passwordStatement = new Map<number, string | null>();
    const markPasswordStatement = () => passwordStatement.set(ctx.MyProcPid(), ctx.debug_query_string());

    /**
     * username_check and password_check: the same nine rules in the same order, applied to the
     * user name (rule 2: it must not contain the password) or to the password (it must not
     * contain the user name), each with its own credcheck.<who>_* settings.
     */
    const checkRules = (who: 'username' | 'password', subject: string, other: string | null) => {
      const setting = (name: string) => `credcheck.${who}_${name}`;
      const ignoreCase = on(`${who}_ignore_case`);
      const fold = ignoreCase ? lower : (v: string) => v;
      const value = fold(subject);
      const contain = fold(text(`${who}_contain`));
      const notContain = fold(text(`${who}_not_contain`));
      if (Buffer.byteLength(value) < num(`${who}_min_length`)) {
        refuse(`${who} length should match the configured %s (%d)`, setting('min_length'), num(`${who}_min_length`));
      }
      const otherName = who === 'username' ? 'password' : 'username';
      if (other !== null && on(`${who}_contain_${otherName}`) && value.includes(fold(other))) refuse(`${who} should not contain ${otherName}`);
      if (contain !== '' && !containsAnyOf(contain, value)) {
        refuse(`${who} does not contain the configured %s characters: %s`, setting('contain'), contain);
      }
      if (notContain !== '' && containsAnyOf(notContain, value)) {
        refuse(`${who} contains the configured %s unauthorized characters: %s`, setting('not_contain'), notContain);
      }
      const n = countClasses(value);
      const atLeast = (have: number, rule: string) => {
        if (have < num(`${who}_${rule}`)) refuse(`${who} does not contain the configured %s characters (%d)`, setting(rule), num(`${who}_${rule}`));
      };
      if (!ignoreCase) {
        atLeast(n.upper, 'min_upper');
        atLeast(n.lower, 'min_lower');
      }
      atLeast(n.digit, 'min_digit');
      atLeast(n.special, 'min_special');
      const repeat = num(`${who}_min_repeat`);
      if (repeat > 0 && repeatExceeds(value, repeat)) {
        refuse('%s characters are repeated more than the configured %s times (%d)', who, setting('min_repeat'), repeat);
      }
    };

    // Upstream keeps the previous hook but never calls it; so does the port.
    ctx.hooks.check_password_hook = (username, shadowPass, passwordType) => {
      if (passwordType !== PASSWORD_TYPE_PLAINTEXT) {
        if (!on('encrypted_password_allowed')) refuse('password type is not a plain text');
        return;
      }
      if (inWhitelist(username)) return;
      markPasswordStatement();
      checkRules('username', username, shadowPass === '' ? null : shadowPass);
      checkRules('password', shadowPass, username);
    };

    const prevLog = ctx.hooks.emit_log_hook;
    ctx.hooks.emit_log_hook = (edata: ErrorData) => {
      if (edata.elevel === ERROR) {
        const pid = ctx.MyProcPid();
        const flagged = passwordStatement.has(pid) && passwordStatement.get(pid) === ctx.debug_query_string();
        if (flagged && on('no_password_logging')) edata.hide_stmt = true;
        passwordStatement.delete(pid);
      }
      prevLog?.(edata);
    };

    // ---- ban after failed logins (ClientAuthentication_hook + shared memory) --------------

    let failures: FailureTable | null = null;

    const prevRequest = ctx.hooks.shmem_request_hook;
    ctx.hooks.shmem_request_hook = () => {
      prevRequest?.();
      ctx.RequestAddinShmemSpace(64 * num('history_max_size'));
      ctx.RequestNamedLWLockTranche('credcheck_history', 1);
      ctx.RequestAddinShmemSpace(24 * num('auth_failure_cache_size'));
      ctx.RequestNamedLWLockTranche('credcheck_auth_failure', 1);
    };
    const prevStartup = ctx.hooks.shmem_startup_hook;
    ctx.hooks.shmem_startup_hook = () => {
      prevStartup?.();
      failures = ctx.ShmemInitStruct<FailureTable>('pg_auth_failure_history', () => ({ entries: new Map(), free: [] })).ptr;
    };

    const release = (t: FailureTable, roleid: number) => {
      const el = t.entries.get(roleid);
      if (!el) return;
      t.entries.delete(roleid);
      t.free.push(el);
    };

    const failureCount = (username: string, roleid: number, status: number): number => {
      if (num('max_auth_failure') === 0 || !failures) return 0;
      const count = failures.entries.get(roleid)?.failure_count ?? 0;
      ctx.elog('DEBUG1', 'Auth failure count for user %s is %f, fired by status: %d', username, count, status);
      return count;
    };

    const recordFailure = (username: string, roleid: number): number => {
      if (num('max_auth_failure') === 0 || !failures) return 0;
      // The server's ssl setting, not the connection's: upstream expects two calls per failed login with TLS on.
      const step = g.getBool('ssl') ? 0.5 : 1;
      let count = step;
      const old = failures.entries.get(roleid);
      if (old) {
        count = old.failure_count + step;
        ctx.elog('DEBUG1', 'Remove entry in auth failure hash table for user %s', username);
        release(failures, roleid);
      }
      ctx.elog('DEBUG1', 'Add new entry in auth failure hash table for user %s (%d, %f)', username, roleid, count);
      if (failures.entries.size >= num('history_max_size')) {
        ctx.ereport('LOG', ctx.errcode('53200'), ctx.errmsg('can not allocate enough memory for new entry in auth failure cache.'),
          ctx.errhint('You shoul increase credcheck.history_max_size.'));
        return count;
      }
      const el = failures.free.pop() ?? { roleid, failure_count: 0, banned_date: 0 };
      el.roleid = roleid;
      el.failure_count = count;
      if (count >= num('max_auth_failure')) el.banned_date = ctx.now();
      failures.entries.set(roleid, el);
      return count;
    };

    const forget = (username: string, roleid: number) => {
      if (num('max_auth_failure') === 0 || !failures) return;
      ctx.elog('DEBUG1', 'Remove entry in auth failure hash table for user %s', username);
      release(failures, roleid);
    };

    const prevAuth = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port: Port, status) => {
      if (status !== STATUS_OK) await ctx.pg_usleep(num('auth_delay_ms'));
      const max = num('max_auth_failure');
      if (max > 0 && status !== STATUS_EOF) {
        const roleid = ctx.get_role_oid(port.user_name, true);
        if (roleid !== 0) {
          let count = failureCount(port.user_name, roleid, status);
          if (status === STATUS_ERROR && count <= max) count = recordFailure(port.user_name, roleid);
          if (count >= max) {
            if (on('reset_superuser') && roleid === BOOTSTRAP_SUPERUSERID) forget(port.user_name, roleid);
            else ctx.ereport('FATAL', ctx.errmsg("rejecting connection, user '%s' has been banned", port.user_name));
          }
          if (status === STATUS_OK && count < max) forget(port.user_name, roleid);
        }
      }
      if (prevAuth) await prevAuth(port, status);
    };

    // ---- SQL ------------------------------------------------------------------------------

    const bannedRows = () => {
      if (!failures) {
        ctx.ereport('ERROR', ctx.errcode('55000'), ctx.errmsg('credcheck must be loaded via shared_preload_libraries to use auth failure feature'));
      }
      // failure_count goes out through Int8GetDatum: the float truncated to an integer.
      return [...failures.entries.values()].map((e) => [e.roleid, Math.trunc(e.failure_count), e.banned_date === 0 ? null : new Date(e.banned_date)]);
    };
    const bannedColumns = [
      { name: 'roleid', type: 'oid' },
      { name: 'failure_count', type: 'int4' },
      { name: 'banned_date', type: 'timestamp' },
    ] as const;
    ctx.sql.defineFunction({
      name: 'pg_banned_role', args: [], returns: { setof: bannedColumns },
      volatility: 'volatile', strict: true, execute: 'public', call: bannedRows,
    });
    ctx.sql.defineView({ name: 'pg_banned_role', columns: bannedColumns, select: 'public', rows: bannedRows });

    const reset = (username: string | null, superuser: boolean): number => {
      if (!failures) return 0;
      if (!superuser) ctx.ereport('ERROR', ctx.errmsg('only superuser can reset banned roles cache'));
      let removed = 0;
      for (const roleid of [...failures.entries.keys()]) {
        if (username === null || roleid === ctx.get_role_oid(username, true)) {
          release(failures, roleid);
          removed++;
        }
      }
      return removed;
    };
    ctx.sql.defineFunction({
      name: 'pg_banned_role_reset', args: [], returns: 'int4', volatility: 'volatile', execute: 'superuser',
      call: (_args, call) => reset(null, call.superuser),
    });
    ctx.sql.defineFunction({
      name: 'pg_banned_role_reset', args: [{ name: 'username', type: 'name' }], returns: 'int4', volatility: 'volatile', strict: true, execute: 'superuser',
      call: (args, call) => reset(String(args[0]), call.superuser),
    });
  },
};

export const _PG_init = credcheck._PG_init;
