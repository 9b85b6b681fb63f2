import { expect } from 'chai';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import tls from 'node:tls';
import forge from 'node-forge';
import {
  encodeFrontend, parseStartupPacket, PG_MAX_AUTH_TOKEN_LENGTH, PG_MAX_SASL_MESSAGE_LENGTH,
} from '../../src/wire/codec.js';
import { MessageReader, type MessageRead, type StartupRead } from '../../src/wire/reader.js';
import { cstrings, int32, tick } from './helpers.js';

const EVENTS = ['data', 'end', 'error', 'close'] as const;
const listenerCounts = (s: PassThrough | net.Socket) => EVENTS.map((e) => s.listenerCount(e));

/** How the test writes a byte string into the stream before ending it. */
type Chunking = 'one chunk' | 'one byte per write' | 'split at 2 and 5';
const CHUNKINGS: Chunking[] = ['one chunk', 'one byte per write', 'split at 2 and 5'];

async function deliver(stream: PassThrough, bytes: Buffer, how: Chunking, end = true): Promise<void> {
  if (how === 'one chunk') {
    if (bytes.length) stream.write(bytes);
  } else if (how === 'one byte per write') {
    // A turn of the event loop after each of the first bytes (the framing-critical
    // ones), then every 512 so that 64 KiB messages stay quick.
    for (let i = 0; i < bytes.length; i++) {
      stream.write(bytes.subarray(i, i + 1));
      if (i < 16 || i % 512 === 0) await tick();
    }
  } else {
    for (const [from, to] of [[0, 2], [2, 5], [5, bytes.length]] as const) {
      if (from < bytes.length) stream.write(bytes.subarray(from, Math.max(from, Math.min(to, bytes.length))));
      await tick();
    }
  }
  if (end) stream.end();
}

const startupBytes = (extra: Buffer) => Buffer.concat([int32(extra.length + 8), int32(196608), extra]);

/** A 3.0 StartupMessage whose length word is exactly `total`. */
function startupOfLength(total: number): Buffer {
  const head = cstrings('user', 'u', 'x_pad');
  const pad = total - 8 - head.length - 2;
  return startupBytes(Buffer.concat([head, Buffer.alloc(pad, 0x61), Buffer.from([0, 0])]));
}

