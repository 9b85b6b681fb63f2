import { expect } from 'chai';
import { serialize } from 'pg-protocol';
import { PgError } from '../../src/errors.js';
import {
  decodeFrontend, encodeBackend, encodeFrontend, MessageBuffer, parseStartupPacket, parsePasswordPacket, parseQuery,
  parseSASLInitialResponse, parseSASLResponse, toErrorResponse, type FrontendMessage, type PasswordMessageKind,
} from '../../src/wire/codec.js';
import type { CaptureName } from './pg15-captures.js';
import { capture, int32, onlyFrame } from './helpers.js';

const MECH = Buffer.from('SCRAM-SHA-256\0');

interface Expected {
  severity?: string;
  sqlstate: string;
  message: string;
  file: string;
  line: number;
  routine: string;
}

function expectPgError(fn: () => unknown, want: Expected): PgError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'should have thrown').to.be.instanceOf(PgError);
  const err = caught as PgError;
  expect({
    severity: err.severity, sqlstate: err.sqlstate, message: err.message, file: err.file, line: err.line, routine: err.routine,
  }).to.deep.equal({ severity: 'FATAL', ...want });
  return err;
}

const INSUFFICIENT_COPY: Expected = { sqlstate: '08P01', message: 'insufficient data left in message', file: 'pqformat.c', line: 533, routine: 'pq_copymsgbytes' };
const INSUFFICIENT_GET: Expected = { sqlstate: '08P01', message: 'insufficient data left in message', file: 'pqformat.c', line: 515, routine: 'pq_getmsgbytes' };
const INVALID_RAW_STRING: Expected = { sqlstate: '08P01', message: 'invalid string in message', file: 'pqformat.c', line: 624, routine: 'pq_getmsgrawstring' };
const INVALID_FORMAT: Expected = { sqlstate: '08P01', message: 'invalid message format', file: 'pqformat.c', line: 640, routine: 'pq_getmsgend' };

