import { expect } from 'chai';
import { Parser } from 'pg-protocol/dist/parser.js';
import { PgError } from '../../src/errors.js';
import {
  decodeBackend, decodeEncryptionResponse, decodeLegacyErrorResponse, encodeBackend, ERROR_FIELD_ORDER,
  errorFieldsFrom, startupLayoutError, toErrorResponse, toLegacyErrorResponse, toNoticeResponse, WireDecodeError,
  type BackendMessage, type ErrorFields, type FramedBackendMessage,
} from '../../src/wire/codec.js';
import { PG15_CAPTURES, type CaptureName } from './pg15-captures.js';
import { capture, cstrings, int32, onlyFrame, splitFrames } from './helpers.js';

const ALL_FIELDS: ErrorFields = {
  severity: 'ERROR', severityNonLocalized: 'ERROR', code: '23514', message: 'm',
  detail: 'd', hint: 'h', position: '7', internalPosition: '3', internalQuery: 'select 1',
  where: 'w', schema: 'public', table: 't', column: 'c', dataType: 'dt', constraint: 'k',
  file: 'f.c', line: '42', routine: 'fn',
};

/** One of every framed backend message, with edge values where the format has any. */
const BACKEND_CASES: Array<[string, FramedBackendMessage]> = [
  ['AuthenticationOk', { type: 'AuthenticationOk' }],
  ['AuthenticationCleartextPassword', { type: 'AuthenticationCleartextPassword' }],
  ['AuthenticationMD5Password', { type: 'AuthenticationMD5Password', salt: Buffer.from([0x00, 0xff, 0x10, 0x7f]) }],
  ['AuthenticationSASL, one mechanism', { type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] }],
  ['AuthenticationSASL, with -PLUS', { type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] }],
  ['AuthenticationSASLContinue, empty', { type: 'AuthenticationSASLContinue', data: Buffer.alloc(0) }],
  ['AuthenticationSASLContinue, binary', { type: 'AuthenticationSASLContinue', data: Buffer.from([0, 1, 2, 0xff]) }],
  ['AuthenticationSASLFinal', { type: 'AuthenticationSASLFinal', data: Buffer.from('v=abc=') }],
  ['ErrorResponse, required fields only', { type: 'ErrorResponse', fields: { severity: 'FATAL', code: '28000', message: 'no' } }],
  ['ErrorResponse, all fields', { type: 'ErrorResponse', fields: ALL_FIELDS }],
  ['NoticeResponse', { type: 'NoticeResponse', fields: { severity: 'NOTICE', severityNonLocalized: 'NOTICE', code: '00000', message: 'é ünïcode' } }],
  ['ParameterStatus', { type: 'ParameterStatus', name: 'application_name', value: '' }],
  ['BackendKeyData, 4-byte key', { type: 'BackendKeyData', pid: 4242, key: Buffer.from([1, 2, 3, 4]) }],
  ['BackendKeyData, 32-byte key (PG18, 3.2)', { type: 'BackendKeyData', pid: 7, key: Buffer.alloc(32, 0xab) }],
  ['ReadyForQuery I', { type: 'ReadyForQuery', status: 'I' }],
  ['ReadyForQuery T', { type: 'ReadyForQuery', status: 'T' }],
  ['ReadyForQuery E', { type: 'ReadyForQuery', status: 'E' }],
  ['RowDescription', {
    type: 'RowDescription', fields: [
      { name: 'a', tableOid: 0, columnAttr: 0, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
      { name: 'big', tableOid: 0xfffffff0, columnAttr: 3, typeOid: 1043, typeSize: -1, typeModifier: 9, format: 1 },
    ],
  }],
  ['RowDescription, no columns', { type: 'RowDescription', fields: [] }],
  ['DataRow', { type: 'DataRow', values: [Buffer.from('1'), null, Buffer.alloc(0)] }],
  ['CommandComplete', { type: 'CommandComplete', tag: 'SELECT 1' }],
  ['EmptyQueryResponse', { type: 'EmptyQueryResponse' }],
  ['NegotiateProtocolVersion, options', { type: 'NegotiateProtocolVersion', newestMinorVersion: 0, unrecognizedOptions: ['_pq_.a', '_pq_.b'] }],
  ['NegotiateProtocolVersion, minor only', { type: 'NegotiateProtocolVersion', newestMinorVersion: 2, unrecognizedOptions: [] }],
];

