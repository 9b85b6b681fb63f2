/**
 * The hook variables extensions assign to, like PostgreSQL's globals
 * `ClientAuthentication_hook`, `check_password_hook`, `emit_log_hook`,
 * `shmem_request_hook` and `shmem_startup_hook`. Each assignment is remembered
 * under the name of the extension that made it, so every call in a chain shows
 * up in the event trace as that extension's hook. One HookSlots per server:
 * two servers in one process never share a hook.
 */
import type { CheckPasswordHook, ClientAuthenticationHook, EmitLogHook, HookSlotName, ShmemHook } from './hook.js';
import { statusName, type Status } from './status.js';
import { currentBackend } from '../server/current.js';
import type { EventBody } from '../events.js';

/** Where a slot's trace events go when no backend is running the code (the postmaster). */
export type SlotEmitter = (body: EventBody) => void;

export class HookSlots {
  private clientAuth: ClientAuthenticationHook | null = null;
  private checkPassword: CheckPasswordHook | null = null;
  private emitLog: EmitLogHook | null = null;
  private shmemRequest: ShmemHook | null = null;
  private shmemStartup: ShmemHook | null = null;
  /** Set by the loader while an extension's _PG_init runs. */
  installing: string | null = null;
  /** Set by the server: postmaster-level trace events. */
  postmasterEmit: SlotEmitter | null = null;

  get ClientAuthentication_hook(): ClientAuthenticationHook | null {
    return this.clientAuth;
  }

  set ClientAuthentication_hook(hook: ClientAuthenticationHook | null) {
    this.clientAuth = hook ? traced(hook, this.nameFor(hook, 'ClientAuthentication_hook')) : null;
  }

  /** Called by CREATE/ALTER ROLE ... PASSWORD (sessions and the roles file alike). */
  get check_password_hook(): CheckPasswordHook | null {
    return this.checkPassword;
  }

  set check_password_hook(hook: CheckPasswordHook | null) {
    this.checkPassword = hook ? this.tracedSync('check_password_hook', hook, (username, _p, type, _v, vnull) =>
      ({ username, password_type: type, validuntil_null: vnull })) : null;
  }

  /**
   * Sees every report that is about to be written to the server log. Not traced as events
   * (it runs while an event is being emitted); the event records what the hook decided.
   */
  get emit_log_hook(): EmitLogHook | null {
    return this.emitLog;
  }

  set emit_log_hook(hook: EmitLogHook | null) {
    this.emitLog = hook ? nameHook((edata: Parameters<EmitLogHook>[0]) => hook(edata), this.nameFor(hook, 'emit_log_hook')) : null;
  }

  get shmem_request_hook(): ShmemHook | null {
    return this.shmemRequest;
  }

  set shmem_request_hook(hook: ShmemHook | null) {
    this.shmemRequest = hook ? this.tracedSync('shmem_request_hook', hook, () => ({})) : null;
  }

  get shmem_startup_hook(): ShmemHook | null {
    return this.shmemStartup;
  }

  set shmem_startup_hook(hook: ShmemHook | null) {
    this.shmemStartup = hook ? this.tracedSync('shmem_startup_hook', hook, () => ({})) : null;
  }

  private nameFor(hook: { name: string }, slot: string): string {
    return this.installing ?? (hook.name || slot);
  }

  private tracedSync<A extends unknown[]>(
    slot: HookSlotName, hook: (...args: A) => void, describe: (...args: A) => Record<string, string | number | boolean | null>,
  ): (...args: A) => void {
    const name = this.nameFor(hook, slot);
    const emit = (body: EventBody) => {
      const be = currentBackend.getStore();
      if (be) be.emit(body);
      else this.postmasterEmit?.(body);
    };
    const wrapper = (...args: A): void => {
      emit({ type: 'hook-entered', slot, hook: name, args: describe(...args) });
      try {
        hook(...args);
      } catch (err) {
        emit({ type: 'hook-left', slot, hook: name, outcome: 'error' });
        throw err;
      }
      emit({ type: 'hook-left', slot, hook: name, outcome: 'returned' });
    };
    return nameHook(wrapper, name);
  }
}

function nameHook<T extends object>(fn: T, name: string): T {
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

/** Wrap a hook so entering and leaving it become events of the backend that calls it. */
function traced(hook: ClientAuthenticationHook, name: string): ClientAuthenticationHook {
  const wrapper: ClientAuthenticationHook = async (port, status: Status) => {
    const be = currentBackend.getStore();
    be?.emit({ type: 'hook-invoked', hook: name, status: statusName(status), sslInUse: port.ssl_in_use });
    await hook(port, status);
    be?.emit({ type: 'hook-returned', hook: name });
  };
  return nameHook(wrapper, name);
}
