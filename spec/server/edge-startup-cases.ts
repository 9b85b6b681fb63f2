/**
 * Edge cases of ProcessStartupPacket: framing and size limits, layout,
 * protocol versions, special parameters, SSLRequest/GSSENCRequest ordering
 * (CVE-2021-23214 included), CancelRequest, and the startup-phase
 * authentication_timeout. Expected values are what PostgreSQL 15.20 does
 * (edge-differential.spec.ts re-checks them against a real server).
 */
import {
  byte, closed, connect, cstrings, gssEncRequest, hangUp, hangUpTcp, raw, pause, read, reset, send, sslRequest, stall, startup, terminate, tlsHandshake, untyped,
} from '../support/wire-script.js';
import { RECEIVED, TLS_SUFFIX, authorized, commError, fatal, fatalLog, logLine, sessionStart, type EdgeCase } from './edge-env.js';

const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const V3 = int32(196608);
const TRUST = { user: 'test', database: 'trustdb' };
const CANCEL_CODE = 80877102;

/** A StartupMessage whose length word is exactly `total`, padded with an unknown GUC. */
function startupOfLength(total: number): Buffer {
  const fixed = startup({ ...TRUST, x_pad: '' }).length;
  const packet = startup({ ...TRUST, x_pad: 'x'.repeat(total - fixed) });
  if (packet.length !== total || packet.readInt32BE(0) !== total) throw new Error('padding arithmetic is off');
  return packet;
}

/** Let the server take in what was sent before the next step (a reset discards what is still in flight). */
const pauseStep = () => pause(50);
const session = (user = 'test', opts: Parameters<typeof sessionStart>[1] = {}) => ['AuthenticationOk', ...sessionStart(user, opts)];
/** Log in over trust, wait for ReadyForQuery, say goodbye. */
const trustSession = (params: Record<string, string> = TRUST, c?: number) => [send(startup(params), c), read('ReadyForQuery', c), send(terminate(), c), closed(c)];

