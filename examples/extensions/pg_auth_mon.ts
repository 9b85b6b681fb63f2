/**
 * pg_auth_mon, ported to pg-authsim from its C source (github.com/RafiaSabih/pg_auth_mon,
 * pg_auth_mon.c and the 1.1 SQL script), written anew in TypeScript.
 *
 * What it does, as upstream does it:
 * - A ClientAuthentication_hook that calls the previous hook first, ignores STATUS_EOF, and
 *   counts every other call per role OID in a shared hash table of at most 1024 entries (a
 *   login once the table is full is not counted). A role that does not exist is counted under
 *   OID 0 (get_role_oid(name, true)), and so is every login that is not STATUS_OK: "failed"
 *   is a status other than OK *or* an unknown role (a trust line lets unknown roles reach the
 *   hook with STATUS_OK). Failures on a `reject` line would count as HBA conflicts; in
 *   PostgreSQL 15 such connections end before the hook, so that counter stays 0.
 * - Each entry remembers the name the role had at its last attempt. An entry is created with
 *   that name, except the OID 0 entry, which starts with an empty name; a later attempt whose
 *   name differs overwrites it (so the OID 0 entry shows the last unknown name from its second
 *   attempt on; the view shows '' after exactly one).
 * - The view `pg_auth_mon` (superuser only, as a view without GRANT is) joins the counters with
 *   pg_roles: rolname (the current name, or the remembered one for a dropped role), deleted,
 *   uid (0 for dropped and unknown roles), successful_attempts, last_successful_ts (NULL before
 *   the first success), total_hba_conflicts, other_auth_failures, last_failed_ts (NULL before
 *   the first failure). The function `pg_auth_mon()` (EXECUTE for everyone) returns the raw
 *   rows: uid, the counters and timestamps, rolename_at_last_login_attempt.
 * - `pg_auth_mon.log_period` (minutes, 0 = off, reloadable): a hook call at least that long
 *   after the last dump writes every entry to the log; the postmaster writes them once more
 *   when it shuts down (on_shmem_exit).
 *
 * All state lives in this server's shared memory (ShmemInitHash/ShmemInitStruct), never in
 * module variables: two servers in one process keep separate counts.
 */
import type { ExtensionContext, ExtensionModule, Port, SqlValue } from 'pg-authsim';

/** AUTH_MON_HT_SIZE: the hash table's fixed capacity. */
const MAX_ENTRIES = 1024;

interface AuthMonEntry {
  /** The role's OID, 0 for every unknown role. */
  key: number;
  successful: number;
  lastSuccessfulAt: number;
  lastFailedAt: number;
  hbaConflicts: number;
  otherFailures: number;
  /** NameData rolename_at_last_login_attempt ('' until set). */
  rolename: string;
}