describe('wire codec: backend messages', () => {
  describe('round trip through encodeBackend/decodeBackend', () => {
    for (const [name, msg] of BACKEND_CASES) {
      it(name, () => {
        const bytes = encodeBackend(msg);
        const { type, body } = onlyFrame(bytes);
        expect(bytes.readInt32BE(1)).to.equal(bytes.length - 1);
        expect(decodeBackend(type, body)).to.deep.equal(msg);
      });
    }
  });

  describe('decoded by node-postgres (pg-protocol Parser)', () => {
    // What pg-protocol must report for our encoding; NegotiateProtocolVersion is not in its repertoire.
    const expectations: Array<[FramedBackendMessage, Record<string, unknown>]> = [
      [{ type: 'AuthenticationOk' }, { name: 'authenticationOk' }],
      [{ type: 'AuthenticationCleartextPassword' }, { name: 'authenticationCleartextPassword' }],
      [{ type: 'AuthenticationMD5Password', salt: Buffer.from([9, 8, 7, 6]) }, { name: 'authenticationMD5Password', salt: Buffer.from([9, 8, 7, 6]) }],
      [{ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] }, { name: 'authenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] }],
      [{ type: 'AuthenticationSASLContinue', data: Buffer.from('r=abc,s=c2FsdA==,i=4096') }, { name: 'authenticationSASLContinue', data: 'r=abc,s=c2FsdA==,i=4096' }],
      [{ type: 'AuthenticationSASLFinal', data: Buffer.from('v=c2ln') }, { name: 'authenticationSASLFinal', data: 'v=c2ln' }],
      [{ type: 'ErrorResponse', fields: ALL_FIELDS }, {
        name: 'error', message: 'm', severity: 'ERROR', code: '23514', detail: 'd', hint: 'h', position: '7',
        internalPosition: '3', internalQuery: 'select 1', where: 'w', schema: 'public', table: 't', column: 'c',
        dataType: 'dt', constraint: 'k', file: 'f.c', line: '42', routine: 'fn',
      }],
      [{ type: 'NoticeResponse', fields: { severity: 'WARNING', severityNonLocalized: 'WARNING', code: '01000', message: 'careful' } }, { name: 'notice', message: 'careful', severity: 'WARNING', code: '01000' }],
      [{ type: 'ParameterStatus', name: 'TimeZone', value: 'Etc/UTC' }, { name: 'parameterStatus', parameterName: 'TimeZone', parameterValue: 'Etc/UTC' }],
      [{ type: 'BackendKeyData', pid: 6789, key: int32(-123456) }, { name: 'backendKeyData', processID: 6789, secretKey: -123456 }],
      [{ type: 'ReadyForQuery', status: 'T' }, { name: 'readyForQuery', status: 'T' }],
      [{ type: 'CommandComplete', tag: 'SELECT 1' }, { name: 'commandComplete', text: 'SELECT 1' }],
      [{ type: 'EmptyQueryResponse' }, { name: 'emptyQuery' }],
      [{ type: 'DataRow', values: [Buffer.from('1'), null, Buffer.from('x')] }, { name: 'dataRow', fields: ['1', null, 'x'] }],
    ];

    function parseAll(bytes: Buffer, chunk = bytes.length): Array<Record<string, unknown>> {
      const parser = new Parser();
      const out: Array<Record<string, unknown>> = [];
      for (let at = 0; at < bytes.length; at += chunk) {
        parser.parse(bytes.subarray(at, at + chunk), (m) => out.push(m as unknown as Record<string, unknown>));
      }
      return out;
    }

    for (const [msg, want] of expectations) {
      it(`${msg.type} → ${String(want.name)}`, () => {
        const [got, ...rest] = parseAll(encodeBackend(msg));
        expect(rest).to.have.length(0);
        for (const [k, v] of Object.entries(want)) expect(got![k], k).to.deep.equal(v);
      });
    }

    it('RowDescription → rowDescription with every column attribute', () => {
      const [got] = parseAll(encodeBackend(BACKEND_CASES.find(([n]) => n === 'RowDescription')![1]));
      const fields = (got as { fields: Array<Record<string, unknown>> }).fields;
      expect(fields.map((f) => ({ ...f }))).to.deep.equal([
        { name: 'a', tableID: 0, columnID: 0, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' },
        { name: 'big', tableID: 0xfffffff0, columnID: 3, dataTypeID: 1043, dataTypeSize: -1, dataTypeModifier: 9, format: 'binary' },
      ]);
    });

    it('frames the whole set identically whether fed at once or one byte at a time', () => {
      const stream = Buffer.concat(expectations.map(([m]) => encodeBackend(m)));
      const names = expectations.map(([, w]) => w.name);
      expect(parseAll(stream).map((m) => m.name)).to.deep.equal(names);
      expect(parseAll(stream, 1).map((m) => m.name)).to.deep.equal(names);
    });
  });

  describe('bytes captured from PostgreSQL 15.20', () => {
    const framed = (Object.keys(PG15_CAPTURES) as CaptureName[]).filter((n) => !n.startsWith('Legacy_'));
    for (const name of framed) {
      it(`${name}: decodes and re-encodes to the same bytes`, () => {
        const bytes = capture(name);
        const { type, body } = onlyFrame(bytes);
        const msg = decodeBackend(type, body);
        expect(encodeBackend(msg).equals(bytes), encodeBackend(msg).toString('hex')).to.equal(true);
      });
    }

    const decoded: Array<[CaptureName, FramedBackendMessage]> = [
      ['AuthenticationSASL', { type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] }],
      ['AuthenticationSASLContinue_empty', { type: 'AuthenticationSASLContinue', data: Buffer.alloc(0) }],
      ['NegotiateProtocolVersion_options', { type: 'NegotiateProtocolVersion', newestMinorVersion: 0, unrecognizedOptions: ['_pq_.foo', '_pq_.bar'] }],
      ['NegotiateProtocolVersion_minor', { type: 'NegotiateProtocolVersion', newestMinorVersion: 0, unrecognizedOptions: [] }],
      ['ReadyForQuery_failed', { type: 'ReadyForQuery', status: 'E' }],
      ['Error_where_internal', {
        type: 'ErrorResponse', fields: {
          severity: 'ERROR', severityNonLocalized: 'ERROR', code: '42703', message: 'column "nosuchcol" does not exist',
          where: 'PL/pgSQL function inline_code_block line 1 at EXECUTE', internalPosition: '8', internalQuery: 'select nosuchcol',
          file: 'parse_relation.c', line: '3665', routine: 'errorMissingColumn',
        },
      }],
    ];
    for (const [name, want] of decoded) {
      it(`${name}: decodes to the expected value`, () => {
        const { type, body } = onlyFrame(capture(name));
        expect(decodeBackend(type, body)).to.deep.equal(want);
      });
    }

    it('a whole trust login (R, 13 × S, K, Z) decodes message by message', () => {
      const login = Buffer.concat([
        capture('AuthenticationOk'), capture('ParameterStatus_application_name_empty'),
        capture('ParameterStatus_server_version'), capture('BackendKeyData'), capture('ReadyForQuery_idle'),
      ]);
      const types = splitFrames(login).map(({ type, body }) => decodeBackend(type, body).type);
      expect(types).to.deep.equal(['AuthenticationOk', 'ParameterStatus', 'ParameterStatus', 'BackendKeyData', 'ReadyForQuery']);
      const { type, body } = onlyFrame(capture('BackendKeyData'));
      const kd = decodeBackend(type, body);
      expect(kd.type === 'BackendKeyData' && kd.key.length).to.equal(4);
    });
  });

  describe('ErrorResponse field order', () => {
    it('follows send_message_to_frontend: S V C M D H W s t c d n P p q F L R', () => {
      const reversed = Object.fromEntries(Object.entries(ALL_FIELDS).reverse()) as unknown as ErrorFields;
      const { body } = onlyFrame(encodeBackend({ type: 'ErrorResponse', fields: reversed }));
      const codes: string[] = [];
      for (let at = 0; body[at] !== 0;) {
        codes.push(String.fromCharCode(body[at]!));
        at = body.indexOf(0, at + 1) + 1;
      }
      expect(codes.join('')).to.equal('SVCMDHWstcdnPpqFLR');
      expect(ERROR_FIELD_ORDER.map(([c]) => c).join('')).to.equal('SVCMDHWstcdnPpqFLR');
    });

    it('writes only the fields present, then the terminating NUL', () => {
      const { body } = onlyFrame(encodeBackend({ type: 'ErrorResponse', fields: { severity: 'FATAL', code: '28000', message: 'x', routine: 'r' } }));
      expect(body.equals(Buffer.concat([cstrings('SFATAL', 'C28000', 'Mx', 'Rr'), Buffer.from([0])]))).to.equal(true);
    });

    it('ignores field types it does not know when decoding, as the protocol asks', () => {
      const body = Buffer.concat([cstrings('SLOG', 'C00000', 'Mm', 'Zfuture'), Buffer.from([0])]);
      expect(decodeBackend(0x4e, body)).to.deep.equal({ type: 'NoticeResponse', fields: { severity: 'LOG', code: '00000', message: 'm' } });
    });
  });

  describe('from PgError', () => {
    it('maps context to W, line to text, severity to S and V, and drops errdetail_log', () => {
      const err = new PgError({
        severity: 'FATAL', sqlstate: '28P01', message: 'password authentication failed for user "u"',
        detail: 'sent', detailLog: 'Connection matched pg_hba.conf line 1', hint: 'h', context: 'ctx',
        file: 'auth.c', line: 334, routine: 'auth_failed',
      });
      expect(errorFieldsFrom(err)).to.deep.equal({
        severity: 'FATAL', severityNonLocalized: 'FATAL', code: '28P01', message: 'password authentication failed for user "u"',
        detail: 'sent', hint: 'h', where: 'ctx', file: 'auth.c', line: '334', routine: 'auth_failed',
      });
      expect(toNoticeResponse(err).type).to.equal('NoticeResponse');
    });

    it('the startup layout error encodes to the exact bytes PostgreSQL 15.20 sent', () => {
      expect(encodeBackend(toErrorResponse(startupLayoutError())).equals(capture('Error_layout'))).to.equal(true);
    });

    it('an auth failure with a log-only detail encodes to the exact bytes PostgreSQL 15.20 sent', () => {
      const err = new PgError({
        severity: 'FATAL', sqlstate: '28P01', message: 'password authentication failed for user "pwuser"',
        detailLog: 'Password does not match for user "pwuser".', file: 'auth.c', line: 334, routine: 'auth_failed',
      });
      expect(encodeBackend(toErrorResponse(err)).equals(capture('Error_auth_failed'))).to.equal(true);
    });
  });

  describe('unframed answers', () => {
    for (const answer of ['S', 'N', 'G'] as const) {
      it(`EncryptionResponse '${answer}' is that one byte`, () => {
        const bytes = encodeBackend({ type: 'EncryptionResponse', answer });
        expect(bytes.equals(Buffer.from(answer))).to.equal(true);
        expect(decodeEncryptionResponse(bytes[0]!)).to.deep.equal({ type: 'EncryptionResponse', answer });
      });
    }

    it('rejects any other byte as an encryption answer', () => {
      expect(() => decodeEncryptionResponse(0x45)).to.throw(WireDecodeError);
    });

    it('the legacy error matches what PostgreSQL 15.20 sends a 2.0 client, byte for byte', () => {
      const msg = toLegacyErrorResponse({ severity: 'FATAL', message: 'unsupported frontend protocol 2.0: server supports 3.0 to 3.0' });
      const bytes = encodeBackend(msg);
      expect(bytes.equals(capture('Legacy_unsupported_2_0'))).to.equal(true);
      expect(bytes.toString('latin1')).to.equal('EFATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n\0');
      expect(decodeLegacyErrorResponse(bytes)).to.deep.equal(msg);
    });
  });

  describe('guards', () => {
    const bad: Array<[string, BackendMessage, new (...a: never[]) => Error]> = [
      ['a NUL inside a string', { type: 'ParameterStatus', name: 'a\0b', value: 'x' }, TypeError],
      ['an MD5 salt that is not 4 bytes', { type: 'AuthenticationMD5Password', salt: Buffer.alloc(3) }, RangeError],
    ];
    for (const [name, msg, cls] of bad) {
      it(`encodeBackend refuses ${name}`, () => {
        expect(() => encodeBackend(msg)).to.throw(cls);
      });
    }

    const malformed: Array<[string, number, Buffer]> = [
      ['unknown type byte', 0x21, Buffer.alloc(0)],
      ['unknown authentication code', 0x52, int32(99)],
      ['truncated MD5 salt', 0x52, Buffer.concat([int32(5), Buffer.alloc(3)])],
      ['trailing bytes after AuthenticationOk', 0x52, Buffer.concat([int32(0), Buffer.alloc(1)])],
      ['SASL list without its final NUL', 0x52, Buffer.concat([int32(10), cstrings('SCRAM-SHA-256')])],
      ['ReadyForQuery with status X', 0x5a, Buffer.from('X')],
      ['ErrorResponse without M', 0x45, Buffer.concat([cstrings('SFATAL', 'C08P01'), Buffer.from([0])])],
      ['ErrorResponse without its terminator', 0x45, cstrings('SFATAL', 'C08P01', 'Mx')],
      ['DataRow value longer than the body', 0x44, Buffer.concat([Buffer.from([0, 1]), int32(10), Buffer.from('abc')])],
      ['ParameterStatus with an unterminated value', 0x53, Buffer.from('a\0b')],
      ['NegotiateProtocolVersion for major 4', 0x76, Buffer.concat([int32(4 << 16), int32(0)])],
      ['NegotiateProtocolVersion with a missing name', 0x76, Buffer.concat([int32(196608), int32(1)])],
      ['EmptyQueryResponse with a body', 0x49, Buffer.from([0])],
    ];
    for (const [name, type, body] of malformed) {
      it(`decodeBackend rejects ${name}`, () => {
        expect(() => decodeBackend(type, body)).to.throw(WireDecodeError);
      });
    }
  });
});
