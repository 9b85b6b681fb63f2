/**
 * Fills ByteStreams from the server's event stream: `connection-received` opens a
 * connection, `wire` events add bytes, `wire-close` events close it, `tls-keylog` lines
 * go to the key log. The server must capture the wire (PgServer.captureWire).
 */
import type { ServerEvent } from '../events.js';
import { ByteStreams } from './streams.js';

export interface RecorderOptions {
  /** The server's address and port as the capture shows them. */
  serverHost?: string;
  serverPort?: number;
}

export class WireRecorder {
  readonly streams: ByteStreams;

  constructor(private readonly opts: RecorderOptions = {}, nextOrder?: () => number) {
    this.streams = new ByteStreams(nextOrder);
  }

  handle = (e: ServerEvent): void => {
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
      default:
        break;
    }
    if (e.type === 'wire-close') {
      this.streams.close(e.connection, { time: e.time, by: e.from, kind: e.how });
    }
    if (e.type === 'tls-keylog') this.streams.keylog(e.connection, e.line);
  };
}
