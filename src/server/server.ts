/**
 * The postmaster: owns the configuration, accepts connections (TCP or
 * in-memory) and starts one Backend per connection.
 */
import { registerBuiltins } from '../sql/builtins.js';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { RealClock, type Clock } from '../clock.js';
import { CryptoRandom, SeededRandom, type Random } from '../random.js';
import type { EventBody, EventListener, ServerEvent } from '../events.js';
import { defaultSettings, type ServerSettings } from './settings.js';
import { Backend } from './backend.js';
import type { EventSource, ServerContext } from './context.js';
import type { BackendView } from '../connection.js';
import { duplexPair, type MemorySocket } from './memory-transport.js';
import type { HbaLine } from '../hba/index.js';
import type { RoleCatalog } from '../roles/index.js';
import type { ClientAuthenticationHook } from '../hooks/hook.js';
import { HookSlots } from '../hooks/slots.js';
import { createGucRegistry, type GucRegistry } from '../config/index.js';
import { loadExtension } from '../extensions/loader.js';
import { checkListenAddresses } from './listen-addresses.js';
import type { ExtensionHost, ExtensionModule } from '../extensions/extension.js';
import { SqlRegistry } from '../sql/registry.js';
import { registerRoleDdl } from '../roles/ddl.js';
import { registerReloadSql, reloadConfiguration, type DataDirectoryBinding, type ReloadResult, type ReloadTrigger } from './reload.js';
import { ExitCallbacks, SharedMemory } from './ipc.js';
import type { ErrorData } from '../hooks/hook.js';
import { logRecordsFor } from '../views/server-log.js';
import type { LogRecord } from '../log/format.js';
import { ELEVELS, elevelNumber, type ElevelName } from '../log/elevel.js';
import { severityLabel } from '../log/format.js';

export interface PgServerOptions {
  settings?: Partial<ServerSettings>;
  hba: readonly HbaLine[];
  roles: RoleCatalog;
  clock?: Clock;
  /** A seed makes PIDs, nonces, salts and cancel keys repeat run after run. */
  seed?: number | string;
  random?: Random;
  /** Parameters as postgresql.conf set them; extensions define theirs here. */
  gucs?: GucRegistry;
  /** Extensions to load now, in order (like shared_preload_libraries). */
  extensions?: ReadonlyArray<ExtensionModule | { name: string; module: ExtensionModule }>;
  /** Shorthand for a one-hook extension: installed last, so it runs first. */
  clientAuthenticationHook?: ClientAuthenticationHook | null;
  /**
   * Leave shared memory (shmem_request_hook, shmem_startup_hook) for a later
   * `startSharedMemory()`, because more preloaded libraries are still to come
   * (startFromDataDirectory loads shared_preload_libraries after construction).
   */
  deferSharedMemory?: boolean;
}

export interface ListenAddress { host: string; port: number }

export class PgServer implements ServerContext, ExtensionHost {
  readonly settings: ServerSettings;
  readonly clock: Clock;
  readonly random: Random;
  /** The rules in force; a reload replaces them when pg_hba.conf loads. */
  hba: readonly HbaLine[];
  readonly roles: RoleCatalog;
  /** Set for servers started from a data directory: what reload() and ALTER SYSTEM read and write. */
  dataDirectoryBinding: DataDirectoryBinding | null = null;
  readonly postmasterPid: number;
  readonly hooks = new HookSlots();
  readonly gucs: GucRegistry;
  /**
   * Report the bytes of every connection accepted from now on as `wire` events
   * (TCP payload both ways, TLS records included, and the plaintext inside TLS)
   * plus `wire-close` for the teardown. Off by default: it costs a copy of
   * every byte and makes TLS run through JS streams.
   */
  captureWire = false;
  /** Functions, views and utility statements the session's SQL reaches (built-ins and extensions'). */
  readonly sql = new SqlRegistry();
  /** This server's shared memory: what shmem_startup_hook creates with ShmemInitStruct/ShmemInitHash. */
  readonly shmem = new SharedMemory();
  /** before_shmem_exit/on_shmem_exit/on_proc_exit callbacks registered in the postmaster; run by close(). */
  readonly exitCallbacks = new ExitCallbacks();
  /** process_shared_preload_libraries_in_progress. */
  preloadInProgress = false;
  private sharedMemoryStarted = false;
  /** debug_query_string per backend: the text of the query it is running (or ran last). */
  private readonly currentQuery = new WeakMap<object, string>();
  private inEmitLogHook = false;
  private listeners: EventListener[] = [];
  private seq = 0;
  private nextPid: number;
  private connectionCount = 0;
  private live = new Set<Backend>();
  private running = new Set<Promise<void>>();
  private tcpServers: net.Server[] = [];

