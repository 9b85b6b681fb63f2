/**
 * One simulated backend process: the life of a single connection from
 * accept() to exit, in PostgreSQL's order (BackendInitialize →
 * ProcessStartupPacket → InitProcess → PerformAuthentication → InitPostgres →
 * PostgresMain). The steps get the connection handle, never this object.
 */
import type { Duplex } from 'node:stream';
import { match } from 'ts-pattern';
import { PgError, type PgErrorFields } from '../errors.js';
import type { BackendPhase, BackendView } from '../connection.js';
import type { MutablePort } from '../port.js';
import { ProcExit } from './exits.js';
import type { ServerContext } from './context.js';
import { BackendConnection } from './backend-connection.js';
import { processStartupPacket } from '../startup/process-startup-packet.js';
import { performAuthentication } from '../auth/client-authentication.js';
import { initPostgres } from '../session/init-postgres.js';
import { postgresMain } from '../session/postgres-main.js';
import { currentBackend } from './current.js';
import { exitCallbacksOf } from '../extensions/extension.js';

export type { BackendPhase } from '../connection.js';

type CloseReason = 'terminate' | 'eof' | 'fatal' | 'timeout' | 'shutdown' | 'socket-error';

export class Backend implements BackendView {
  readonly pid: number;
  /** The connection handle the steps work through. */
  readonly conn: BackendConnection;
  phase: BackendPhase = { name: 'startup' };
  /** Holds a PGPROC slot (counts against max_connections). */
  holdsProc = false;
  private closeReason: CloseReason = 'eof';
  private exited = false;

  constructor(
    readonly ctx: ServerContext,
    readonly id: number,
    socket: Duplex,
    remoteHost: string,
    remotePort: number | null,
  ) {
    this.pid = ctx.allocatePid();
    this.conn = new BackendConnection(ctx, this.pid, id, socket, remoteHost, remotePort);
  }

  get port(): MutablePort { return this.conn.port; }
  get cancelKey(): Buffer { return this.conn.cancelKey; }

  run(): Promise<void> {
    return currentBackend.run(this.conn, () => this.lifecycle());
  }

  private async lifecycle(): Promise<void> {
    const be = this.conn;
    try {
      be.emit({ type: 'connection-received', remoteHost: be.port.remote_host, remotePort: be.port.remote_port === '' ? null : Number(be.port.remote_port) });
      be.armTimer('startup');
      await processStartupPacket(be);
      be.disarmTimer();
      this.initProcess();
      this.phase = { name: 'authentication' };
      be.armTimer('authentication');
      await performAuthentication(be);
      be.disarmTimer();
      this.phase = { name: 'session' };
      const session = await initPostgres(be);
      await postgresMain(be, session);
    } catch (err) {
      this.handleExit(err);
    } finally {
      this.cleanup();
    }
  }

  /** InitProcess(): no free PGPROC means too many clients, before any authentication. */
  private initProcess(): void {
    if (this.ctx.procCount() >= this.ctx.settings.maxConnections) {
      throw new PgError({ severity: 'FATAL', sqlstate: '53300', message: 'sorry, too many clients already', file: 'proc.c', line: 357, routine: 'InitProcess' });
    }
    this.holdsProc = true;
  }

  private handleExit(err: unknown): void {
    // A session ended by terminate() has already said goodbye (FATAL 57P01).
    if (this.closeReason === 'shutdown' && this.phase.name === 'session') return;
    if (err instanceof ProcExit) {
      this.closeReason = match(err.reason)
        .with('terminate', 'timeout', 'eof', 'shutdown', (r) => r)
        .with('comm-error', 'socket-error', () => 'socket-error' as const)
        .exhaustive();
      return;
    }
    // Outside the command loop there is no error recovery, so errstart() promotes ERROR to FATAL.
    const fields: PgErrorFields = err instanceof PgError
      ? { ...err.fields, severity: err.severity === 'ERROR' ? 'FATAL' : err.severity }
      : { severity: 'FATAL', sqlstate: 'XX000', message: err instanceof Error ? err.message : String(err) };
    this.conn.reportFatal(fields);
    this.closeReason = 'fatal';
  }

  /**
   * Close the connection from the server side (Ctrl-C / server stop). A session gets what a
   * fast shutdown's SIGTERM gives it in PostgreSQL (die() → ProcessInterrupts): FATAL 57P01,
   * logged and sent, then a clean close; a connection still starting up is cut off.
   */
  terminate(): void {
    this.closeReason = 'shutdown';
    if (this.phase.name === 'session') {
      this.conn.reportFatal({ severity: 'FATAL', sqlstate: '57P01', message: 'terminating connection due to administrator command', file: 'postgres.c', line: 3211, routine: 'ProcessInterrupts' });
      this.conn.close();
      return;
    }
    this.conn.destroy();
  }

  private cleanup(): void {
    if (this.exited) return;
    this.exited = true;
    this.conn.close();
    this.phase = { name: 'exited' };
    this.holdsProc = false;
    const be = this.conn;
    // proc_exit(): callbacks extensions registered while this backend ran them, before log_disconnections' line.
    exitCallbacksOf(be)?.run(0, (body) => { be.emit(body); });
    if (be.session) {
      be.emit({ type: 'session-ended', user: be.port.user_name, database: be.port.database_name, sessionMs: this.ctx.clock.now() - be.sessionStart });
    }
    be.emit({ type: 'connection-closed', reason: this.closeReason });
    this.ctx.backendExited(this);
  }
}
