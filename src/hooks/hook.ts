import type { Port } from '../port.js';
import type { Status } from './status.js';

/**
 * ClientAuthentication_hook_type: `void (*)(Port *, int status)`. May return a
 * promise; the backend waits for it as it waits for a C hook to return.
 */
export type ClientAuthenticationHook = (port: Port, status: Status) => void | Promise<void>;
