import { Duplex } from 'node:stream';

/**
 * A socket seen through a duplex that first replays bytes already read from
 * it. TLS needs this when the handshake's first bytes were consumed while
 * looking for a startup packet (direct SSL, 17+), or when pipelined
 * plaintext must be fed to OpenSSL as 17+ does.
 */
export function withPrefix(prefix: Buffer, socket: Duplex): Duplex {
  const d = new Duplex({
    read() { socket.resume(); },
    write(chunk: Buffer, _enc, cb) { socket.write(chunk, cb); },
    final(cb) { socket.end(); cb(); },
    destroy(err, cb) { socket.destroy(); cb(err); },
  });
  if (prefix.length > 0) d.push(prefix);
  socket.on('data', (chunk: Buffer) => { if (!d.push(chunk)) socket.pause(); });
  socket.on('end', () => d.push(null));
  socket.on('close', () => { if (!d.destroyed) d.destroy(); });
  socket.on('error', (e) => d.destroy(e));
  return d;
}