  constructor(opts: PgServerOptions) {
    this.settings = defaultSettings(opts.settings);
    this.clock = opts.clock ?? new RealClock();
    this.random = opts.random ?? (opts.seed !== undefined ? new SeededRandom(opts.seed) : new CryptoRandom());
    this.hba = opts.hba;
    this.roles = opts.roles;
    this.gucs = opts.gucs ?? createGucRegistry();
    this.postmasterPid = this.random.int(1000, 30000);
    this.nextPid = this.postmasterPid + 1;
    if (opts.settings?.mockAuthNonce === undefined) this.settings.mockAuthNonce = this.random.bytes(32);
    registerBuiltins(this.sql, {
      serverVersion: () => this.settings.serverVersion,
      sessions: () => [...this.live].filter((b) => b.phase.name === 'session').map((b) => ({ pid: b.pid, port: b.port, tlsBits: b.conn.tlsBits() })),
    });
    this.hooks.postmasterEmit = (body) => { this.emit(body); };
    registerRoleDdl(this.sql, {
      roles: this.roles, random: this.random, hooks: this.hooks,
      passwordEncryption: () => (this.gucs.has('password_encryption') ? this.gucs.getString('password_encryption') : this.settings.passwordEncryption) as 'md5' | 'scram-sha-256',
    });
    registerReloadSql(this.sql, this, (trigger) => { this.reload(trigger); });
    this.preloadInProgress = true;
    for (const ext of opts.extensions ?? []) {
      if ('module' in ext) loadExtension(this, ext.module, ext.name);
      else loadExtension(this, ext);
    }
    if (opts.clientAuthenticationHook) {
      const hook = opts.clientAuthenticationHook;
      loadExtension(this, {
        name: hook.name || 'ClientAuthentication_hook',
        _PG_init: (ctx) => {
          const previous = ctx.hooks.ClientAuthentication_hook;
          ctx.hooks.ClientAuthentication_hook = async (port, status) => {
            await hook(port, status);
            if (previous) await previous(port, status);
          };
        },
      });
    }
    this.preloadInProgress = false;
    if (!opts.deferSharedMemory) this.startSharedMemory();
  }

  /**
   * process_shmem_requests() then CreateSharedMemoryAndSemaphores(): shmem_request_hook runs
   * (the only place RequestAddinShmemSpace is allowed), then shmem_startup_hook, once per
   * server start, after every preloaded library's _PG_init.
   */
  startSharedMemory(): void {
    if (this.sharedMemoryStarted) return;
    this.sharedMemoryStarted = true;
    this.shmem.requestsInProgress = true;
    try {
      this.hooks.shmem_request_hook?.();
    } finally {
      this.shmem.requestsInProgress = false;
    }
    this.hooks.shmem_startup_hook?.();
  }

  /**
   * Re-read the configuration as a SIGHUP makes the postmaster do (also `pg_reload_conf()` and
   * `serve` on SIGHUP): postgresql.conf and postgresql.auto.conf by GUC context, pg_hba.conf
   * (kept when the new file does not load), SSL material. Logged as PostgreSQL 15 logs it.
   */
  reload(trigger: ReloadTrigger = 'api'): ReloadResult {
    return reloadConfiguration(this, trigger);
  }

  // ---- ServerContext -------------------------------------------------------

  clientAuthenticationHook(): ClientAuthenticationHook | null { return this.hooks.ClientAuthentication_hook; }

