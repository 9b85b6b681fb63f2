/**
 * A connection as bytes on a timeline: what a packet capture would show (the TCP
 * payload each side sent, when it opened and how each side closed) and, for TLS
 * connections, the plaintext inside. Built from the server's `wire` events (or a
 * tap on the in-process transport); pcap files and the decoded story are views of it.
 */
export type Side = 'client' | 'server';

export interface ByteChunk {
  /** Clock time in ms. */
  time: number;
  /** Order across every connection (events at one virtual instant keep their order). */
  order: number;
  from: Side;
  /** 'tcp': the TCP payload (TLS records included); 'tls': plaintext inside TLS. */
  layer: 'tcp' | 'tls';
  data: Buffer;
}

export interface Teardown {
  time: number;
  order: number;
  /** Who closed first or reset. */
  by: Side;
  kind: 'fin' | 'rst';
}

export interface ConnectionBytes {
  /** The server's connection number. */
  connection: number;
  clientHost: string;
  clientPort: number;
  serverHost: string;
  serverPort: number;
  openedAt: number;
  openOrder: number;
  chunks: ByteChunk[];
  /** In the order they happened; a side that never closed has no entry. */
  teardown: Teardown[];
  /** NSS key log lines (`CLIENT_RANDOM …`, `CLIENT_HANDSHAKE_TRAFFIC_SECRET …`) for this connection's TLS. */
  keylog: string[];
}

/** Collects connections by number as their events arrive. */
export class ByteStreams {
  private readonly byId = new Map<number, ConnectionBytes>();

  /** `nextOrder` numbers every chunk and teardown; share it with other recorders to keep one order. */
  constructor(private readonly nextOrder: () => number = counter()) {}

  open(c: Omit<ConnectionBytes, 'chunks' | 'teardown' | 'keylog' | 'openOrder'>): ConnectionBytes {
    const entry: ConnectionBytes = { ...c, openOrder: this.nextOrder(), chunks: [], teardown: [], keylog: [] };
    this.byId.set(c.connection, entry);
    return entry;
  }

  get(connection: number): ConnectionBytes | undefined {
    return this.byId.get(connection);
  }

  chunk(connection: number, chunk: Omit<ByteChunk, 'order'>): void {
    if (chunk.data.length === 0) return;
    this.byId.get(connection)?.chunks.push({ ...chunk, order: this.nextOrder() });
  }

  /** A side closed; only the first FIN per side and the first RST count, as TCP would show them. */
  close(connection: number, t: Omit<Teardown, 'order'>): void {
    const c = this.byId.get(connection);
    if (!c) return;
    if (c.teardown.some((x) => x.kind === 'rst')) return;
    if (t.kind === 'fin' && c.teardown.some((x) => x.by === t.by)) return;
    c.teardown.push({ ...t, order: this.nextOrder() });
  }

  keylog(connection: number, line: string): void {
    const c = this.byId.get(connection);
    if (c && !c.keylog.includes(line.trimEnd())) c.keylog.push(line.trimEnd());
  }

  all(): ConnectionBytes[] {
    return [...this.byId.values()].sort((a, b) => a.connection - b.connection);
  }
}

export function counter(): () => number {
  let n = 0;
  return () => ++n;
}
