/**
 * A TCP proxy that records what a client and a server say to each other, message by message,
 * per connection: the client's side read by spec/support/pg-messages.ts, the server's decoded
 * by pg-protocol. Put one in front of real PostgreSQL and one in front of the simulator, run
 * the same client program through both, and compare the transcripts. Plaintext only (an
 * SSLRequest answered 'S' ends the recording of that connection at "TLS").
 */
import * as net from 'node:net';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { Received } from './wire-client.js';
import { backendMessage, frontendMessage } from './pg-messages.js';

export type TranscriptLine = ['F' | 'B', unknown];

export class WireProxy {
  /** One transcript per connection, in the order the connections were accepted. */
  readonly connections: TranscriptLine[][] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(targetPort: number): Promise<WireProxy> {
    let proxy!: WireProxy;
    const server = net.createServer((client) => proxy.relay(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    proxy = new WireProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  private relay(client: net.Socket, targetPort: number): void {
    const transcript: TranscriptLine[] = [];
    this.connections.push(transcript);
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => { this.sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    let fromClient = Buffer.alloc(0);
    let startupDone = false;
    let sslAnswerPending = false;
    let tls = false;
    let serverRaw = Buffer.alloc(0);
    const parser = new Parser();
    client.on('data', (d: Buffer) => {
      upstream.write(d);
      if (tls) return;
      fromClient = Buffer.concat([fromClient, d]);
      for (;;) {
        if (!startupDone) {
          if (fromClient.length < 8) return;
          const len = fromClient.readInt32BE(0);
          if (fromClient.length < len) return;
          const code = fromClient.readInt32BE(4);
          if (code === 80877103 || code === 80877104) {
            transcript.push(['F', [code === 80877103 ? 'SSLRequest' : 'GSSENCRequest']]);
            sslAnswerPending = true;
          } else {
            const fields = fromClient.subarray(8, len - 1).toString('utf8').split('\0');
            const params: string[] = [];
            for (let i = 0; i + 1 < fields.length; i += 2) params.push(`${fields[i]}=${fields[i + 1]}`);
            transcript.push(['F', ['Startup', ...params]]);
            startupDone = true;
          }
          fromClient = fromClient.subarray(len);
          continue;
        }
        if (fromClient.length < 5) return;
        const len = fromClient.readInt32BE(1);
        if (fromClient.length < len + 1) return;
        transcript.push(['F', frontendMessage(String.fromCharCode(fromClient[0]!), fromClient.subarray(5, len + 1))]);
        fromClient = fromClient.subarray(len + 1);
      }
    });
    upstream.on('data', (d: Buffer) => {
      client.write(d);
      if (tls) return;
      serverRaw = Buffer.concat([serverRaw, d]);
      if (sslAnswerPending) {
        const answer = String.fromCharCode(serverRaw[0]!);
        serverRaw = serverRaw.subarray(1);
        sslAnswerPending = false;
        transcript.push(['B', ['SSL', answer]]);
        if (answer === 'S') { tls = true; transcript.push(['B', ['TLS']]); return; }
      }
      const chunk = serverRaw;
      serverRaw = Buffer.alloc(0);
      parser.parse(chunk, (m) => transcript.push(['B', backendMessage(m as Received)]));
    });
  }

  clear(): void {
    this.connections.length = 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Transcripts made comparable across servers and runs: the statement names drivers make up
 * (postgres.js's random prefix, asyncpg's process-wide counter) become S1, S2, ... in order of
 * first use.
 */
export function normaliseTranscripts(connections: readonly TranscriptLine[][]): TranscriptLine[][] {
  const names = new Map<string, string>();
  const rename = (n: unknown) => {
    if (typeof n !== 'string' || n === '') return n;
    if (!names.has(n)) names.set(n, `S${names.size + 1}`);
    return names.get(n);
  };
  return connections.map((c) => c.map(([dir, m]) => {
    const msg = m as unknown[];
    if (dir === 'F' && Array.isArray(msg)) {
      if (msg[0] === 'Parse') return [dir, ['Parse', rename(msg[1]), ...msg.slice(2)]];
      if (msg[0] === 'Bind') return [dir, ['Bind', msg[1], rename(msg[2]), ...msg.slice(3)]];
      if ((msg[0] === 'Describe' || msg[0] === 'Close') && msg[1] === 'S') return [dir, [msg[0], 'S', rename(msg[2])]];
    }
    return [dir, m];
  }));
}
