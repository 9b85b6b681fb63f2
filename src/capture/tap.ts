/**
 * A tap on the in-process transport: the client end of each in-memory connection
 * reports what it wrote, what it received and how it closed, as a packet capture on
 * loopback would see it. Used for in-process runs of servers that do not capture the
 * wire themselves (PgServer.captureWire off or absent).
 */
import type { PgServer } from '../server/server.js';
import type { MemorySocket } from '../server/memory-transport.js';
import type { ByteStreams } from './streams.js';

/**
 * Tap every in-process connection of `server` from now on. PgServer.connect() starts the
 * backend synchronously, so the newest connection-received event names the connection.
 */
export function tappedConnect(server: PgServer, streams: ByteStreams): void {
  const connect = server.connect.bind(server);
  let latest = 0;
  server.on((e) => { if (e.type === 'connection-received') latest = e.connection; });
  server.connect = (...args: Parameters<PgServer['connect']>) => {
    const sock = connect(...args);
    tap(sock, streams, latest, server);
    return sock;
  };
}

function tap(sock: MemorySocket, streams: ByteStreams, connection: number, server: PgServer): void {
  const now = () => server.clock.now();
  let clientClosed = false;
  let serverClosed = false;
  const write = sock._write.bind(sock);
  sock._write = (chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void) => {
    streams.chunk(connection, { time: now(), from: 'client', layer: 'tcp', data: Buffer.from(chunk) });
    write(chunk, enc, cb);
  };
  const push = sock.push.bind(sock);
  sock.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk === null) {
      if (!serverClosed) streams.close(connection, { time: now(), by: 'server', kind: 'fin' });
      serverClosed = true;
    } else if (Buffer.isBuffer(chunk)) {
      streams.chunk(connection, { time: now(), from: 'server', layer: 'tcp', data: Buffer.from(chunk) });
    }
    return push(chunk, encoding);
  };
  const final = sock._final.bind(sock);
  sock._final = (cb: (err?: Error | null) => void) => {
    if (!clientClosed) streams.close(connection, { time: now(), by: 'client', kind: 'fin' });
    clientClosed = true;
    final(cb);
  };
  const destroy = sock._destroy.bind(sock);
  sock._destroy = (err: Error | null, cb: (err?: Error | null) => void) => {
    // close() without end(): the kernel sends FIN (RST only with unread data, which an in-memory socket never has).
    if (!clientClosed && !serverClosed) streams.close(connection, { time: now(), by: 'client', kind: 'fin' });
    clientClosed = true;
    destroy(err, cb);
  };
}
