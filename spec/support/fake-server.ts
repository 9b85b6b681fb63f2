/**
 * A scripted server, for what a real PostgreSQL does not readily do: an 'E' answer to SSLRequest
 * (a failed fork), a close right after the startup packet. It records the packets each
 * connection got, over TCP (handle a net.Socket) or in-process (transport()).
 */
import type { Duplex } from 'node:stream';
import { MessageReader } from '../../src/wire/reader.js';
import { encodeBackend, toErrorResponse, NEGOTIATE_SSL_CODE } from '../../src/wire/codec.js';
import { CANCEL_REQUEST_CODE } from '../../src/wire/messages.js';
import { duplexPair } from '../../src/server/memory-transport.js';
import type { ClientTransport } from '../../src/clients/libpq/transport.js';

/** What the fake does on its n-th connection (0-based). */
export interface FakeAct {
  /** The answer to SSLRequest: 'N', or 'E' = an ErrorResponse (53300) and a close, as after a failed fork. */
  ssl: 'N' | 'E';
  /** After the startup packet: hang up without a word, or send a FATAL with this SQLSTATE and hang up. */
  startup: 'close' | '28P01';
}

const FATAL_53300 = encodeBackend(toErrorResponse({ severity: 'FATAL', sqlstate: '53300', message: 'sorry, too many clients already' }));
const FATAL_28P01 = encodeBackend(toErrorResponse({ severity: 'FATAL', sqlstate: '28P01', message: 'password authentication failed for user "test"' }));

/** Records, per connection, the packets it got ('SSLRequest', 'startup', 'CancelRequest', after which it closes). */
export class FakeServer {
  readonly seen: string[][] = [];
  constructor(private readonly script: (n: number) => FakeAct) {}

  handle(sock: Duplex): void {
    const got: string[] = [];
    const act = this.script(this.seen.length);
    this.seen.push(got);
    sock.on('error', () => {});
    const reader = new MessageReader(sock);
    void (async () => {
      for (;;) {
        const r = await reader.readStartupPacket();
        if (r.kind !== 'packet') break;
        if (r.body.readInt32BE(0) === NEGOTIATE_SSL_CODE) {
          got.push('SSLRequest');
          if (act.ssl === 'N') {
            sock.write('N');
            continue;
          }
          sock.end(FATAL_53300);
          break;
        }
        if (r.body.readInt32BE(0) === CANCEL_REQUEST_CODE) {
          got.push('CancelRequest');
          sock.end();
          break;
        }
        got.push('startup');
        if (act.startup === 'close') sock.end();
        else sock.end(FATAL_28P01);
        break;
      }
      reader.close();
    })();
  }

  transport(): ClientTransport {
    return {
      open: async () => {
        const [client, server] = duplexPair();
        this.handle(server);
        return client;
      },
    };
  }
}

export type FakeScript = 'ssl-E' | 'close-after-startup';

/** postgres.js reconnects forever on these: from the 4th connection on the fake answers N and 28P01, which ends it. */
export const SCRIPTS: Record<FakeScript, (n: number) => FakeAct> = {
  'ssl-E': (n) => (n < 3 ? { ssl: 'E', startup: '28P01' } : { ssl: 'N', startup: '28P01' }),
  'close-after-startup': (n) => (n < 3 ? { ssl: 'N', startup: 'close' } : { ssl: 'N', startup: '28P01' }),
};