  postmasterLog(level: 'LOG' | 'WARNING' | 'DEBUG1', message: string, extra: { detail?: string; hint?: string } = {}): void {
    this.emit({ type: 'log', severity: level, message, ...extra });
  }

  /** Load one more extension, as if appended to shared_preload_libraries. */
  loadExtension(module: ExtensionModule, name?: string): void {
    loadExtension(this, module, name);
  }

  emit(body: EventBody, source?: EventSource): ServerEvent {
    const port = source?.port;
    const ev = {
      seq: ++this.seq,
      time: this.clock.now(),
      pid: source?.pid ?? this.postmasterPid,
      connection: source?.id ?? 0,
      ...(port ? {
        user: port.user_name || undefined,
        database: port.database_name || undefined,
        remoteHost: port.remote_host,
        remotePort: port.remote_port === '' ? null : Number(port.remote_port),
        // %a shows the application_name GUC, which is only applied once the session starts.
        applicationName: source!.session?.application_name,
        sessionStart: source!.sessionStart,
      } : {}),
      ...body,
    } as ServerEvent;
    if (ev.type === 'query' && source) this.currentQuery.set(source, ev.sql);
    const emitLogHook = this.hooks.emit_log_hook;
    if (emitLogHook && !this.inEmitLogHook) this.applyEmitLogHook(ev, emitLogHook);
    for (const l of this.listeners) {
      try { l(ev); } catch { /* a broken listener must not take a connection down */ }
    }
    return ev;
  }

  /**
   * EmitErrorReport()'s emit_log_hook call: the hook sees each record this event would write to
   * the log, may hide it (output_to_server = false) or change its text. The event keeps what
   * the log will show in `logRecords`; text changes to an error reach the client too, as in C.
   */
  private applyEmitLogHook(ev: ServerEvent, hook: (edata: ErrorData) => void): void {
    const records = logRecordsFor(ev, this.settings);
    if (records.length === 0) return;
    const kept: LogRecord[] = [];
    const hidden: Array<{ hook: string; message: string }> = [];
    this.inEmitLogHook = true;
    try {
      for (const r of records) {
        const edata = errorDataFor(r, ev);
        try {
          hook(edata);
        } catch {
          // A failing emit_log_hook must not take the report (or the connection) down.
        }
        const { statement, ...rest } = r;
        const edited: LogRecord = {
          ...rest, ...(statement !== undefined && !edata.hide_stmt ? { statement } : {}),
          message: edata.message, sqlstate: edata.sqlerrcode,
          ...optional('detail', edata.detail), ...optional('detailLog', edata.detail_log),
          ...optional('hint', edata.hint), ...optional('context', edata.context),
        };
        if (edata.output_to_server) kept.push(edited);
        else hidden.push({ hook: hook.name, message: r.message });
        if (ev.type === 'error') Object.assign(ev.error, clientEdits(edata));
        if (ev.type === 'log') Object.assign(ev, clientEdits(edata));
      }
    } finally {
      this.inEmitLogHook = false;
    }
    ev.logRecords = kept;
    if (hidden.length > 0) ev.hiddenBy = hidden;
  }

  /** debug_query_string: the query text the backend received last, or null. */
  debugQueryString(backend: object): string | null {
    return this.currentQuery.get(backend) ?? null;
  }

  allocatePid(): number { return this.nextPid++; }

  procCount(): number {
    let n = 0;
    for (const b of this.live) if (b.holdsProc) n++;
    return n;
  }

  backends(): readonly Backend[] { return [...this.live]; }

  backendExited(b: BackendView): void { this.live.delete(b as Backend); }

  // ---- public API ----------------------------------------------------------

  /** Subscribe to every event; returns an unsubscribe function. */
  on(listener: EventListener): () => void {
    this.listeners.push(listener);
    return () => { this.listeners = this.listeners.filter((l) => l !== listener); };
  }

  /** Hand an accepted socket to a new backend. Resolves when that backend exits. */
  accept(socket: Duplex, remoteHost: string, remotePort: number | null): Promise<void> {
    const be = new Backend(this, ++this.connectionCount, socket, remoteHost, remotePort);
    this.live.add(be);
    const p = be.run().finally(() => { this.running.delete(p); });
    this.running.add(p);
    return p;
  }

