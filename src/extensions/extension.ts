/**
 * Extensions, PostgreSQL style: a module whose `_PG_init(ctx)` runs once when
 * the server starts (shared_preload_libraries order). It may define GUCs,
 * reserve its GUC prefix, install hooks — saving the previous hook and
 * calling it itself, exactly as C extensions chain — define SQL functions and
 * views, ask for shared memory and register exit callbacks.
 *
 * Everything an extension keeps must hang off this context (or closures made
 * in _PG_init): two servers in one process each call _PG_init with their own
 * context, so module-level variables would be shared between them, which C
 * globals in two postmasters never are.
 */
import { PgError, type PgErrorFields } from '../errors.js';
import type { GucRegistry } from '../config/index.js';
import type { Clock } from '../clock.js';
import type { HookSlots } from '../hooks/slots.js';
import type { EventBody, ServerEvent } from '../events.js';
import type { SqlRegistry } from '../sql/registry.js';
import { currentBackend } from '../server/current.js';
import { routeReport } from '../server/report.js';
import { ExitCallbacks, type ExitCallback, type ExitList, type SharedMemory } from '../server/ipc.js';
import { BOOTSTRAP_SUPERUSERID, InvalidOid, type RoleCatalog, type RoleInfo } from '../roles/catalog.js';
import { elevelNumber, ERROR, type Elevel, type ElevelName } from '../log/elevel.js';
import {
  buildReport, errcode, errcontext, errdetail, errdetail_log, errhint, errmsg, pgPrintf, reportError,
  type ErrorPart,
} from './elog.js';

/** Levels that return; ERROR, FATAL and PANIC throw. */
export type ReturningLevel = Exclude<ElevelName, 'ERROR' | 'FATAL' | 'PANIC'>;
export type ThrowingLevel = 'ERROR' | 'FATAL' | 'PANIC';

export interface ExtensionContext {
  /** The library name from shared_preload_libraries (or the module's own name). */
  readonly name: string;
  /** Hook variables: read the previous value, then assign your own. */
  readonly hooks: HookSlots;
  /** DefineCustom*Variable, markPrefixReserved (MarkGUCPrefixReserved), get/getNumber/show. */
  readonly gucs: GucRegistry;
  /** GetCurrentTimestamp(), in ms since the epoch, from the server's clock (virtual in tests). */
  now(): number;
  /**
   * pg_usleep(): sleep on the server's clock. Like the C function it returns
   * early when the backend's authentication_timeout fires.
   */
  pg_usleep(ms: number): Promise<void>;

  // ---- reporting (elog.h) --------------------------------------------------

  /**
   * elog(level, fmt, args...): a report at any level, printf-style when arguments are given.
   * ERROR and above throw. The old form `elog(level, message, { detail, hint })` still works.
   */
  elog(level: ThrowingLevel, format: string, ...args: unknown[]): never;
  elog(level: ReturningLevel | Elevel, format: string, ...args: unknown[]): void;
  /**
   * ereport(level, errcode(...), errmsg(...), errdetail(...), errhint(...)): the parts come from
   * ctx.errcode/errmsg/... or are plain objects. ERROR and above throw, lower levels return.
   */
  ereport(level: ThrowingLevel, ...parts: ErrorPart[]): never;
  ereport(level: ReturningLevel | Elevel, ...parts: ErrorPart[]): void;
  errcode(sqlstate: string): ErrorPart;
  errmsg(format: string, ...args: unknown[]): ErrorPart;
  errdetail(format: string, ...args: unknown[]): ErrorPart;
  errdetail_log(format: string, ...args: unknown[]): ErrorPart;
  errhint(format: string, ...args: unknown[]): ErrorPart;
  errcontext(format: string, ...args: unknown[]): ErrorPart;
  /**
   * ereport(ERROR/FATAL, ...) as a value: returns the error to throw. `sqlstate` defaults to
   * XX000 as errstart() does; during authentication an ERROR ends the connection with FATAL.
   */
  error(fields: Omit<PgErrorFields, 'severity' | 'sqlstate'> & { severity?: 'ERROR' | 'FATAL' | 'PANIC'; sqlstate?: string }): PgError;