const LAYOUT = fatal('08P01', 'invalid startup packet layout: expected terminator as last byte', 'postmaster.c:2332:ProcessStartupPacket');
const NO_USER = fatal('28000', 'no PostgreSQL user name specified in startup packet', 'postmaster.c:2349:ProcessStartupPacket');
const UNENCRYPTED_SSL = fatal('08P01', 'received unencrypted data after SSL request', 'postmaster.c:2134:ProcessStartupPacket', {
  detail: 'This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.',
});
const unsupported = (v: string) => fatal('0A000', `unsupported frontend protocol ${v}: server supports 3.0 to 3.0`, 'postmaster.c:2220:ProcessStartupPacket');
const UNKNOWN_GUC = fatal('42704', 'unrecognized configuration parameter "x_pad"', 'guc.c:5766:find_option');
/** What a browser pointed at the port sends. */
const HTTP = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: probe\r\nAccept: */*\r\n\r\n', 'latin1');
const RECV_RESET = '08006 LOG:  could not receive data from client: Connection reset by peer';

export const STARTUP_CASES: EdgeCase[] = [
  // ---- framing and size limits (all COMMERROR: logged, never sent) ----
  { name: 'no bytes at all, then close (a port probe): nothing logged', script: [hangUp()], received: ['closed'], log: [RECEIVED] },
  {
    name: 'two bytes of the length word, then close: incomplete startup packet',
    script: [send(Buffer.from([0, 0])), hangUp()],
    received: ['closed'], log: [RECEIVED, commError('incomplete startup packet')],
  },
  {
    name: 'EOF inside the body: incomplete startup packet',
    script: [send(startup(TRUST).subarray(0, 12)), hangUp()],
    received: ['closed'], log: [RECEIVED, commError('incomplete startup packet')],
  },
  {
    name: 'length word 7: invalid length, closed by the server at once',
    script: [send(int32(7)), closed()],
    received: ['closed'], log: [RECEIVED, commError('invalid length of startup packet')],
  },
  {
    name: 'length word 10005 (10001-byte body): invalid length',
    script: [send(int32(10005)), closed()],
    received: ['closed'], log: [RECEIVED, commError('invalid length of startup packet')],
  },
  {
    name: 'length word 10004 (10000-byte body) is accepted; its unknown GUC fails after AuthenticationOk (hook saw OK)',
    script: [send(startupOfLength(10004)), closed()],
    received: ['AuthenticationOk', UNKNOWN_GUC, 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb'), ...fatalLog(UNKNOWN_GUC)],
    hooks: ['OK ssl=off user=test'],
  },

  // ---- layout and special parameters ----
  {
    name: 'version only, no terminator (length 8): layout error',
    script: [send(untyped(V3)), closed()],
    received: [LAYOUT, 'closed'], log: [RECEIVED, ...fatalLog(LAYOUT)],
  },
  {
    name: 'parameters without the final terminator: layout error',
    script: [send(untyped(Buffer.concat([V3, cstrings('user', 'test', 'database', 'trustdb')]))), closed()],
    received: [LAYOUT, 'closed'], log: [RECEIVED, ...fatalLog(LAYOUT)],
  },
  {
    name: 'bytes after the terminator: layout error',
    script: [send(untyped(Buffer.concat([V3, cstrings('user', 'test'), Buffer.from([0]), Buffer.from('extra')]))), closed()],
    received: [LAYOUT, 'closed'], log: [RECEIVED, ...fatalLog(LAYOUT)],
  },
  {
    name: 'no user parameter: 28000',
    script: [send(startup({ database: 'trustdb' })), closed()],
    received: [NO_USER, 'closed'], log: [RECEIVED, ...fatalLog(NO_USER)],
  },
  {
    name: 'empty user parameter: 28000',
    script: [send(startup({ user: '', database: 'trustdb' })), closed()],
    received: [NO_USER, 'closed'], log: [RECEIVED, ...fatalLog(NO_USER)],
  },
  (() => {
    const e = fatal('22023', 'invalid value for parameter "replication": "maybe"', 'postmaster.c:2284:ProcessStartupPacket', {
      hint: 'Valid values are: "false", 0, "true", 1, "database".',
    });
    return {
      name: 'replication=maybe: 22023 with HINT',
      script: [send(startup({ ...TRUST, replication: 'maybe' })), closed()],
      received: [e, 'closed'], log: [RECEIVED, ...fatalLog(e)],
    };
  })(),
  {
    name: 'an unknown GUC in the startup packet: 42704 after AuthenticationOk, hook saw OK',
    script: [send(startup({ ...TRUST, x_pad: '1' })), closed()],
    received: ['AuthenticationOk', UNKNOWN_GUC, 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb'), ...fatalLog(UNKNOWN_GUC)],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'options=-c with an unknown GUC: 42704 after AuthenticationOk, like a GUC of its own',
    script: [send(startup({ ...TRUST, options: '-c x_pad=1' })), closed()],
    received: ['AuthenticationOk', UNKNOWN_GUC, 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb'), ...fatalLog(UNKNOWN_GUC)],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'options=-c with a known GUC: the session starts',
    script: trustSession({ ...TRUST, options: '-c geqo=off' }),
    received: [...session(), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb')],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'options=--x-pad=1: dashes in the name become underscores',
    script: [send(startup({ ...TRUST, options: '--x-pad=1' })), closed()],
    received: ['AuthenticationOk', UNKNOWN_GUC, 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb'), ...fatalLog(UNKNOWN_GUC)],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'options with a backslash-escaped space: one word (pg_split_opts), reported in ParameterStatus',
    script: trustSession({ ...TRUST, options: '-c application_name=a\\ b' }),
    received: [...session('test', { applicationName: 'a b' }), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb')],
    hooks: ['OK ssl=off user=test'],
  },
  ...([
    ['-c x', fatal('42601', '-c x requires a value', 'postgres.c:3983:process_postgres_switches')],
    ['--geqo', fatal('42601', '--geqo requires a value', 'postgres.c:3978:process_postgres_switches')],
    ['foo', fatal('42601', 'invalid command-line argument for server process: foo', 'postgres.c:4017:process_postgres_switches', { hint: 'Try "postgres --help" for more information.' })],
    ['-q', fatal('42601', 'invalid command-line argument for server process: -q', 'postgres.c:4017:process_postgres_switches', { hint: 'Try "postgres --help" for more information.' })],
  ] as const).map(([options, e]): EdgeCase => ({
    name: `options=${options}: ${e.fields[2]![1]} after AuthenticationOk`,
    script: [send(startup({ ...TRUST, options })), closed()],
    received: ['AuthenticationOk', e, 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb'), ...fatalLog(e)],
    hooks: ['OK ssl=off user=test'],
  })),
  (() => {
    const e = fatal('22023', 'invalid value for parameter "client_encoding": "bogus"', 'guc.c:12085:call_string_check_hook');
    return {
      name: 'client_encoding=bogus: 22023 after AuthenticationOk',
      script: [send(startup({ ...TRUST, client_encoding: 'bogus' })), closed()],
      received: ['AuthenticationOk', e, 'closed'],
      log: [RECEIVED, authorized('test', 'trustdb'), ...fatalLog(e)],
      hooks: ['OK ssl=off user=test'],
    };
  })(),
  (() => {
    const long = 'u'.repeat(80);
    const cut = 'u'.repeat(63);
    const e = fatal('28000', `role "${cut}" does not exist`, 'miscinit.c:768:InitializeSessionUserId');
    return {
      name: 'an 80-byte user name is cut to 63 bytes before anything uses it',
      script: [send(startup({ user: long, database: 'trustdb' })), closed()],
      received: ['AuthenticationOk', e, 'closed'],
      log: [RECEIVED, authorized(cut, 'trustdb'), ...fatalLog(e)],
      hooks: [`OK ssl=off user=${cut}`],
    };
  })(),
  {
    name: 'application_name with non-ASCII bytes: each byte becomes "?" (PG 15)',
    script: trustSession({ ...TRUST, application_name: 'probeéapp' }),
    received: [...session('test', { applicationName: 'probe??app' }), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb', ' application_name=probe??app')],
    hooks: ['OK ssl=off user=test'],
  },
  (() => {
    const e = fatal('28000', 'no pg_hba.conf entry for host "127.0.0.1", user "test", database "test", no encryption', 'auth.c:544:ClientAuthentication');
    return {
      name: 'no database parameter: the database defaults to the user name (then no hba line matches)',
      script: [send(startup({ user: 'test' })), closed()],
      received: [e, 'closed'], log: [RECEIVED, ...fatalLog(e)],
    };
  })(),

  // ---- protocol versions ----
  {
    name: 'protocol 2.0: the old unframed error format',
    script: [send(startup(TRUST, [2, 0])), raw()],
    received: ['raw "EFATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\\n\\u0000"', 'closed'],
    log: [RECEIVED, '0A000 FATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0'],
  },
  {
    name: 'protocol 4.0: a v3 ErrorResponse',
    script: [send(startup(TRUST, [4, 0])), closed()],
    received: [unsupported('4.0'), 'closed'], log: [RECEIVED, ...fatalLog(unsupported('4.0'))],
  },
  {
    name: 'protocol 3.1: NegotiateProtocolVersion 3.0, then the session goes on',
    script: [send(startup(TRUST, [3, 1])), read('ReadyForQuery'), send(terminate()), closed()],
    received: ['NegotiateProtocolVersion 3.0 []', ...session(), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb')],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'protocol 3.5 with _pq_.foo and _pq_.bar: both named back',
    script: [send(startup({ ...TRUST, '_pq_.foo': '1', '_pq_.bar': '2' }, [3, 5])), read('ReadyForQuery'), send(terminate()), closed()],
    received: ['NegotiateProtocolVersion 3.0 [_pq_.foo,_pq_.bar]', ...session(), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb')],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'protocol 3.0 with one _pq_ option: NegotiateProtocolVersion too',
    script: [send(startup({ ...TRUST, '_pq_.x': 'on' })), read('ReadyForQuery'), send(terminate()), closed()],
    received: ['NegotiateProtocolVersion 3.0 [_pq_.x]', ...session(), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb')],
    hooks: ['OK ssl=off user=test'],
  },

  // ---- SSLRequest / GSSENCRequest ----
  {
    name: 'CVE-2021-23214: StartupMessage pipelined after SSLRequest, answered S: the FATAL comes over TLS',
    script: [send(Buffer.concat([sslRequest(), startup(TRUST)])), byte(), tlsHandshake(), closed()],
    received: ['byte S', 'tls TLSv1.3', UNENCRYPTED_SSL, 'closed'],
    log: [RECEIVED, ...fatalLog(UNENCRYPTED_SSL)],
  },
  {
    name: 'CVE-2021-23214: StartupMessage pipelined after SSLRequest, answered N: the FATAL in plaintext',
    ssl: false,
    script: [send(Buffer.concat([sslRequest(), startup(TRUST)])), byte(), closed()],
    received: ['byte N', UNENCRYPTED_SSL, 'closed'],
    log: [RECEIVED, ...fatalLog(UNENCRYPTED_SSL)],
  },
  {
    name: 'a second SSLRequest after S is read as protocol 1234.5679',
    script: [send(sslRequest()), byte(), tlsHandshake(), send(sslRequest()), closed()],
    received: ['byte S', 'tls TLSv1.3', unsupported('1234.5679'), 'closed'],
    log: [RECEIVED, ...fatalLog(unsupported('1234.5679'))],
  },
  {
    name: 'a second SSLRequest after N is read as protocol 1234.5679',
    ssl: false,
    script: [send(sslRequest()), byte(), send(sslRequest()), closed()],
    received: ['byte N', unsupported('1234.5679'), 'closed'],
    log: [RECEIVED, ...fatalLog(unsupported('1234.5679'))],
  },
  {
    name: 'GSSENCRequest after S is read as protocol 1234.5680',
    script: [send(sslRequest()), byte(), tlsHandshake(), send(gssEncRequest()), closed()],
    received: ['byte S', 'tls TLSv1.3', unsupported('1234.5680'), 'closed'],
    log: [RECEIVED, ...fatalLog(unsupported('1234.5680'))],
  },
  {
    name: 'GSSENCRequest answered N, then SSLRequest is still allowed and TLS works',
    simOnly: 'Debian\'s PostgreSQL 15 is built with GSSAPI and answers G; pg-authsim answers N like a build without it',
    script: [send(gssEncRequest()), byte(), send(sslRequest()), byte(), tlsHandshake(), ...trustSession()],
    received: ['byte N', 'byte S', 'tls TLSv1.3', ...session(), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb', TLS_SUFFIX)],
    hooks: ['OK ssl=on user=test'],
  },
  {
    name: 'SSLRequest answered N, GSSENCRequest answered N, a second GSSENCRequest is protocol 1234.5680',
    ssl: false,
    simOnly: 'Debian\'s PostgreSQL 15 answers the GSSENCRequest with G',
    script: [send(sslRequest()), byte(), send(gssEncRequest()), byte(), send(gssEncRequest()), closed()],
    received: ['byte N', 'byte N', unsupported('1234.5680'), 'closed'],
    log: [RECEIVED, ...fatalLog(unsupported('1234.5680'))],
  },
  {
    name: 'after N, a partial length word then EOF is not logged',
    ssl: false,
    script: [send(sslRequest()), byte(), send(Buffer.from([0, 0])), hangUp()],
    received: ['byte N', 'closed'], log: [RECEIVED],
  },
  {
    name: 'inside TLS, a partial length word then EOF is not logged',
    script: [send(sslRequest()), byte(), tlsHandshake(), send(Buffer.from([0, 0])), hangUp()],
    received: ['byte S', 'tls TLSv1.3', 'closed'], log: [RECEIVED],
  },
  {
    name: 'after N, EOF inside the body is still logged',
    ssl: false,
    script: [send(sslRequest()), byte(), send(startup(TRUST).subarray(0, 10)), hangUp()],
    received: ['byte N', 'closed'], log: [RECEIVED, commError('incomplete startup packet')],
  },
  {
    name: 'client closes after S without a handshake',
    script: [send(sslRequest()), byte(), hangUp()],
    received: ['byte S', 'closed'], log: [RECEIVED, commError('could not accept SSL connection: EOF detected')],
  },
  {
    name: 'plaintext StartupMessage after S: wrong version number, with the protocol-range HINT; OpenSSL read only the record header, so RST',
    script: [send(sslRequest()), byte(), send(startup(TRUST)), closed()],
    received: ['byte S', 'reset'],
    log: [
      RECEIVED, commError('could not accept SSL connection: wrong version number'),
      '08P01 HINT:  This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.',
    ],
  },

  // ---- input the backend never read: its exit makes the kernel answer RST ----
  {
    name: 'length word 10005 and its 10001-byte body: invalid length, and the unread body turns the close into RST',
    script: [send(Buffer.concat([int32(10005), Buffer.alloc(10001, 0x61)])), closed()],
    received: ['reset'], log: [RECEIVED, commError('invalid length of startup packet')],
  },
  {
    name: 'an HTTP request instead of a startup packet: invalid length; all of it was read (one 8 KiB recv), so FIN',
    script: [send(HTTP), closed()],
    received: ['closed'], log: [RECEIVED, commError('invalid length of startup packet')],
  },
  {
    name: 'SSLRequest answered N, then an HTTP request: invalid length, all of it read, FIN',
    ssl: false,
    script: [send(sslRequest()), byte(), send(HTTP), closed()],
    received: ['byte N', 'closed'], log: [RECEIVED, commError('invalid length of startup packet')],
  },
  {
    name: 'SSLRequest with an HTTP request pipelined, ssl off: N, then the unencrypted-data FATAL',
    ssl: false,
    script: [send(Buffer.concat([sslRequest(), HTTP])), byte(), closed()],
    received: ['byte N', UNENCRYPTED_SSL, 'closed'], log: [RECEIVED, ...fatalLog(UNENCRYPTED_SSL)],
  },
  {
    name: 'SSLRequest answered S, then an HTTP request: OpenSSL refuses it, RST',
    script: [send(sslRequest()), byte(), send(HTTP), closed()],
    received: ['byte S', 'reset'], log: [RECEIVED, commError('could not accept SSL connection: http request')],
  },
  {
    name: 'protocol 0.0: a v3 ErrorResponse (FrontendProtocol 0 counts as modern)',
    script: [send(startup(TRUST, [0, 0])), closed()],
    received: [unsupported('0.0'), 'closed'], log: [RECEIVED, ...fatalLog(unsupported('0.0'))],
  },

  // ---- the client resets or half-closes ----
  {
    name: 'RST before a byte: the failed recv is logged',
    tcp: true,
    // The backend must be there to see it: a reset before the postmaster has forked it leaves no trace.
    script: [pauseStep(), reset()],
    received: ['reset sent'], log: [RECEIVED, RECV_RESET],
  },
  {
    name: 'RST inside the startup packet: the failed recv, then incomplete startup packet',
    tcp: true,
    script: [send(startup(TRUST).subarray(0, 6)), pauseStep(), reset()],
    received: ['reset sent'], log: [RECEIVED, RECV_RESET, commError('incomplete startup packet')],
  },
  {
    name: 'RST in an idle session: the failed recv is logged, nothing else',
    tcp: true,
    script: [send(startup(TRUST)), read('ReadyForQuery'), reset()],
    received: [...session(), 'reset sent'], log: [RECEIVED, authorized('test', 'trustdb'), RECV_RESET],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'inside TLS, FIN without close_notify in an idle session: logged as a reset',
    script: [send(sslRequest()), byte(), tlsHandshake(), send(startup(TRUST)), read('ReadyForQuery'), hangUpTcp(), closed()],
    received: ['byte S', 'tls TLSv1.3', ...session(), 'closed'], log: [RECEIVED, authorized('test', 'trustdb', TLS_SUFFIX), RECV_RESET],
    hooks: ['OK ssl=on user=test'],
  },
  {
    name: 'inside TLS, close_notify and FIN in an idle session: a clean EOF, nothing logged',
    script: [send(sslRequest()), byte(), tlsHandshake(), send(startup(TRUST)), read('ReadyForQuery'), hangUp(), closed()],
    received: ['byte S', 'tls TLSv1.3', ...session(), 'closed'], log: [RECEIVED, authorized('test', 'trustdb', TLS_SUFFIX)],
    hooks: ['OK ssl=on user=test'],
  },
  {
    name: 'inside TLS, RST in an idle session: the failed recv is logged',
    script: [send(sslRequest()), byte(), tlsHandshake(), send(startup(TRUST)), read('ReadyForQuery'), reset()],
    received: ['byte S', 'tls TLSv1.3', ...session(), 'reset sent'], log: [RECEIVED, authorized('test', 'trustdb', TLS_SUFFIX), RECV_RESET],
    hooks: ['OK ssl=on user=test'],
  },

  // ---- CancelRequest (nothing is ever answered) ----
  {
    name: 'CancelRequest naming PID 3563746820: logged as the signed int32 PostgreSQL reads',
    script: [send(untyped(Buffer.concat([int32(CANCEL_CODE), int32(-731220476), int32(0)]))), closed()],
    received: ['closed'], log: [RECEIVED, logLine('PID -731220476 in cancel request did not match any process')],
  },
  {
    name: 'CancelRequest for an unknown PID',
    script: [send(untyped(Buffer.concat([int32(CANCEL_CODE), int32(1), int32(0)]))), closed()],
    received: ['closed'], log: [RECEIVED, logLine('PID 1 in cancel request did not match any process')],
  },
  {
    name: 'CancelRequest with the wrong key for a live backend',
    script: [...trustSession().slice(0, 2), connect(1), { op: 'cancel', c: 1, target: 0, key: 'wrong' }, closed(1), send(terminate()), closed()],
    received: [...session(), 'closed', '[1] closed'],
    log: [RECEIVED, authorized('test', 'trustdb'), RECEIVED, logLine('wrong key in cancel request for process $PID0')],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'CancelRequest with the right key: only a DEBUG2 line, so nothing in the log',
    script: [...trustSession().slice(0, 2), connect(1), { op: 'cancel', c: 1, target: 0, key: 'right' }, closed(1), send(terminate()), closed()],
    received: [...session(), 'closed', '[1] closed'],
    log: [RECEIVED, authorized('test', 'trustdb'), RECEIVED],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'CancelRequest of 12 bytes (no key): invalid length',
    script: [send(untyped(Buffer.concat([int32(CANCEL_CODE), int32(1)]))), closed()],
    received: ['closed'], log: [RECEIVED, commError('invalid length of startup packet')],
  },

  // ---- authentication_timeout while the startup packet is awaited: _exit(1), nothing logged ----
  { name: 'startup timeout with nothing sent: silent close', script: [stall(), closed()], received: ['closed'], log: [RECEIVED] },
  {
    name: 'startup timeout inside a partial packet: silent close, no incomplete-packet line',
    script: [send(startup(TRUST).subarray(0, 6)), stall(), closed()],
    received: ['closed'], log: [RECEIVED],
  },
  {
    name: 'startup timeout after the TLS handshake: silent close',
    script: [send(sslRequest()), byte(), tlsHandshake(), stall(), closed()],
    received: ['byte S', 'tls TLSv1.3', 'closed'], log: [RECEIVED],
  },
];