  /** An in-process connection: returns the client's end of an in-memory socket pair. */
  connect(remoteHost = '127.0.0.1', remotePort = 50000 + (this.connectionCount % 10000)): MemorySocket {
    const [client, server] = duplexPair();
    client.remotePort = remotePort;
    void this.accept(server, remoteHost, remotePort);
    return client;
  }

  /**
   * Listen on TCP; host names are resolved like listen_addresses. Loopback addresses only,
   * unless `allowRemote` (then the caller should log checkListenAddresses' warnings).
   */
  async listen(port: number, hosts: string[] = ['127.0.0.1'], opts: { allowRemote?: boolean } = {}): Promise<ListenAddress[]> {
    await checkListenAddresses(hosts, opts);
    const bound: ListenAddress[] = [];
    for (const host of hosts) {
      const srv = net.createServer({ noDelay: true }, (sock) => {
        const remote = normalizeAddress(sock.remoteAddress ?? '');
        void this.accept(sock, remote, sock.remotePort ?? null);
      });
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ port, host }, () => { srv.off('error', reject); resolve(); });
      });
      const addr = srv.address() as net.AddressInfo;
      bound.push({ host: addr.address, port: addr.port });
      this.tcpServers.push(srv);
      port = addr.port; // with port 0, bind the other addresses to the same port
    }
    this.emit({ type: 'server-started', addresses: bound.map((a) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)) });
    return bound;
  }

  /** Stop listening, end every connection, wait for the backends to finish. */
  async close(): Promise<void> {
    // net.Server.close() waits for open connections, so end the backends while the listeners close.
    const listeners = this.tcpServers.map((s) => new Promise<void>((r) => s.close(() => r())));
    this.tcpServers = [];
    for (const b of this.live) b.terminate();
    await Promise.all([...listeners, Promise.allSettled([...this.running])]);
    this.emit({ type: 'server-stopped' });
    // The postmaster's own proc_exit(0): callbacks registered in _PG_init or shmem hooks.
    this.exitCallbacks.run(0, (body) => { this.emit(body); });
  }

  /** Resolves when every backend started so far has exited. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

function optional<K extends string>(key: K, value: string | null): Partial<Record<K, string>> {
  return value === null ? {} : ({ [key]: value } as Record<K, string>);
}

/** The text fields of ErrorData as PgErrorFields (what the client is sent). */
function clientEdits(edata: ErrorData): { message: string; sqlstate: string; detail?: string; hint?: string; context?: string } {
  return { message: edata.message, sqlstate: edata.sqlerrcode, ...optional('detail', edata.detail), ...optional('hint', edata.hint), ...optional('context', edata.context) };
}

/** The ErrorData emit_log_hook receives for one log record of an event. */
function errorDataFor(r: LogRecord, ev: ServerEvent): ErrorData {
  const name = r.severity === 'LOG_SERVER_ONLY' || r.severity === 'COMMERROR' ? 'LOG' : r.severity === 'DEBUG' ? 'DEBUG2' : r.severity;
  const elevel = (ELEVELS as Record<string, number>)[name] ?? elevelNumber('LOG' as ElevelName);
  const toClient = ev.type === 'error' ? ev.toClient : ev.type === 'log' ? ev.toClient ?? false : false;
  return {
    elevel, severity: severityLabel(r.severity), output_to_server: true, output_to_client: toClient, hide_stmt: false,
    sqlerrcode: r.sqlstate ?? (elevel >= ELEVELS.ERROR ? 'XX000' : elevel >= ELEVELS.WARNING ? '01000' : '00000'),
    message: r.message, detail: r.detail ?? null, detail_log: r.detailLog ?? null, hint: r.hint ?? null,
    context: r.context ?? null, filename: r.file ?? null, lineno: r.line ?? 0, funcname: r.routine ?? null,
  };
}

/** PostgreSQL prints IPv4 clients on a dual-stack socket as plain IPv4. */
function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
