/** processCancelRequest: a 16-byte packet naming a backend and its secret key. Nothing is ever answered. */
import type { ClientConnection } from '../connection.js';

/** 18 lets the key run up to 256 bytes (protocol 3.2 issues 32). */
const MAX_CANCEL_KEY_LENGTH = 256;

export function processCancelRequest(be: ClientConnection, body: Buffer): void {
  if (be.settings.serverMajor >= 18) {
    if (body.length < 12 || body.length > 8 + MAX_CANCEL_KEY_LENGTH) throw be.commError('invalid length of cancel request packet');
  } else if (body.length !== 12) {
    throw be.commError('invalid length of startup packet');
  }
  const targetPid = body.readUInt32BE(4);
  const key = body.subarray(8);
  const target = be.ctx.backends().find((b) => b.pid === targetPid && b.pid !== be.pid);
  if (!target) {
    be.log('LOG', `PID ${targetPid} in cancel request did not match any process`);
    be.emit({ type: 'cancel-request', targetPid, result: 'no-such-process' });
    return;
  }
  if (!target.cancelKey.equals(key)) {
    be.log('LOG', `wrong key in cancel request for process ${targetPid}`);
    be.emit({ type: 'cancel-request', targetPid, result: 'wrong-key' });
    return;
  }
  be.log('DEBUG2', `processing cancel request: sending SIGINT to process ${targetPid}`);
  be.emit({ type: 'cancel-request', targetPid, result: 'signalled' });
}