describe('wire MessageReader', () => {
  describe('readStartupPacket', () => {
    // [case, bytes sent before EOF, expected result (body given by its length)]
    const cases: Array<[string, Buffer, StartupRead | { kind: 'packet'; bodyLength: number }]> = [
      ['no bytes at all', Buffer.alloc(0), { kind: 'eof' }],
      ['1 byte of the length word', Buffer.from([0]), { kind: 'incomplete', where: 'length' }],
      ['3 bytes of the length word', Buffer.from([0, 0, 0]), { kind: 'incomplete', where: 'length' }],
      ['length 7', Buffer.concat([int32(7), int32(196608)]), { kind: 'invalid-length', length: 7 }],
      ['length 8 (version only)', Buffer.concat([int32(8), int32(196608)]), { kind: 'packet', bodyLength: 4 }],
      ['length 10004', startupOfLength(10004), { kind: 'packet', bodyLength: 10000 }],
      ['length 10005', startupOfLength(10005), { kind: 'invalid-length', length: 10005 }],
      ['length 3', int32(3), { kind: 'invalid-length', length: 3 }],
      ['length -1', int32(-1), { kind: 'invalid-length', length: -1 }],
      ['length INT32_MIN', int32(-0x80000000), { kind: 'invalid-length', length: -0x80000000 }],
      ['EOF inside the body', Buffer.concat([int32(100), int32(196608), Buffer.from('user')]), { kind: 'incomplete', where: 'body' }],
      ['EOF right after the length word', int32(16), { kind: 'incomplete', where: 'body' }],
      ['a CancelRequest', Buffer.concat([int32(16), int32(80877102), int32(5), int32(6)]), { kind: 'packet', bodyLength: 12 }],
    ];
    for (const how of CHUNKINGS) {
      describe(how, () => {
        for (const [name, bytes, want] of cases) {
          it(`${name} → ${want.kind}${'where' in want ? ` (${want.where})` : ''}`, async () => {
            const s = new PassThrough();
            const reader = new MessageReader(s);
            const pending = reader.readStartupPacket();
            await deliver(s, bytes, how);
            const got = await pending;
            if (want.kind === 'packet' && 'bodyLength' in want) {
              expect(got.kind).to.equal('packet');
              const bodyBytes = got.kind === 'packet' ? got.body : Buffer.alloc(0);
              expect(bodyBytes.equals(bytes.subarray(4, 4 + want.bodyLength))).to.equal(true);
            } else {
              expect(got).to.deep.equal(want);
            }
          });
        }
      });
    }

    it('a 10004-byte packet parses with its 10000-byte body', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      s.end(startupOfLength(10004));
      const got = await reader.readStartupPacket();
      expect(got.kind === 'packet' && parseStartupPacket(got.body).kind).to.equal('StartupMessage');
    });

    it('SSLRequest and StartupMessage in one write: the second stays buffered (CVE-2021-23214 evidence)', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      const startup = encodeFrontend({ type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 }, params: [['user', 'u']] });
      s.write(Buffer.concat([encodeFrontend({ type: 'SSLRequest' }), startup]));
      const first = await reader.readStartupPacket();
      expect(first.kind === 'packet' && parseStartupPacket(first.body).kind).to.equal('SSLRequest');
      expect(reader.bufferedLength()).to.equal(startup.length);
      const second = await reader.readStartupPacket();
      expect(second.kind === 'packet' && parseStartupPacket(second.body).kind).to.equal('StartupMessage');
      expect(reader.bufferedLength()).to.equal(0);
    });
  });

  describe('readMessage', () => {
    const msg = (type: string, body: Buffer) => Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
    const max = PG_MAX_SASL_MESSAGE_LENGTH;
    const cases: Array<[string, Buffer, number, MessageRead]> = [
      ['no bytes', Buffer.alloc(0), max, { kind: 'eof' }],
      ['type byte only', Buffer.from('p'), max, { kind: 'eof-in-length' }],
      ['type and 3 length bytes', Buffer.from([0x70, 0, 0, 0]), max, { kind: 'eof-in-length' }],
      ['length 3', Buffer.concat([Buffer.from('p'), int32(3)]), max, { kind: 'invalid-length', length: 3 }],
      ['length 0', Buffer.concat([Buffer.from('p'), int32(0)]), max, { kind: 'invalid-length', length: 0 }],
      ['negative length', Buffer.concat([Buffer.from('p'), int32(-5)]), max, { kind: 'invalid-length', length: -5 }],
      ['length 4: empty body', msg('X', Buffer.alloc(0)), max, { kind: 'message', type: 0x58, body: Buffer.alloc(0) }],
      ['SASL message of exactly 1024 (length word included)', msg('p', Buffer.alloc(1020, 0x61)), max, { kind: 'message', type: 0x70, body: Buffer.alloc(1020, 0x61) }],
      ['SASL message of 1025', msg('p', Buffer.alloc(1021, 0x61)), max, { kind: 'invalid-length', length: 1025 }],
      ['password of exactly 65535 (accepted by 15.20)', msg('p', Buffer.alloc(65531, 0x61)), PG_MAX_AUTH_TOKEN_LENGTH, { kind: 'message', type: 0x70, body: Buffer.alloc(65531, 0x61) }],
      ['password of 65536 (rejected by 15.20)', Buffer.concat([Buffer.from('p'), int32(65536)]), PG_MAX_AUTH_TOKEN_LENGTH, { kind: 'invalid-length', length: 65536 }],
      ['body cut short', Buffer.concat([Buffer.from('p'), int32(20), Buffer.from('abc')]), max, { kind: 'incomplete' }],
    ];
    for (const how of CHUNKINGS) {
      describe(how, () => {
        for (const [name, bytes, maxLength, want] of cases) {
          it(`${name} → ${want.kind}`, async () => {
            const s = new PassThrough();
            const reader = new MessageReader(s);
            const pending = reader.readMessage(maxLength);
            await deliver(s, bytes, how);
            expect(await pending).to.deep.equal(want);
          });
        }
      });
    }

    const stream = [
      msg('p', Buffer.from('pw\0')), msg('Q', Buffer.from('select 1\0')), msg('X', Buffer.alloc(0)),
    ];
    for (const how of CHUNKINGS) {
      it(`three messages in a row, ${how}, then EOF`, async () => {
        const s = new PassThrough();
        const reader = new MessageReader(s);
        const delivering = deliver(s, Buffer.concat(stream), how);
        const got: MessageRead[] = [];
        for (let i = 0; i < 4; i++) got.push(await reader.readMessage(1000));
        await delivering;
        expect(got).to.deep.equal([
          { kind: 'message', type: 0x70, body: Buffer.from('pw\0') },
          { kind: 'message', type: 0x51, body: Buffer.from('select 1\0') },
          { kind: 'message', type: 0x58, body: Buffer.alloc(0) },
          { kind: 'eof' },
        ]);
      });
    }

    it('readMessageType leaves the length word unread, so a wrong type can be reported first', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      s.write(Buffer.concat([Buffer.from('Q'), int32(100000)]));
      expect(await reader.readMessageType()).to.equal(0x51);
      expect(reader.bufferedLength()).to.equal(4);
      expect(await reader.readMessageBody(PG_MAX_AUTH_TOKEN_LENGTH)).to.deep.equal({ kind: 'invalid-length', length: 100000 });
    });

    it('readMessageType is null at EOF; readMessageBody reports EOF in the length word', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      s.end(Buffer.from([0x70, 0, 0]));
      expect(await reader.readMessageType()).to.equal(0x70);
      expect(await reader.readMessageBody(1024)).to.deep.equal({ kind: 'eof-in-length' });
      expect(await reader.readMessageType()).to.equal(null);
    });
  });

  describe('byte primitives', () => {
    it('peekByte does not consume; readByte does', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      s.write(Buffer.from([0x16, 0x03]));
      expect(await reader.peekByte()).to.equal(0x16);
      expect(reader.bufferedLength()).to.equal(2);
      expect(await reader.readByte()).to.equal(0x16);
      expect(reader.bufferedLength()).to.equal(1);
    });

    it('readBytes returns what there was when EOF comes first', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      const pending = reader.readBytes(5);
      s.write(Buffer.from('abc'));
      await tick();
      s.end();
      expect((await pending).toString()).to.equal('abc');
      expect(await reader.peekByte()).to.equal(null);
    });
  });

  describe('ending, errors and close', () => {
    const enders: Array<[string, (s: PassThrough, r: MessageReader) => void, boolean]> = [
      ['the stream ends', (s) => s.end(), false],
      ['the stream is destroyed', (s) => s.destroy(), false],
      ['the stream fails', (s) => s.destroy(new Error('ECONNRESET')), true],
      ['close() is called', (_s, r) => r.close(), false],
    ];
    for (const [name, end, hasError] of enders) {
      it(`a pending read resolves as EOF when ${name}, and no listener is left`, async () => {
        const s = new PassThrough();
        const before = listenerCounts(s);
        const reader = new MessageReader(s);
        expect(listenerCounts(s)).to.not.deep.equal(before);
        const pending = reader.readMessage(1024);
        await tick();
        end(s, reader);
        expect(await pending).to.deep.equal({ kind: 'eof' });
        await tick();
        reader.close();
        expect(listenerCounts(s)).to.deep.equal(before);
        expect(reader.error?.message ?? null).to.equal(hasError ? 'ECONNRESET' : null);
        expect(reader.isEnded).to.equal(true);
      });
    }

    it('a half-read message at close() is "incomplete"', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      const pending = reader.readMessage(1024);
      s.write(Buffer.concat([Buffer.from('p'), int32(10), Buffer.from('ab')]));
      await tick();
      reader.close();
      expect(await pending).to.deep.equal({ kind: 'incomplete' });
    });

    it('refuses a second read while one is pending', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      const first = reader.readMessage(1024);
      await expectReject(reader.readByte(), 'a read is already pending');
      reader.close();
      expect(await first).to.deep.equal({ kind: 'eof' });
    });

    it('attaching to a stream that already ended reads EOF at once', async () => {
      const s = new PassThrough();
      s.end();
      s.resume();
      await new Promise((r) => s.once('end', r));
      const reader = new MessageReader(s);
      expect(await reader.readStartupPacket()).to.deep.equal({ kind: 'eof' });
    });
  });

  describe('reading on demand (backpressure)', () => {
    it('takes nothing from the stream while no read is pending, then only about what a read needs', async () => {
      const s = new PassThrough({ highWaterMark: 16384 });
      const reader = new MessageReader(s);
      const chunk = Buffer.alloc(65536, 0x61);
      let accepted = 0;
      for (let i = 0; i < 16; i++) if (s.write(chunk)) accepted++;
      await tick();
      // The writer is told to wait almost at once, and nothing moved into the reader.
      expect(accepted).to.be.below(2);
      expect(reader.bufferedLength()).to.equal(0);
      const got = await reader.readBytes(10);
      expect(got.length).to.equal(10);
      await tick();
      // One chunk's worth at most beyond the 10 bytes: the stream is paused again.
      expect(reader.bufferedLength()).to.be.at.most(chunk.length);
      expect(s.isPaused()).to.equal(true);
      reader.close();
    });

    it('counts what a backend would not have recv()ed: 8 KiB reads of what had arrived', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      s.write(Buffer.concat([int32(10005), Buffer.alloc(10001, 0x61)]));
      const r = await reader.readStartupPacket();
      expect(r).to.deep.equal({ kind: 'invalid-length', length: 10005 });
      // One recv of 8192 took the length word and more; the rest never left the kernel.
      expect(reader.unreadByBackend()).to.equal(4 + 10001 - 8192);
      reader.close();
    });
  });

  describe('detach and attach', () => {
    it('returns the unconsumed bytes, leaves no listener, and loses nothing written later', async () => {
      const s = new PassThrough();
      const before = listenerCounts(s);
      const reader = new MessageReader(s);
      s.write(Buffer.concat([encodeFrontend({ type: 'SSLRequest' }), Buffer.from('plaintext')]));
      const first = await reader.readStartupPacket();
      expect(first.kind).to.equal('packet');
      const leftover = reader.detach();
      expect(leftover.toString()).to.equal('plaintext');
      expect(reader.bufferedLength()).to.equal(0);
      expect(listenerCounts(s)).to.deep.equal(before);
      // Data that arrives now waits in the stream for the next owner.
      s.write(Buffer.from('later'));
      await tick();
      expect((s.read() as Buffer).toString()).to.equal('later');
    });

    it('can be attached to another stream afterwards (as after a TLS upgrade)', async () => {
      const a = new PassThrough();
      const b = new PassThrough();
      const reader = new MessageReader(a);
      a.write(Buffer.from('xyz'));
      await tick();
      expect(reader.detach().toString()).to.equal('xyz');
      reader.attach(b);
      b.end(Buffer.concat([Buffer.from('X'), int32(4)]));
      expect(await reader.readMessage(10)).to.deep.equal({ kind: 'message', type: 0x58, body: Buffer.alloc(0) });
      expect(await reader.readMessage(10)).to.deep.equal({ kind: 'eof' });
    });

    it('re-attaching to the same paused stream picks up what waited there', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      reader.detach();
      s.write(Buffer.from('Q'));
      await tick();
      reader.attach(s);
      expect(await reader.readByte()).to.equal(0x51);
    });

    it('a read started with no stream waits for attach()', async () => {
      const reader = new MessageReader();
      const pending = reader.readByte();
      const s = new PassThrough();
      s.write(Buffer.from('Z'));
      reader.attach(s);
      expect(await pending).to.equal(0x5a);
    });

    it('refuses to detach while a read is pending, and to attach twice', async () => {
      const s = new PassThrough();
      const reader = new MessageReader(s);
      const pending = reader.readByte();
      expect(() => reader.detach()).to.throw('while a read is pending');
      expect(() => reader.attach(new PassThrough())).to.throw('already attached');
      reader.close();
      expect(await pending).to.equal(null);
    });
  });

  describe('over real sockets', function () {
    this.timeout(10000);

    it('sees an SSLRequest pipelined with a StartupMessage as buffered plaintext', async () => {
      const startup = encodeFrontend({ type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 }, params: [['user', 'u']] });
      const seen = await withServer(async (sock) => {
        const reader = new MessageReader(sock);
        const first = await reader.readStartupPacket();
        const out = { first: first.kind === 'packet' ? parseStartupPacket(first.body).kind : first.kind, buffered: reader.bufferedLength() };
        reader.close();
        return out;
      }, (client) => client.write(Buffer.concat([encodeFrontend({ type: 'SSLRequest' }), startup])));
      expect(seen).to.deep.equal({ first: 'SSLRequest', buffered: startup.length });
    });

    it('hands the socket to tls.TLSSocket after answering S without losing the handshake', async () => {
      const { key, cert } = selfSignedCert();
      const seen = await withServer(async (sock) => {
        const reader = new MessageReader(sock);
        const ssl = await reader.readStartupPacket();
        if (ssl.kind !== 'packet' || parseStartupPacket(ssl.body).kind !== 'SSLRequest') throw new Error('expected SSLRequest');
        sock.write('S');
        const leftover = reader.detach();
        const secure = new tls.TLSSocket(sock, { isServer: true, key, cert });
        secure.on('error', () => {});
        reader.attach(secure);
        const startup = await reader.readStartupPacket();
        const parsed = startup.kind === 'packet' ? parseStartupPacket(startup.body) : null;
        const tlsProtocol = secure.getProtocol();
        reader.close();
        secure.destroy();
        return { leftover: leftover.length, kind: parsed?.kind, params: parsed?.kind === 'StartupMessage' ? parsed.params : null, tlsProtocol };
      }, async (client) => {
        client.write(encodeFrontend({ type: 'SSLRequest' }));
        const answer = await new Promise<Buffer>((r) => client.once('data', r));
        if (answer.toString() !== 'S') throw new Error(`server answered ${answer.toString()}`);
        const secure = tls.connect({ socket: client, rejectUnauthorized: false });
        secure.on('error', () => {});
        await new Promise((r) => secure.once('secureConnect', r));
        secure.write(encodeFrontend({ type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 }, params: [['user', 'tls_user']] }));
      });
      expect(seen).to.deep.equal({ leftover: 0, kind: 'StartupMessage', params: [['user', 'tls_user']], tlsProtocol: 'TLSv1.3' });
    });
  });
});

async function expectReject(p: Promise<unknown>, text: string): Promise<void> {
  let err: unknown;
  try { await p; } catch (e) { err = e; }
  expect(err).to.be.instanceOf(Error);
  expect((err as Error).message).to.contain(text);
}

/** One loopback connection: `serve` runs on the accepted socket, `talk` on the client's. */
async function withServer<T>(serve: (sock: net.Socket) => Promise<T>, talk: (client: net.Socket) => unknown): Promise<T> {
  let result!: Promise<T>;
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    result = serve(sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  try {
    await new Promise((r) => client.once('connect', r));
    await talk(client);
    while (!result) await tick();
    return await result;
  } finally {
    client.destroy();
    await new Promise((r) => server.close(r));
  }
}

function selfSignedCert(): { key: string; cert: string } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  const name = [{ name: 'commonName', value: 'localhost' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { key: forge.pki.privateKeyToPem(keys.privateKey), cert: forge.pki.certificateToPem(cert) };
}
