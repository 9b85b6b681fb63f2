/**
 * The hook variables extensions assign to, like PostgreSQL's global
 * `ClientAuthentication_hook`. Each assignment is remembered under the name
 * of the extension that made it, so every call in a chain shows up in the
 * event trace as that extension's hook.
 */
import type { ClientAuthenticationHook } from './hook.js';
import { statusName, type Status } from './status.js';
import { currentBackend } from '../server/current.js';

export class HookSlots {
  private clientAuth: ClientAuthenticationHook | null = null;
  /** Set by the loader while an extension's _PG_init runs. */
  installing: string | null = null;

  get ClientAuthentication_hook(): ClientAuthenticationHook | null {
    return this.clientAuth;
  }

  set ClientAuthentication_hook(hook: ClientAuthenticationHook | null) {
    this.clientAuth = hook ? traced(hook, this.installing ?? hook.name ?? 'ClientAuthentication_hook') : null;
  }
}

/** Wrap a hook so entering and leaving it become events of the backend that calls it. */
function traced(hook: ClientAuthenticationHook, name: string): ClientAuthenticationHook {
  const wrapper: ClientAuthenticationHook = async (port, status: Status) => {
    const be = currentBackend.getStore();
    be?.emit({ type: 'hook-invoked', hook: name, status: statusName(status), sslInUse: port.ssl_in_use });
    await hook(port, status);
    be?.emit({ type: 'hook-returned', hook: name });
  };
  Object.defineProperty(wrapper, 'name', { value: name });
  return wrapper;
}
