/**
 * One driver connection's byte stream: frames in (through the server's own MessageReader, so
 * the socket can be handed to TLS with nothing lost), frames out, the switch to TLS, and the
 * three ways a driver lets go of a socket (Terminate then FIN, FIN only, reset).
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { MessageReader } from '../../wire/reader.js';
import { withSharedContext } from '../tls-context.js';
import { decodeBackend, encodeFrontend, WireDecodeError, type FramedBackendMessage, type FrontendMessage } from '../../wire/codec.js';

export type Incoming =
  | { kind: 'message'; msg: FramedBackendMessage }
  /** The server closed (or reset) the socket. */
  | { kind: 'eof' }
  /** Bytes no PostgreSQL server would send. */
  | { kind: 'garbage'; reason: string };

export type TlsResult =
  | {
    ok: true;
    peerCertificate: Buffer | null;
    /** The server's certificate as node:tls parsed it (names for a host name check made after the handshake). */
    peer?: tls.PeerCertificate;
    /** Why the chain does not verify (OpenSSL's code), when rejectUnauthorized was off; null when it does. */
    authorizationError?: string | null;
  }
  /** `error` is the Error node:tls raised (message and code are what a Node driver reports); `peer` the certificate, if one came. */
  | { ok: false; error: Error & { code?: string }; peer?: tls.PeerCertificate };

export class DriverSocket {
  private reader: MessageReader;
  private stream: Duplex;
  private tlsSocket: tls.TLSSocket | null = null;
  /** The server's certificate (DER) once TLS is up: tls-server-end-point input. */
  peerCertificate: Buffer | null = null;

  constructor(raw: Duplex) {
    this.stream = raw;
    this.reader = new MessageReader(raw);
    // Failures surface as EOF on reads.
    raw.on('error', () => {});
  }

  get sslInUse(): boolean {
    return this.tlsSocket !== null;
  }

  /** The one-byte answer to SSLRequest, or null when the server closed first. */
  readByte(): Promise<number | null> {
    return this.reader.readByte();
  }

  /** Drop whatever already arrived (a driver that looks at the first byte of a chunk and throws the chunk away). */
  discardBuffered(): void {
    this.reader.detach();
    this.reader.attach(this.stream);
  }

  async read(): Promise<Incoming> {
    const type = await this.reader.readByte();
    if (type === null) return { kind: 'eof' };
    const len = await this.reader.readBytes(4);
    if (len.length < 4) return { kind: 'eof' };
    const length = len.readInt32BE(0);
    if (length < 4) return { kind: 'garbage', reason: `invalid message length ${length}` };
    const body = await this.reader.readBytes(length - 4);
    if (body.length < length - 4) return { kind: 'eof' };
    try {
      return { kind: 'message', msg: decodeBackend(type, body) };
    } catch (err) {
      if (err instanceof WireDecodeError) return { kind: 'garbage', reason: err.message };
      throw err;
    }
  }

  send(...msgs: FrontendMessage[]): void {
    if (this.stream.destroyed || this.stream.writableEnded) return;
    for (const m of msgs) this.stream.write(encodeFrontend(m));
  }

  /**
   * TLS on the socket that got 'S' (or straight away, for direct negotiation). `verify`, when
   * given, is the driver's own certificate check: it runs when the handshake completes, where
   * node:tls runs rejectUnauthorized's, and a failure drops the socket at once as that does
   * (the server never sees the client's Finished). Give it with rejectUnauthorized off.
   */
  startTls(options: tls.ConnectionOptions, verify?: (peer: tls.PeerCertificate | undefined, authorizationError: string | null) => (Error & { code?: string }) | null): Promise<TlsResult> {
    const leftover = this.reader.detach();
    const raw = this.stream;
    // Anything the server sent after its 'S' belongs to the TLS layer.
    if (leftover.length > 0) raw.unshift(leftover);
    return new Promise((resolve) => {
      const socket = tls.connect({ ...withSharedContext(options), socket: raw as net.Socket });
      reusePeerCertificate(socket);
      let settled = false;
      const done = (r: TlsResult) => {
        if (settled) return;
        settled = true;
        socket.off('secureConnect', onSecure);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (r.ok) {
          this.tlsSocket = socket;
          this.peerCertificate = r.peerCertificate;
          this.stream = socket;
          this.reader = new MessageReader(socket);
          socket.on('error', () => {});
        } else {
          socket.on('error', () => {});
          socket.destroy();
          raw.destroy();
        }
        resolve(r);
      };
      const peer = (): tls.PeerCertificate | undefined => {
        const p = socket.getPeerCertificate();
        return p && Object.keys(p).length > 0 ? p : undefined;
      };
      const onSecure = () => {
        const p = peer();
        const der = p?.raw;
        const why = socket.authorizationError as unknown as string | Error | null | undefined;
        const authorizationError = why ? String((why as { code?: string }).code ?? why) : null;
        const refused = verify?.(p, authorizationError) ?? null;
        if (refused) return done({ ok: false, error: refused, ...(p ? { peer: p } : {}) });
        done({ ok: true, peerCertificate: der ?? null, ...(p ? { peer: p } : {}), authorizationError });
      };
      const onError = (error: Error) => {
        const p = peer();
        done({ ok: false, error, ...(p ? { peer: p } : {}) });
      };
      const onClose = () => {
        const error = Object.assign(new Error('Client network socket disconnected before secure TLS connection was established'), { code: 'ECONNRESET' });
        done({ ok: false, error });
      };
      socket.once('secureConnect', onSecure);
      socket.once('error', onError);
      socket.once('close', onClose);
    });
  }

  /** The driver's goodbye on an open session: Terminate, then FIN. */
  terminate(): Promise<void> {
    this.send({ type: 'Terminate' });
    return this.end();
  }

  /** FIN after whatever was written; resolves once the socket is gone. */
  end(): Promise<void> {
    const s = this.stream;
    this.reader.close();
    return new Promise((resolve) => {
      if (s.destroyed) return resolve();
      const finish = () => {
        s.destroy();
        resolve();
      };
      s.once('close', () => resolve());
      s.once('error', finish);
      if (s.writableEnded) return finish();
      s.end(finish);
    });
  }

  /** A reset: the process died or the driver destroyed the socket. */
  destroy(): void {
    this.reader.close();
    this.stream.destroy();
  }
}

/**
 * node:tls builds the detailed peer certificate for its own identity check right after the
 * handshake; a driver model then asks for the plain one. Build the objects once: the plain
 * certificate is the detailed one without its issuer chain, as node builds it.
 */
function reusePeerCertificate(socket: tls.TLSSocket): void {
  const build = tls.TLSSocket.prototype.getPeerCertificate;
  let detailed: tls.DetailedPeerCertificate | null = null;
  socket.getPeerCertificate = function (this: tls.TLSSocket, wantDetailed?: boolean) {
    if (wantDetailed) {
      if (detailed) return detailed;
      const built = build.call(this, true);
      // Before the handshake there is nothing to keep.
      if (Object.keys(built).length > 0) detailed = built as tls.DetailedPeerCertificate;
      return built;
    }
    if (!detailed) return build.call(this, false);
    const { issuerCertificate: _chain, ...plain } = detailed;
    return plain;
  } as tls.TLSSocket['getPeerCertificate'];
}
