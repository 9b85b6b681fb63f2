/**
 * Connections as a classic pcap file (libpcap 2.4, microsecond timestamps, Ethernet
 * link type with zero MACs, as `tcpdump -i lo` writes them): every connection gets
 * its three-way handshake, its payload as TCP segments in the order the bytes moved,
 * and its FIN or RST as it happened. Wireshark and tshark dissect it like a capture
 * of a real loopback session; with the key log they decrypt the TLS inside.
 */
import type { ConnectionBytes, Side } from './streams.js';

const LINKTYPE_ETHERNET = 1;
/** Largest TCP payload per frame; loopback's MTU is 64 KiB. */
const MAX_SEGMENT = 65000;
const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

interface Packet { micros: number; frame: Buffer }

interface Endpoint { ip: number; port: number; seq: number; ipId: number }

/** One connection's TCP state while its frames are written. */
class TcpFlow {
  readonly client: Endpoint;
  readonly server: Endpoint;
  constructor(c: ConnectionBytes) {
    // Deterministic initial sequence numbers, different per connection.
    this.client = { ip: ipv4(c.clientHost), port: c.clientPort, seq: (0x10000000 + c.connection * 0x01000193) >>> 0, ipId: 1 };
    this.server = { ip: ipv4(c.serverHost), port: c.serverPort, seq: (0x50000000 + c.connection * 0x0100019d) >>> 0, ipId: 1 };
  }

  segment(from: Side, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
    const src = from === 'client' ? this.client : this.server;
    const dst = from === 'client' ? this.server : this.client;
    const ack = flags & TCP_FLAGS.ACK ? dst.seq : 0;
    const frame = ethernetIpv4Tcp(src, dst, src.seq, ack, flags, payload);
    src.seq = (src.seq + payload.length + (flags & (TCP_FLAGS.SYN | TCP_FLAGS.FIN) ? 1 : 0)) >>> 0;
    src.ipId = (src.ipId + 1) & 0xffff;
    return frame;
  }
}

/** The pcap file for these connections, frames in the order things happened across all of them. */
export function writePcap(connections: readonly ConnectionBytes[]): Buffer {
  type Action = { order: number; time: number; frames: () => Buffer[] };
  const actions: Action[] = [];
  for (const c of connections) {
    const flow = new TcpFlow(c);
    actions.push({
      order: c.openOrder, time: c.openedAt,
      frames: () => [
        flow.segment('client', TCP_FLAGS.SYN),
        flow.segment('server', TCP_FLAGS.SYN | TCP_FLAGS.ACK),
        flow.segment('client', TCP_FLAGS.ACK),
      ],
    });
    for (const ch of c.chunks) {
      if (ch.layer !== 'tcp') continue;
      actions.push({
        order: ch.order, time: ch.time,
        frames: () => {
          const out: Buffer[] = [];
          for (let at = 0; at < ch.data.length; at += MAX_SEGMENT) {
            out.push(flow.segment(ch.from, TCP_FLAGS.PSH | TCP_FLAGS.ACK, ch.data.subarray(at, at + MAX_SEGMENT)));
          }
          return out;
        },
      });
    }
    // A side that closed after the server let go of the socket is not reported: its FIN follows the other's.
    const teardown = [...c.teardown];
    const first = teardown[0];
    if (first && first.kind === 'fin' && teardown.length === 1) {
      teardown.push({ time: first.time, order: first.order + 0.5, by: first.by === 'client' ? 'server' : 'client', kind: 'fin' });
    }
    for (const t of teardown) {
      const other: Side = t.by === 'client' ? 'server' : 'client';
      actions.push({
        order: t.order, time: t.time,
        frames: () => t.kind === 'rst'
          ? [flow.segment(t.by, TCP_FLAGS.RST | TCP_FLAGS.ACK)]
          : [flow.segment(t.by, TCP_FLAGS.FIN | TCP_FLAGS.ACK), flow.segment(other, TCP_FLAGS.ACK)],
      });
    }
  }
  actions.sort((a, b) => a.order - b.order);
  const packets: Packet[] = [];
  let last = -1;
  for (const a of actions) {
    for (const frame of a.frames()) {
      // Strictly increasing timestamps keep every reader's ordering the same as ours.
      const micros = Math.max(last + 1, Math.round(a.time * 1000));
      last = micros;
      packets.push({ micros, frame });
    }
  }
  return Buffer.concat([globalHeader(), ...packets.flatMap(recordOf)]);
}

function globalHeader(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeInt32LE(0, 8); // thiszone
  h.writeUInt32LE(0, 12); // sigfigs
  h.writeUInt32LE(262144, 16); // snaplen
  h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  return h;
}

function recordOf(p: Packet): Buffer[] {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(Math.floor(p.micros / 1e6), 0);
  h.writeUInt32LE(p.micros % 1e6, 4);
  h.writeUInt32LE(p.frame.length, 8);
  h.writeUInt32LE(p.frame.length, 12);
  return [h, p.frame];
}

function ethernetIpv4Tcp(src: Endpoint, dst: Endpoint, seq: number, ack: number, flags: number, payload: Buffer): Buffer {
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(src.port, 0);
  tcp.writeUInt16BE(dst.port, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(ack >>> 0, 8);
  tcp.writeUInt8(5 << 4, 12);
  tcp.writeUInt8(flags, 13);
  tcp.writeUInt16BE(65535, 14);
  const ip = Buffer.alloc(20);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip.writeUInt16BE(src.ipId, 4);
  ip.writeUInt16BE(0x4000, 6); // don't fragment
  ip.writeUInt8(64, 8);
  ip.writeUInt8(6, 9);
  ip.writeUInt32BE(src.ip >>> 0, 12);
  ip.writeUInt32BE(dst.ip >>> 0, 16);
  ip.writeUInt16BE(checksum([ip]), 10);
  const pseudo = Buffer.alloc(12);
  pseudo.writeUInt32BE(src.ip >>> 0, 0);
  pseudo.writeUInt32BE(dst.ip >>> 0, 4);
  pseudo.writeUInt8(6, 9);
  pseudo.writeUInt16BE(20 + payload.length, 10);
  tcp.writeUInt16BE(checksum([pseudo, tcp, payload]), 16);
  return Buffer.concat([eth, ip, tcp, payload]);
}

/** The Internet checksum (RFC 1071) over the concatenation of the parts. */
function checksum(parts: Buffer[]): number {
  let sum = 0;
  let odd: number | null = null;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      if (odd === null) odd = p[i]!;
      else { sum += (odd << 8) | p[i]!; odd = null; }
    }
  }
  if (odd !== null) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4(host: string): number {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  // IPv6 and names are drawn as loopback: the capture is of a TCP/IPv4 loopback session.
  if (!m) return 0x7f000001;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/** The NSS key log file: every line of every connection, in connection order. */
export function writeKeylog(connections: readonly ConnectionBytes[]): string {
  const lines = connections.flatMap((c) => c.keylog);
  return lines.length ? `${lines.join('\n')}\n` : '';
}