  // ---- role catalog (pg_authid) ---------------------------------------------

  /** BOOTSTRAP_SUPERUSERID: the role initdb created (10). */
  readonly BOOTSTRAP_SUPERUSERID: number;
  /** get_role_oid(): the role's OID; a missing role is InvalidOid (0) with missing_ok, else 42704. */
  get_role_oid(rolname: string, missing_ok: boolean): number;
  /** GetUserNameFromId(): the role's name; an unknown OID is null with noerr, else 42704 `invalid role OID: N`. */
  GetUserNameFromId(roleid: number, noerr: boolean): string | null;
  /** superuser_arg(): is the role a superuser? An unknown OID is not. */
  superuser_arg(roleid: number): boolean;
  /** is_member_of_role_nosuper(): direct or indirect membership (a role is a member of itself). */
  is_member_of_role(member: number, role: number): boolean;
  /** The pg_authid row of a role, by OID or by name, as a frozen snapshot; undefined when there is none. */
  getRoleByOid(roleid: number): RoleInfo | undefined;
  getRoleByName(rolname: string): RoleInfo | undefined;
  /** Every role, in OID order. */
  listRoles(): RoleInfo[];
  /** GetUserId(): the current role of the backend running your code; InvalidOid (0) before authentication finished or in the postmaster. */
  GetUserId(): number;
  /** superuser(): is GetUserId() a superuser? */
  superuser(): boolean;

  // ---- SQL --------------------------------------------------------------------

  /** Functions, views and utility statements the session's SQL can reach (defineFunction/defineView/defineUtility). */
  readonly sql: SqlRegistry;

  // ---- shared memory and lifecycle -----------------------------------------

  /** True while shared_preload_libraries' _PG_init functions run at server start. */
  readonly process_shared_preload_libraries_in_progress: boolean;
  /** RequestAddinShmemSpace(): only inside shmem_request_hook (FATAL elsewhere, as in PostgreSQL 15). */
  RequestAddinShmemSpace(size: number): void;
  /** RequestNamedLWLockTranche(): only inside shmem_request_hook. Locks are not needed in one JS thread; this is bookkeeping. */
  RequestNamedLWLockTranche(trancheName: string, numLocks: number): void;
  /**
   * ShmemInitStruct(name, init): this server's struct of that name, created by `init` the first
   * time (`found` false) and returned as is afterwards. Fresh at every server start, never
   * shared with another server in the same process.
   */
  ShmemInitStruct<T>(name: string, init: () => T): { ptr: T; found: boolean };
  /** ShmemInitHash(name): this server's hash table of that name (a Map). */
  ShmemInitHash<K, V>(name: string): { map: Map<K, V>; found: boolean };
  /**
   * before_shmem_exit / on_shmem_exit / on_proc_exit: run when the process exits, last
   * registered first. Registered from _PG_init or a shmem hook (the postmaster), they run at
   * server shutdown, after "database system is shut down"; registered while a backend runs
   * your code, they run when that backend exits, before its disconnection line. They may
   * report (ctx.elog) like any other code.
   */
  before_shmem_exit(fn: ExitCallback, arg?: unknown): void;
  on_shmem_exit(fn: ExitCallback, arg?: unknown): void;
  on_proc_exit(fn: ExitCallback, arg?: unknown): void;
  cancel_before_shmem_exit(fn: ExitCallback, arg?: unknown): void;
  /** MyProcPid: the backend running your code, or the postmaster's PID. */
  MyProcPid(): number;
  /** debug_query_string: the query the backend running your code received last (null outside a query, in the postmaster). */
  debug_query_string(): string | null;
}

