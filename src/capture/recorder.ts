/**
 * Fills ByteStreams from the server's event stream: `connection-received` opens a
 * connection, `wire` events add bytes, `wire-close` events (or, for servers that do not
 * report teardown, `connection-closed`) close it, `tls-keylog` lines go to the key log.
 */
import type { ServerEvent } from '../events.js';
import { ByteStreams } from './streams.js';

export interface RecorderOptions {
  /** Take FINs from a transport tap instead of the backend's exit. */
  tapped?: boolean;
  /** The server's address and port as the capture shows them. */
  serverHost?: string;
  serverPort?: number;
}

export class WireRecorder {
  readonly streams: ByteStreams;
  /** True once the server reported a TCP teardown itself (then connection-closed is not used). */
  private sawTeardown = false;

  constructor(private readonly opts: RecorderOptions = {}, nextOrder?: () => number) {
    this.streams = new ByteStreams(nextOrder);
  }

  handle = (e: ServerEvent): void => {
    const body = e as ServerEvent & Record<string, unknown>;
    switch (e.type) {
      case 'connection-received':
        this.streams.open({
          connection: e.connection, clientHost: e.remoteHost, clientPort: e.remotePort ?? 0,
          serverHost: this.opts.serverHost ?? '127.0.0.1', serverPort: this.opts.serverPort ?? 5432, openedAt: e.time,
        });
        return;
      case 'wire':
        this.streams.chunk(e.connection, { time: e.time, from: e.from, layer: e.layer, data: e.data });
        return;
      case 'connection-closed':
        // The backend's exit: it closes its end (FIN) unless the client already went.
        if (!this.sawTeardown && !this.opts.tapped) this.streams.close(e.connection, { time: e.time, by: 'server', kind: e.reason === 'socket-error' ? 'rst' : 'fin' });
        return;
      default:
        break;
    }
    if ((body.type as string) === 'wire-close') {
      this.sawTeardown = true;
      this.streams.close(e.connection, { time: e.time, by: body.from === 'client' ? 'client' : 'server', kind: body.how === 'rst' ? 'rst' : 'fin' });
    }
    if ((body.type as string) === 'tls-keylog' && typeof body.line === 'string') this.streams.keylog(e.connection, body.line);
  };
}