/** timestamptz_to_str() under log_timezone = UTC: microseconds with trailing zeros dropped, `+00`. */
function timestampText(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-12-07T04:38:27.963Z
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ''}+00`;
}

export const pgAuthMon: ExtensionModule = {
  name: 'pg_auth_mon',
  _PG_init(ctx: ExtensionContext): void {
    let table: Map<number, AuthMonEntry> | null = null;
    let lastLog: { at: number } | null = null;

    ctx.gucs.defineCustomIntVariable('pg_auth_mon.log_period', {
      description: 'Duration between logging pg_auth_mon data to PG log (in minutes).',
      boot: 0, min: 0, max: 10080, unit: 'min', context: 'sighup',
    });

    const prevRequest = ctx.hooks.shmem_request_hook;
    ctx.hooks.shmem_request_hook = () => {
      prevRequest?.();
      ctx.RequestAddinShmemSpace(8 + MAX_ENTRIES * 96);
      ctx.RequestNamedLWLockTranche('auth_mon_lock', 1);
    };

    const logEntries = () => {
      for (const e of table?.values() ?? []) {
        ctx.ereport('LOG', ctx.errmsg(
          'pg_auth_mon entry for user oid : %d rolename_at_last_login_attempt: %s total_successful_attempts: %d; last_successful_login_at: %s; last_failed_attempt_at: %s; total_hba_conflicts: %d; other_auth_failures: %d',
          e.key, e.rolename, e.successful,
          e.lastSuccessfulAt === 0 ? '0' : timestampText(e.lastSuccessfulAt),
          e.lastFailedAt === 0 ? '0' : timestampText(e.lastFailedAt),
          e.hbaConflicts, e.otherFailures,
        ));
      }
    };

    const prevStartup = ctx.hooks.shmem_startup_hook;
    ctx.hooks.shmem_startup_hook = () => {
      prevStartup?.();
      lastLog = ctx.ShmemInitStruct('pg_auth_mon last log', () => ({ at: ctx.now() })).ptr;
      table = ctx.ShmemInitHash<number, AuthMonEntry>('auth_mon_hash').map;
      // In the postmaster: dump the table to the log when the server shuts down.
      ctx.on_shmem_exit(() => {
        logEntries();
        table = null;
        lastLog = null;
      });
    };

    const prevAuth = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port: Port, status) => {
      if (prevAuth) await prevAuth(port, status);
      if (status === -2 /* STATUS_EOF */ || !table || !lastLog) return;

      const now = ctx.now();
      const key = ctx.get_role_oid(port.user_name, true);
      const failed = status !== 0 || key === 0;
      const hbaReject = port.hba?.auth_method === 'reject';

      let entry = table.get(key);
      if (!entry) {
        if (table.size >= MAX_ENTRIES) return; // HASH_ENTER_NULL found no room
        entry = { key, successful: 0, lastSuccessfulAt: 0, lastFailedAt: 0, hbaConflicts: 0, otherFailures: 0, rolename: key !== 0 ? port.user_name : '' };
        table.set(key, entry);
      } else if (entry.rolename !== port.user_name) {
        // Renamed since the last attempt (or the OID 0 entry meeting another unknown name).
        entry.rolename = port.user_name;
      }

      if (failed) {
        if (hbaReject) entry.hbaConflicts++;
        else entry.otherFailures++;
        entry.lastFailedAt = now;
      } else {
        entry.successful++;
        entry.lastSuccessfulAt = now;
      }

      const periodMs = 60_000 * ctx.gucs.getNumber('pg_auth_mon.log_period');
      if (periodMs > 0 && now - lastLog.at >= periodMs) {
        lastLog.at = now;
        logEntries();
      }
    };

    const loaded = (): Map<number, AuthMonEntry> => {
      if (!table) ctx.ereport('ERROR', ctx.errcode('55000'), ctx.errmsg('pg_auth_mon must be loaded via shared_preload_libraries'));
      return table;
    };

    // The counters and timestamps, as both the function and the view show them: a timestamp is NULL until its first event.
    const counterColumns = [
      { name: 'successful_attempts', type: 'int4' },
      { name: 'last_successful_ts', type: 'timestamptz' },
      { name: 'total_hba_conflicts', type: 'int4' },
      { name: 'other_auth_failures', type: 'int4' },
      { name: 'last_failed_ts', type: 'timestamptz' },
    ] as const;
    const counters = (e: AuthMonEntry): SqlValue[] => [
      e.successful,
      e.successful === 0 ? null : new Date(e.lastSuccessfulAt),
      e.hbaConflicts,
      e.otherFailures,
      e.hbaConflicts === 0 && e.otherFailures === 0 ? null : new Date(e.lastFailedAt),
    ];

    ctx.sql.defineFunction({
      name: 'pg_auth_mon',
      args: [],
      returns: { setof: [{ name: 'uid', type: 'oid' }, ...counterColumns, { name: 'rolename_at_last_login_attempt', type: 'name' }] },
      volatility: 'volatile',
      strict: true,
      execute: 'public',
      call: () => [...loaded().values()].map((e) => [e.key, ...counters(e), e.rolename]),
    });

    // CREATE VIEW pg_auth_mon AS SELECT COALESCE(pg_roles.rolname, rolename_at_last_login_attempt) AS rolname,
    //   (pg_roles.rolname IS NULL) AS deleted, (CASE WHEN pg_roles.rolname IS NULL THEN 0 ELSE uid END) AS uid, ...
    //   FROM pg_auth_mon() LEFT JOIN pg_roles ON oid = uid
    ctx.sql.defineView({
      name: 'pg_auth_mon',
      columns: [{ name: 'rolname', type: 'name' }, { name: 'deleted', type: 'bool' }, { name: 'uid', type: 'oid' }, ...counterColumns],
      select: 'superuser',
      rows: () => [...loaded().values()].map((e) => {
        const role = e.key === 0 ? undefined : ctx.getRoleByOid(e.key);
        return [role?.rolname ?? e.rolename, role === undefined, role === undefined ? 0 : e.key, ...counters(e)];
      }),
    });
  },
};

export const _PG_init = pgAuthMon._PG_init;