describe('wire codec: frontend message bodies, read as the server reads them', () => {
  describe('SASLInitialResponse', () => {
    // [case, body, expected error, capture of what PostgreSQL 15.20 sent for the same body]
    const failures: Array<[string, Buffer, Expected, CaptureName | null]> = [
      ['mechanism without NUL', Buffer.from('SCRAM-SHA-256'), INVALID_RAW_STRING, 'Error_invalid_string'],
      ['empty body', Buffer.alloc(0), INVALID_RAW_STRING, null],
      ['length word cut short', Buffer.concat([MECH, Buffer.from([0, 0])]), INSUFFICIENT_COPY, 'Error_insufficient_copymsgbytes'],
      ['no length word at all', MECH, INSUFFICIENT_COPY, null],
      ['data shorter than its length', Buffer.concat([MECH, int32(10), Buffer.from('abc')]), INSUFFICIENT_GET, 'Error_insufficient_getmsgbytes'],
      ['negative length other than -1', Buffer.concat([MECH, int32(-2)]), INSUFFICIENT_GET, null],
      ['bytes after a -1 length', Buffer.concat([MECH, int32(-1), Buffer.from('z')]), INVALID_FORMAT, 'Error_invalid_message_format'],
      ['bytes after the data', Buffer.concat([MECH, int32(1), Buffer.from('ab')]), INVALID_FORMAT, null],
    ];
    for (const [name, body, want, cap] of failures) {
      it(`${name}: ${want.message} (${want.routine})${cap ? ', same bytes as PostgreSQL' : ''}`, () => {
        const err = expectPgError(() => parseSASLInitialResponse(body), want);
        if (cap) expect(encodeBackend(toErrorResponse(err)).equals(capture(cap))).to.equal(true);
      });
    }

    const successes: Array<[string, Buffer, { mechanism: string; data: Buffer | null }]> = [
      ['-1: no initial response', Buffer.concat([MECH, int32(-1)]), { mechanism: 'SCRAM-SHA-256', data: null }],
      ['zero-length data', Buffer.concat([MECH, int32(0)]), { mechanism: 'SCRAM-SHA-256', data: Buffer.alloc(0) }],
      ['client-first-message', Buffer.concat([MECH, int32(14), Buffer.from('n,,n=,r=nonce1')]), { mechanism: 'SCRAM-SHA-256', data: Buffer.from('n,,n=,r=nonce1') }],
      ['empty mechanism name', Buffer.concat([Buffer.from([0]), int32(-1)]), { mechanism: '', data: null }],
    ];
    for (const [name, body, want] of successes) {
      it(`reads ${name}`, () => {
        expect(parseSASLInitialResponse(body)).to.deep.equal(want);
      });
    }

    it('vets the mechanism before reading the length, as CheckSASLAuth does (observed on 15.20)', () => {
      const seen: string[] = [];
      const reject = (m: string) => {
        seen.push(m);
        throw new PgError({ severity: 'FATAL', sqlstate: '08P01', message: 'client selected an invalid SASL authentication mechanism' });
      };
      // 'BOGUS' followed by a truncated length: PostgreSQL reports the mechanism, not the truncation.
      expect(() => parseSASLInitialResponse(Buffer.from('BOGUS\0\0'), reject)).to.throw('client selected an invalid SASL authentication mechanism');
      expect(seen).to.deep.equal(['BOGUS']);
    });

    it('does not call the mechanism check when the name itself is malformed', () => {
      let called = false;
      expectPgError(() => parseSASLInitialResponse(Buffer.from('BOGUS'), () => { called = true; }), INVALID_RAW_STRING);
      expect(called).to.equal(false);
    });

    it('uses the given severity outside authentication', () => {
      const err = (() => { try { parseSASLInitialResponse(Buffer.alloc(0), undefined, 'ERROR'); } catch (e) { return e as PgError; } return null; })();
      expect(err?.severity).to.equal('ERROR');
    });
  });

  describe('SASLResponse', () => {
    for (const body of [Buffer.alloc(0), Buffer.from('c=biws,r=abc,p=cHJvb2Y='), Buffer.from([0, 0xff, 0])]) {
      it(`takes the whole body (${body.length} bytes) as data`, () => {
        expect(parseSASLResponse(body).equals(body)).to.equal(true);
      });
    }
  });

  describe('password packet (recv_password_packet)', () => {
    const sizeError: Expected = { sqlstate: '08P01', message: 'invalid password packet size', file: 'auth.c', line: 739, routine: 'recv_password_packet' };
    const emptyError: Expected = { sqlstate: '28P01', message: 'empty password returned by client', file: 'auth.c', line: 757, routine: 'recv_password_packet' };
    const failures: Array<[string, Buffer, Expected, CaptureName | null]> = [
      ['a second string after the password', Buffer.from('secret\0extra\0'), sizeError, 'Error_password_size'],
      ['no NUL at all', Buffer.from('secret'), sizeError, null],
      ['an empty body', Buffer.alloc(0), sizeError, null],
      ['a lone NUL (empty password)', Buffer.from([0]), emptyError, 'Error_password_empty'],
    ];
    for (const [name, body, want, cap] of failures) {
      it(`refuses ${name}: ${want.message}`, () => {
        const err = expectPgError(() => parsePasswordPacket(body), want);
        if (cap) expect(encodeBackend(toErrorResponse(err)).equals(capture(cap))).to.equal(true);
      });
    }

    it('returns the password bytes unconverted', () => {
      const raw = Buffer.from([0x70, 0xe9, 0xff, 0x41]);
      expect(parsePasswordPacket(Buffer.concat([raw, Buffer.from([0])])).equals(raw)).to.equal(true);
      expect(parsePasswordPacket(Buffer.from('md5abc\0')).toString()).to.equal('md5abc');
    });
  });

  describe('Query', () => {
    it('reads the string', () => {
      expect(parseQuery(Buffer.from('select 1\0'))).to.equal('select 1');
    });
    it('no NUL: ERROR invalid string in message (pq_getmsgstring, observed 15.20 L595)', () => {
      expectPgError(() => parseQuery(Buffer.from('select 1'), 'FATAL'), { sqlstate: '08P01', message: 'invalid string in message', file: 'pqformat.c', line: 595, routine: 'pq_getmsgstring' });
      let err: PgError | null = null;
      try { parseQuery(Buffer.from('select 1')); } catch (e) { err = e as PgError; }
      expect(err?.severity).to.equal('ERROR');
    });
    it('bytes after the string: invalid message format', () => {
      expectPgError(() => parseQuery(Buffer.from('select 1\0x'), 'FATAL'), INVALID_FORMAT);
    });
  });

  describe('MessageBuffer', () => {
    it('reads integers as the int32/int16 the server stores them in', () => {
      const b = new MessageBuffer(Buffer.concat([int32(-1), Buffer.from([0xff, 0xfe, 0x7f])]));
      expect(b.getInt32()).to.equal(-1);
      expect(b.getInt16()).to.equal(-2);
      expect(b.remaining).to.equal(1);
      expect(b.getByte()).to.equal(0x7f);
      b.getEnd();
      expectPgError(() => b.getByte(), INSUFFICIENT_COPY);
    });
    it('getBytes(0) at the end is fine; getBytes(1) is not', () => {
      const b = new MessageBuffer(Buffer.alloc(0));
      expect(b.getBytes(0).length).to.equal(0);
      expectPgError(() => b.getBytes(1), INSUFFICIENT_GET);
    });
  });

  describe('round trip through encodeFrontend and the server-side readers', () => {
    const cases: Array<[FrontendMessage, PasswordMessageKind?]> = [
      [{ type: 'PasswordMessage', password: 'pässwörd' }],
      [{ type: 'PasswordMessage', password: 'md5' + 'a'.repeat(32) }],
      [{ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: Buffer.from('n,,n=,r=x') }, 'SASLInitialResponse'],
      [{ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256-PLUS', data: null }, 'SASLInitialResponse'],
      [{ type: 'SASLResponse', data: Buffer.from('c=biws,r=x,p=y') }, 'SASLResponse'],
      [{ type: 'Query', sql: "select 'ü'" }],
      [{ type: 'Terminate' }],
    ];
    for (const [msg, kind] of cases) {
      it(`${msg.type}${kind === 'SASLInitialResponse' && msg.type === 'SASLInitialResponse' && msg.data === null ? ' (no data)' : ''}`, () => {
        const { type, body } = onlyFrame(encodeFrontend(msg));
        expect(decodeFrontend(type, body, kind)).to.deep.equal(msg);
      });
    }

    const packets: FrontendMessage[] = [
      { type: 'SSLRequest' },
      { type: 'GSSENCRequest' },
      { type: 'CancelRequest', pid: 1234, key: Buffer.from([9, 8, 7, 6]) },
      { type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 }, params: [['user', 'alice'], ['database', 'db'], ['application_name', 'probeéapp']] },
      { type: 'StartupMessage', protocolVersion: { major: 3, minor: 2 }, params: [] },
    ];
    for (const msg of packets) {
      it(`${msg.type} through parseStartupPacket`, () => {
        const bytes = encodeFrontend(msg);
        expect(bytes.readInt32BE(0)).to.equal(bytes.length);
        const parsed = parseStartupPacket(bytes.subarray(4));
        expect(parsed.kind).to.equal(msg.type);
        if (msg.type === 'CancelRequest' && parsed.kind === 'CancelRequest') {
          expect(bytes.length).to.equal(16);
          expect({ pid: parsed.pid, key: parsed.key }).to.deep.equal({ pid: msg.pid, key: msg.key });
        }
        if (msg.type === 'StartupMessage' && parsed.kind === 'StartupMessage') {
          expect({ v: parsed.protocolVersion, p: parsed.params }).to.deep.equal({ v: msg.protocolVersion, p: msg.params });
        }
      });
    }
  });

  describe('node-postgres (pg-protocol serialize) → our readers', () => {
    it('password: same bytes as ours, read back by recv_password_packet rules', () => {
      const theirs = serialize.password('hunter2');
      expect(theirs.equals(encodeFrontend({ type: 'PasswordMessage', password: 'hunter2' }))).to.equal(true);
      const { type, body } = onlyFrame(theirs);
      expect(String.fromCharCode(type)).to.equal('p');
      expect(parsePasswordPacket(body).toString()).to.equal('hunter2');
    });

    it('SASLInitialResponse: same bytes, same mechanism and data', () => {
      const theirs = serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=*,r=abcdef');
      expect(theirs.equals(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: Buffer.from('n,,n=*,r=abcdef') }))).to.equal(true);
      const { body } = onlyFrame(theirs);
      expect(parseSASLInitialResponse(body)).to.deep.equal({ mechanism: 'SCRAM-SHA-256', data: Buffer.from('n,,n=*,r=abcdef') });
    });

    it('SASLResponse (client-final-message): same bytes, whole body as data', () => {
      const final = 'c=biws,r=abcdef123,p=cHJvb2Y=';
      const theirs = serialize.sendSCRAMClientFinalMessage(final);
      expect(theirs.equals(encodeFrontend({ type: 'SASLResponse', data: Buffer.from(final) }))).to.equal(true);
      expect(parseSASLResponse(onlyFrame(theirs).body).toString()).to.equal(final);
    });

    it('Query and Terminate', () => {
      const q = serialize.query('select 1');
      expect(q.equals(encodeFrontend({ type: 'Query', sql: 'select 1' }))).to.equal(true);
      expect(parseQuery(onlyFrame(q).body)).to.equal('select 1');
      const x = serialize.end();
      expect(x.equals(encodeFrontend({ type: 'Terminate' }))).to.equal(true);
      const { type, body } = onlyFrame(x);
      expect(decodeFrontend(type, body)).to.deep.equal({ type: 'Terminate' });
    });

    it('SSLRequest', () => {
      const theirs = serialize.requestSsl();
      expect(theirs.equals(encodeFrontend({ type: 'SSLRequest' }))).to.equal(true);
      expect(parseStartupPacket(theirs.subarray(4)).kind).to.equal('SSLRequest');
    });

    it('CancelRequest: a 12-byte body with PID and key', () => {
      const theirs = serialize.cancel(31337, -559038737);
      expect(theirs.equals(encodeFrontend({ type: 'CancelRequest', pid: 31337, key: int32(-559038737) }))).to.equal(true);
      const parsed = parseStartupPacket(theirs.subarray(4));
      expect(parsed).to.deep.include({ kind: 'CancelRequest', pid: 31337 });
      expect(parsed.kind === 'CancelRequest' && parsed.key.equals(int32(-559038737))).to.equal(true);
      expect(theirs.length - 4).to.equal(12);
    });

    it('StartupMessage: params in order, with the client_encoding node-postgres appends', () => {
      const theirs = serialize.startup({ user: 'alice', database: 'shop', application_name: 'app' });
      const ours = encodeFrontend({
        type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 },
        params: [['user', 'alice'], ['database', 'shop'], ['application_name', 'app'], ['client_encoding', 'UTF8']],
      });
      expect(theirs.equals(ours)).to.equal(true);
      const parsed = parseStartupPacket(theirs.subarray(4));
      expect(parsed.kind === 'StartupMessage' && parsed.params).to.deep.equal([
        ['user', 'alice'], ['database', 'shop'], ['application_name', 'app'], ['client_encoding', 'UTF8'],
      ]);
    });
  });
});
