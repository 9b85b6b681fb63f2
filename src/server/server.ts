/**
 * The postmaster: owns the configuration, accepts connections (TCP or
 * in-memory) and starts one Backend per connection.
 */
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
}

export interface ListenAddress { host: string; port: number }

export class PgServer implements ServerContext, ExtensionHost {
  readonly settings: ServerSettings;
  readonly clock: Clock;
  readonly random: Random;
  readonly hba: readonly HbaLine[];
  readonly roles: RoleCatalog;
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
    for (const l of this.listeners) {
      try { l(ev); } catch { /* a broken listener must not take a connection down */ }
    }
    return ev;
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
  }

  /** Resolves when every backend started so far has exited. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

/** PostgreSQL prints IPv4 clients on a dual-stack socket as plain IPv4. */
function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
