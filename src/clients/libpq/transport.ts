/**
 * How the libpq model reaches a server: name resolution plus one byte stream per TCP
 * connection. Two implementations: in-process (a PgServer's memory socket pair, no port)
 * and real TCP (node:net), so the same state machine can talk to the simulator or to a
 * real PostgreSQL.
 */
import * as dns from 'node:dns/promises';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { PgServer } from '../../server/server.js';

/** A failed connect() or lookup, carrying the errno name (ECONNREFUSED, ENOENT, ENOTFOUND, ...). */
export class TransportError extends Error {
  constructor(readonly code: string, message?: string) {
    super(message ?? code);
    this.name = 'TransportError';
  }
}

export interface ClientTransport {
  /** Open a TCP connection to an address (already resolved). Rejects with a TransportError. */
  open(host: string, port: number): Promise<Duplex>;
  /** getaddrinfo(): the addresses to try for a host name, in order. Absent: the name is used as is. */
  resolve?(host: string): Promise<string[]>;
  /** Connect to a Unix-domain socket path. Absent: every socket path is missing (ENOENT). */
  openUnix?(path: string): Promise<Duplex>;
}

/** strerror() texts (glibc) for the errno values a connect() or getaddrinfo() can end with. */
const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOTDIR: 'Not a directory',
  EPIPE: 'Broken pipe',
  // gai_strerror()
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  ENODATA: 'No address associated with hostname',
};

export function strerror(code: string): string {
  return STRERROR[code] ?? code;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'ECONNREFUSED';
}

/**
 * In-process: every connection goes to `server` (or whichever server `route` picks for the
 * address and port; null there means nothing listens: ECONNREFUSED). The server sees the
 * address as the client's remote host.
 */
export function inProcessTransport(
  server: PgServer | ((host: string, port: number) => PgServer | null),
  opts: { hosts?: Record<string, string[]> } = {},
): ClientTransport {
  const hosts: Record<string, string[]> = { localhost: ['127.0.0.1'], ...opts.hosts };
  return {
    async open(host, port) {
      const target = typeof server === 'function' ? server(host, port) : server;
      if (!target) throw new TransportError('ECONNREFUSED');
      return target.connect(host);
    },
    async resolve(host) {
      if (net.isIP(host)) return [host];
      const found = hosts[host.toLowerCase()];
      if (!found || found.length === 0) throw new TransportError('ENOTFOUND');
      return found;
    },
  };
}

/** Real sockets: node:net for TCP and Unix-domain sockets, node:dns for names. */
export function tcpTransport(): ClientTransport {
  const connect = (options: net.NetConnectOpts) => new Promise<Duplex>((resolve, reject) => {
    const s = net.connect(options);
    const onError = (err: Error) => { s.destroy(); reject(new TransportError(errorCode(err), err.message)); };
    s.once('error', onError);
    s.once('connect', () => {
      s.off('error', onError);
      s.setNoDelay(true);
      resolve(s);
    });
  });
  return {
    open: (host, port) => connect({ host, port }),
    openUnix: (path) => connect({ path }),
    async resolve(host) {
      if (net.isIP(host)) return [host];
      try {
        const found = await dns.lookup(host, { all: true, verbatim: true });
        return found.map((a) => a.address);
      } catch (err) {
        throw new TransportError(errorCode(err));
      }
    },
  };
}