export interface ExtensionModule {
  /** Optional display name; defaults to the library name. */
  name?: string;
  _PG_init(ctx: ExtensionContext): void;
}

/** The server side that backs an ExtensionContext. */
export interface ExtensionHost {
  readonly hooks: HookSlots;
  readonly gucs: GucRegistry;
  readonly clock: Clock;
  readonly roles: RoleCatalog;
  readonly sql: SqlRegistry;
  readonly shmem: SharedMemory;
  readonly exitCallbacks: ExitCallbacks;
  readonly postmasterPid: number;
  /** True while the server runs shared_preload_libraries' _PG_init functions. */
  readonly preloadInProgress: boolean;
  emit(body: EventBody): ServerEvent;
  debugQueryString(backend: object): string | null;
  postmasterLog(level: 'LOG' | 'WARNING' | 'DEBUG1', message: string, extra?: { detail?: string; hint?: string }): void;
}

/**
 * The GUC registry as C code sees its GUC variables: in a backend with a session, that session's
 * values (each backend has its own copy; SET, RESET and SET LOCAL change it); in the postmaster
 * and in a backend still authenticating, the server's. Everything else (defining, reserving a
 * prefix) goes to the registry itself.
 */
function backendGucs(gucs: GucRegistry): GucRegistry {
  const session = () => currentBackend.getStore()?.session ?? null;
  const value = (name: string) => session()?.value?.(name);
  const typed = {
    get: (name: string) => value(name) ?? gucs.get(name),
    getBool: (name: string) => { const v = value(name); return typeof v === 'boolean' ? v : gucs.getBool(name); },
    getNumber: (name: string) => { const v = value(name); return typeof v === 'number' ? v : gucs.getNumber(name); },
    getString: (name: string) => { const v = value(name); return typeof v === 'string' ? v : gucs.getString(name); },
    show: (name: string) => session()?.setting(name) ?? gucs.show(name),
  };
  return new Proxy(gucs, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(typed, prop)) return typed[prop as keyof typeof typed];
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Backends keep the exit callbacks registered while they ran extension code. */
const backendExitCallbacks = new WeakMap<object, ExitCallbacks>();

/** The exit callbacks a backend registered, if any (the backend runs them as it exits). */
export function exitCallbacksOf(backend: object): ExitCallbacks | undefined {
  return backendExitCallbacks.get(backend);
}

export function extensionContext(host: ExtensionHost, name: string): ExtensionContext {
  const roleOf = (oid: number) => host.roles.getByOid(oid);
  const fail = (sqlstate: string, message: string): never => { throw new PgError({ severity: 'ERROR', sqlstate, message }); };
  const report = (level: Elevel, parts: ErrorPart[]): void => {
    if (elevelNumber(level) >= ERROR) throw reportError(level, parts);
    routeReport(host, level, buildReport(level, parts));
  };
  const exitList = (list: ExitList, fn: ExitCallback, arg: unknown): void => {
    const be = currentBackend.getStore();
    if (!be) {
      host.exitCallbacks.register(list, fn, arg, name);
      return;
    }
    let lists = backendExitCallbacks.get(be);
    if (!lists) {
      lists = new ExitCallbacks();
      backendExitCallbacks.set(be, lists);
    }
    lists.register(list, fn, arg, name);
  };
  const shmemRequest = (what: string): void => {
    if (!host.shmem.requestsInProgress) {
      throw new PgError({ severity: 'FATAL', sqlstate: 'XX000', message: `cannot request additional shared memory outside shmem_request_hook`, routine: what });
    }
  };
  const ctx: ExtensionContext = {
    name,
    hooks: host.hooks,
    gucs: backendGucs(host.gucs),
    now: () => host.clock.now(),
    pg_usleep: async (ms: number) => {
      if (ms <= 0) return;
      const be = currentBackend.getStore();
      try {
        await host.clock.sleep(ms, be?.interrupt ?? undefined);
      } catch {
        // Interrupted by the authentication timer: return early, as the signal would wake pg_usleep.
      }
    },
    elog: ((level: Elevel, format: string, ...args: unknown[]) => {
      // The first API took (level, message, { detail, hint }): keep that form working.
      const legacy = args.length === 1 && typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0]);
      const extra = legacy ? (args[0] as { detail?: string; hint?: string }) : {};
      const message = legacy || args.length === 0 ? format : pgPrintf(format, args);
      report(level, [{ message, ...extra }]);
    }) as ExtensionContext['elog'],
    ereport: ((level: Elevel, ...parts: ErrorPart[]) => report(level, parts)) as ExtensionContext['ereport'],
    errcode, errmsg, errdetail, errdetail_log, errhint, errcontext,
    error: (fields) => new PgError({ ...fields, severity: fields.severity ?? 'ERROR', sqlstate: fields.sqlstate ?? 'XX000' }),

    BOOTSTRAP_SUPERUSERID,
    get_role_oid: (rolname, missing_ok) => {
      const r = host.roles.get(rolname);
      if (r) return r.oid;
      return missing_ok ? InvalidOid : fail('42704', `role "${rolname}" does not exist`);
    },
    GetUserNameFromId: (roleid, noerr) => {
      const r = roleOf(roleid);
      if (r) return r.name;
      return noerr ? null : fail('42704', `invalid role OID: ${roleid}`);
    },
    superuser_arg: (roleid) => roleOf(roleid)?.superuser ?? false,
    is_member_of_role: (member, role) => {
      const m = roleOf(member);
      const r = roleOf(role);
      return m !== undefined && r !== undefined && host.roles.isMember(m.name, r.name);
    },
    getRoleByOid: (roleid) => {
      const r = roleOf(roleid);
      return r ? host.roles.info(r) : undefined;
    },
    getRoleByName: (rolname) => {
      const r = host.roles.get(rolname);
      return r ? host.roles.info(r) : undefined;
    },
    listRoles: () => host.roles.roles().map((r) => host.roles.info(r)),
    GetUserId: () => {
      const be = currentBackend.getStore();
      // InitPostgres sets the user (and the session's GUCs) once authentication is over.
      if (!be || be.session === null) return InvalidOid;
      return host.roles.get(be.port.user_name)?.oid ?? InvalidOid;
    },
    superuser: () => ctx.superuser_arg(ctx.GetUserId()),

    sql: host.sql,

    get process_shared_preload_libraries_in_progress() { return host.preloadInProgress; },
    RequestAddinShmemSpace: (size) => {
      shmemRequest('RequestAddinShmemSpace');
      host.shmem.requestedBytes += size;
    },
    RequestNamedLWLockTranche: (trancheName, numLocks) => {
      shmemRequest('RequestNamedLWLockTranche');
      host.shmem.lwlockTranches.set(trancheName, numLocks);
    },
    ShmemInitStruct: (structName, init) => host.shmem.initStruct(structName, init),
    ShmemInitHash: <K, V>(hashName: string) => {
      const { ptr, found } = host.shmem.initStruct(hashName, () => new Map<K, V>());
      return { map: ptr, found };
    },
    before_shmem_exit: (fn, arg = null) => exitList('before_shmem_exit', fn, arg),
    on_shmem_exit: (fn, arg = null) => exitList('on_shmem_exit', fn, arg),
    on_proc_exit: (fn, arg = null) => exitList('on_proc_exit', fn, arg),
    cancel_before_shmem_exit: (fn, arg = null) => {
      const be = currentBackend.getStore();
      const lists = be ? backendExitCallbacks.get(be) : host.exitCallbacks;
      lists?.cancelBeforeShmemExit(fn, arg);
    },
    MyProcPid: () => currentBackend.getStore()?.pid ?? host.postmasterPid,
    debug_query_string: () => {
      const be = currentBackend.getStore();
      return be ? host.debugQueryString(be) : null;
    },
  };
  return ctx;
}
