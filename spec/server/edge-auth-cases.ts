/**
 * Edge cases of ClientAuthentication: the password, md5 and SCRAM exchanges
 * (framing faults, wrong message types, protocol errors, mock exchanges for
 * unusable secrets), hba reject paths, authentication_timeout during
 * authentication, and the ClientAuthentication_hook status each one leads to.
 * Expected values are what PostgreSQL 15.20 does.
 */
import {
  byte, closed, hangUp, passwordMessage, reset, query, read, saslInitial, send, sslRequest, stall, startup, terminate, tlsHandshake, typed,
  type Step,
} from '../support/wire-script.js';
import {
  RECEIVED, TLS_SUFFIX, authenticated, commError, authorized, fatal, fatalLog, matched, sessionStart, type EdgeCase, type ExpectedError,
} from './edge-env.js';

const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const session = (user = 'test') => ['AuthenticationOk', ...sessionStart(user)];
const goodbye: Step[] = [send(terminate()), closed()];

const PW_LINE = 2;
const MD5_LINE = 3;
const SCRAM_LINE = 4;

const authFailed = (user: string) => fatal('28P01', `password authentication failed for user "${user}"`, 'auth.c:334:auth_failed');
const SASL = 'AuthenticationSASL [SCRAM-SHA-256]';
const SASL_TLS = 'AuthenticationSASL [SCRAM-SHA-256-PLUS,SCRAM-SHA-256]';
const SERVER_FIRST = 'AuthenticationSASLContinue i=4096';

const scramInitial = (password = 'secret', extra: Partial<Extract<Step, { op: 'scram-initial' }>> = {}): Step => ({ op: 'scram-initial', password, ...extra });
const scramFinal = (clientFinal?: (m: string) => string): Step => ({ op: 'scram-final', ...(clientFinal ? { clientFinal } : {}) });
/** A whole SCRAM exchange up to the server's verdict. */
const scramExchange = (user: string, database: string, password: string): Step[] => [
  send(startup({ user, database })), read('AuthenticationSASL'), scramInitial(password), read('AuthenticationSASLContinue'), scramFinal(),
];

/** A password-family failure: the exchange, then 28P01 with the log-only DETAIL, hook ERROR. */
function failedLogin(name: string, user: string, database: string, line: number, exchange: Step[], requests: string[], reason?: string): EdgeCase {
  const e = authFailed(user);
  return {
    name, script: [...exchange, closed()],
    received: [...requests, e, 'closed'],
    log: [RECEIVED, ...fatalLog(e, matched(line, reason))],
    hooks: [`ERROR ssl=off user=${user}`],
  };
}

/** A FATAL raised inside the exchange: sent with its DETAIL, logged, and the hook never runs. */
function protocolError(name: string, e: ExpectedError, script: Step[], before: string[]): EdgeCase {
  return { name, script: [...script, closed()], received: [...before, e, 'closed'], log: [RECEIVED, ...fatalLog(e)] };
}

const passwordLogin = (user: string) => [send(startup({ user, database: 'passworddb' })), read('AuthenticationCleartextPassword')];
const scramStart = (user = 'test') => [send(startup({ user, database: 'scramdb' })), read('AuthenticationSASL')];
const TIMEOUT_LOG = '57014 FATAL:  canceling authentication due to timeout';
const WRONG_TYPE_PW = fatal('08P01', 'expected password response, got message type 81', 'auth.c:718:recv_password_packet');
const WRONG_TYPE_SASL = fatal('08P01', 'expected SASL response, got message type 81', 'auth-sasl.c:95:CheckSASLAuth');
const INVALID_MECH = fatal('08P01', 'client selected an invalid SASL authentication mechanism', 'auth-scram.c:256:scram_init');
const malformed = (detail: string, site: string) => fatal('08P01', 'malformed SCRAM message', site, { detail });

export const AUTH_CASES: EdgeCase[] = [
  // ---- password (cleartext) ----
  {
    name: 'password: the right password',
    script: [...passwordLogin('test'), send(passwordMessage('secret')), read('ReadyForQuery'), ...goodbye],
    received: ['AuthenticationCleartextPassword', ...session(), 'closed'],
    log: [RECEIVED, authenticated('test', 'password', PW_LINE), authorized('test', 'passworddb')],
    hooks: ['OK ssl=off user=test'],
  },
  failedLogin('password: a wrong password (SCRAM secret)', 'test', 'passworddb', PW_LINE,
    [...passwordLogin('test'), send(passwordMessage('wrong'))], ['AuthenticationCleartextPassword'], 'Password does not match for user "test".'),
  failedLogin('password: role without a password still gets the request', 'nopw', 'passworddb', PW_LINE,
    [...passwordLogin('nopw'), send(passwordMessage('secret'))], ['AuthenticationCleartextPassword'], 'User "nopw" has no password assigned.'),
  failedLogin('password: expired password', 'expired', 'passworddb', PW_LINE,
    [...passwordLogin('expired'), send(passwordMessage('secret'))], ['AuthenticationCleartextPassword'], 'User "expired" has an expired password.'),
  failedLogin('password: a role that does not exist', 'ghost', 'passworddb', PW_LINE,
    [...passwordLogin('ghost'), send(passwordMessage('secret'))], ['AuthenticationCleartextPassword'], 'Role "ghost" does not exist.'),
  protocolError('password: a Query instead of the password: 08P01, no hook', WRONG_TYPE_PW,
    [...passwordLogin('test'), send(query('select 1'))], ['AuthenticationCleartextPassword']),
  protocolError('password: an empty password: 28P01 raised in the exchange, no hook',
    fatal('28P01', 'empty password returned by client', 'auth.c:757:recv_password_packet'),
    [...passwordLogin('test'), send(passwordMessage(''))], ['AuthenticationCleartextPassword']),
  protocolError('password: a NUL before the end of the packet: invalid password packet size',
    fatal('08P01', 'invalid password packet size', 'auth.c:739:recv_password_packet'),
    [...passwordLogin('test'), send(typed('p', Buffer.from('abc\0def\0')))], ['AuthenticationCleartextPassword']),
  {
    name: 'password: a p message over 65535 bytes: logged framing fault, then a silent EOF exit (hook EOF)',
    script: [...passwordLogin('test'), send(Buffer.concat([Buffer.from('p'), int32(70000)])), closed()],
    received: ['AuthenticationCleartextPassword', 'closed'],
    log: [RECEIVED, commError('invalid message length')],
    hooks: ['EOF ssl=off user=test'],
  },
  {
    name: 'password: EOF inside the p length word: logged, then a silent EOF exit (hook EOF)',
    script: [...passwordLogin('test'), send(Buffer.from([0x70, 0, 0])), hangUp()],
    received: ['AuthenticationCleartextPassword', 'closed'],
    log: [RECEIVED, commError('unexpected EOF within message length word')],
    hooks: ['EOF ssl=off user=test'],
  },
  {
    name: 'password: client hangs up at the prompt: hook EOF, nothing logged',
    script: [...passwordLogin('test'), hangUp()],
    received: ['AuthenticationCleartextPassword', 'closed'],
    log: [RECEIVED],
    hooks: ['EOF ssl=off user=test'],
  },
  {
    name: 'password: authentication_timeout at the prompt: 57014 logged, not sent, no hook',
    script: [...passwordLogin('test'), stall(), closed()],
    received: ['AuthenticationCleartextPassword', 'closed'],
    log: [RECEIVED, TIMEOUT_LOG],
  },

  // ---- md5 ----
  {
    name: 'md5: md5 secret, the right password',
    script: [send(startup({ user: 'md5user', database: 'md5db' })), read('AuthenticationMD5Password'), { op: 'md5', user: 'md5user', password: 'secret' }, read('ReadyForQuery'), ...goodbye],
    received: ['AuthenticationMD5Password', ...session('md5user'), 'closed'],
    log: [RECEIVED, authenticated('md5user', 'md5', MD5_LINE), authorized('md5user', 'md5db')],
    hooks: ['OK ssl=off user=md5user'],
  },
  failedLogin('md5: md5 secret, a wrong password', 'md5user', 'md5db', MD5_LINE,
    [send(startup({ user: 'md5user', database: 'md5db' })), read('AuthenticationMD5Password'), { op: 'md5', user: 'md5user', password: 'wrong' }],
    ['AuthenticationMD5Password'], 'Password does not match for user "md5user".'),
  {
    name: 'md5 line, SCRAM secret: a SCRAM exchange instead, logged as method=md5',
    script: [...scramExchange('test', 'md5db', 'secret'), read('ReadyForQuery'), ...goodbye],
    received: [SASL, SERVER_FIRST, 'AuthenticationSASLFinal', ...session(), 'closed'],
    log: [RECEIVED, authenticated('test', 'md5', MD5_LINE), authorized('test', 'md5db')],
    hooks: ['OK ssl=off user=test'],
  },
  failedLogin('md5 line, role that does not exist: a mock SCRAM exchange (password_encryption)', 'ghost', 'md5db', MD5_LINE,
    scramExchange('ghost', 'md5db', 'secret'), [SASL, SERVER_FIRST], 'Role "ghost" does not exist.'),
  {
    name: 'md5: client hangs up at the prompt: hook EOF, nothing logged',
    script: [send(startup({ user: 'md5user', database: 'md5db' })), read('AuthenticationMD5Password'), hangUp()],
    received: ['AuthenticationMD5Password', 'closed'],
    log: [RECEIVED],
    hooks: ['EOF ssl=off user=md5user'],
  },

  // ---- SCRAM ----
  {
    name: 'scram: the right password; SASLFinal and AuthenticationOk arrive together',
    script: [...scramExchange('test', 'scramdb', 'secret'), read('ReadyForQuery'), ...goodbye],
    received: [SASL, SERVER_FIRST, 'AuthenticationSASLFinal', ...session(), 'closed'],
    log: [RECEIVED, authenticated('test', 'scram-sha-256', SCRAM_LINE), authorized('test', 'scramdb')],
    hooks: ['OK ssl=off user=test'],
  },
  failedLogin('scram: a wrong password (no reason line in the DETAIL)', 'test', 'scramdb', SCRAM_LINE,
    scramExchange('test', 'scramdb', 'wrong'), [SASL, SERVER_FIRST]),
  failedLogin('scram: role without a password: mock exchange', 'nopw', 'scramdb', SCRAM_LINE,
    scramExchange('nopw', 'scramdb', 'secret'), [SASL, SERVER_FIRST], 'User "nopw" has no password assigned.'),
  failedLogin('scram: expired password: mock exchange', 'expired', 'scramdb', SCRAM_LINE,
    scramExchange('expired', 'scramdb', 'secret'), [SASL, SERVER_FIRST], 'User "expired" has an expired password.'),
  failedLogin('scram: a role that does not exist: mock exchange', 'ghost', 'scramdb', SCRAM_LINE,
    scramExchange('ghost', 'scramdb', 'secret'), [SASL, SERVER_FIRST], 'Role "ghost" does not exist.'),
  failedLogin('scram line, md5 secret: mock exchange that cannot succeed', 'md5user', 'scramdb', SCRAM_LINE,
    scramExchange('md5user', 'scramdb', 'secret'), [SASL, SERVER_FIRST], 'User "md5user" does not have a valid SCRAM secret.'),
  protocolError('scram: an unknown mechanism (SCRAM-SHA-1)', INVALID_MECH,
    [...scramStart(), scramInitial('secret', { mechanism: 'SCRAM-SHA-1' })], [SASL]),
  protocolError('scram: SCRAM-SHA-256-PLUS without SSL is an invalid mechanism', INVALID_MECH,
    [...scramStart(), scramInitial('secret', { mechanism: 'SCRAM-SHA-256-PLUS' })], [SASL]),
  protocolError('scram: a Query instead of SASLInitialResponse: 08P01, no hook', WRONG_TYPE_SASL,
    [...scramStart(), send(query('select 1'))], [SASL]),
  protocolError('scram: an empty client-first message',
    malformed('The message is empty.', 'auth-scram.c:366:scram_exchange'),
    [...scramStart(), send(saslInitial('SCRAM-SHA-256', ''))], [SASL]),
  protocolError('scram: gs2 flag "x"',
    malformed('Unexpected channel-binding flag "\'x\'".', 'auth-scram.c:1025:read_client_first_message'),
    [...scramStart(), scramInitial('secret', { clientFirst: (m) => `x${m.slice(1)}` })], [SASL]),
  protocolError('scram: an authorization identity (a=)',
    fatal('0A000', 'client uses authorization identity, but it is not supported', 'auth-scram.c:1036:read_client_first_message'),
    [...scramStart(), scramInitial('secret', { clientFirst: (m) => m.replace(/^n,,/, 'n,a=test,') })], [SASL]),
  protocolError('scram: the client-final nonce does not match',
    fatal('08P01', 'invalid SCRAM response', 'auth-scram.c:404:scram_exchange', { detail: 'Nonce does not match.' }),
    [...scramStart(), scramInitial(), read('AuthenticationSASLContinue'), scramFinal((m) => m.replace(/,r=[^,]*/, ',r=bogus'))], [SASL, SERVER_FIRST]),
  protocolError('scram over TLS: gs2 flag "y" although the server offered -PLUS',
    fatal('28000', 'SCRAM channel binding negotiation error', 'auth-scram.c:985:read_client_first_message', {
      detail: 'The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding.',
    }),
    [send(sslRequest()), byte(), tlsHandshake(), send(startup({ user: 'test', database: 'scramdb' })), read('AuthenticationSASL'),
      scramInitial('secret', { clientFirst: (m) => m.replace(/^n,,/, 'y,,') })],
    ['byte S', 'tls TLSv1.3', SASL_TLS]),
  {
    name: 'scram over TLS: SCRAM-SHA-256-PLUS with channel binding',
    script: [send(sslRequest()), byte(), tlsHandshake(), send(startup({ user: 'test', database: 'scramdb' })), read('AuthenticationSASL'),
      scramInitial('secret', { plus: true }), read('AuthenticationSASLContinue'), scramFinal(), read('ReadyForQuery'), ...goodbye],
    received: ['byte S', 'tls TLSv1.3', SASL_TLS, SERVER_FIRST, 'AuthenticationSASLFinal', ...session(), 'closed'],
    log: [RECEIVED, authenticated('test', 'scram-sha-256', SCRAM_LINE), authorized('test', 'scramdb', TLS_SUFFIX)],
    hooks: ['OK ssl=on user=test'],
  },
  {
    name: 'scram: SASLInitialResponse without data (length -1): an empty SASLContinue asks for client-first',
    script: [...scramStart(), send(saslInitial('SCRAM-SHA-256', null)), read('AuthenticationSASLContinue'), hangUp()],
    received: [SASL, 'AuthenticationSASLContinue (empty)', 'closed'],
    log: [RECEIVED],
    hooks: ['EOF ssl=off user=test'],
  },
  (() => {
    const e = authFailed('test');
    return {
      name: 'scram: a SASL message over 1024 bytes: logged, then hook ERROR and 28P01 sent',
      script: [...scramStart(), send(Buffer.concat([Buffer.from('p'), int32(2000)])), closed()],
      received: [SASL, e, 'closed'],
      log: [RECEIVED, commError('invalid message length'), ...fatalLog(e, matched(SCRAM_LINE))],
      hooks: ['ERROR ssl=off user=test'],
    };
  })(),
  (() => {
    const e = authFailed('test');
    return {
      name: 'scram: EOF inside the SASL length word: hook ERROR, and the FATAL still goes to the half-closed client',
      script: [...scramStart(), send(Buffer.from([0x70, 0, 0])), hangUp(), closed()],
      received: [SASL, e, 'closed'],
      log: [RECEIVED, commError('unexpected EOF within message length word'), ...fatalLog(e, matched(SCRAM_LINE))],
      hooks: ['ERROR ssl=off user=test'],
    };
  })(),
  (() => {
    const e = authFailed('test');
    return {
      name: 'scram over TCP: EOF inside the SASL length word, then FIN: the FATAL still reaches the half-closed client',
      tcp: true,
      script: [...scramStart(), send(Buffer.from([0x70, 0, 0])), hangUp(), closed()],
      received: [SASL, e, 'closed'],
      log: [RECEIVED, commError('unexpected EOF within message length word'), ...fatalLog(e, matched(SCRAM_LINE))],
      hooks: ['ERROR ssl=off user=test'],
    };
  })(),
  (() => {
    const e = authFailed('test');
    return {
      name: 'password over TCP: a wrong password, then FIN at once: the 28P01 still arrives',
      tcp: true,
      script: [...passwordLogin('test'), send(passwordMessage('wrong')), hangUp(), closed()],
      received: ['AuthenticationCleartextPassword', e, 'closed'],
      log: [RECEIVED, ...fatalLog(e, matched(PW_LINE, 'Password does not match for user "test".'))],
      hooks: ['ERROR ssl=off user=test'],
    };
  })(),
  {
    name: 'scram: RST after AuthenticationSASL: the failed recv is logged, hook EOF',
    tcp: true,
    script: [...scramStart(), reset()],
    received: [SASL, 'reset sent'], log: [RECEIVED, '08006 LOG:  could not receive data from client: Connection reset by peer'], hooks: ['EOF ssl=off user=test'],
  },
  {
    name: 'scram: client hangs up after AuthenticationSASL: hook EOF, nothing logged',
    script: [...scramStart(), hangUp()],
    received: [SASL, 'closed'], log: [RECEIVED], hooks: ['EOF ssl=off user=test'],
  },
  {
    name: 'scram: client hangs up after server-first: hook EOF, nothing logged',
    script: [...scramStart(), scramInitial(), read('AuthenticationSASLContinue'), hangUp()],
    received: [SASL, SERVER_FIRST, 'closed'], log: [RECEIVED], hooks: ['EOF ssl=off user=test'],
  },
  {
    name: 'scram: authentication_timeout after AuthenticationSASL: 57014 logged, not sent, no hook',
    script: [...scramStart(), stall(), closed()],
    received: [SASL, 'closed'], log: [RECEIVED, TIMEOUT_LOG],
  },
  {
    name: 'scram: authentication_timeout after server-first',
    script: [...scramStart(), scramInitial(), read('AuthenticationSASLContinue'), stall(), closed()],
    received: [SASL, SERVER_FIRST, 'closed'], log: [RECEIVED, TIMEOUT_LOG],
  },

  // ---- hba reject paths: no hook ----
  (() => {
    const e = fatal('28000', 'pg_hba.conf rejects connection for host "127.0.0.1", user "test", database "rejectdb", no encryption', 'auth.c:476:ClientAuthentication');
    return { name: 'a reject line: 28000, no hook', script: [send(startup({ user: 'test', database: 'rejectdb' })), closed()], received: [e, 'closed'], log: [RECEIVED, ...fatalLog(e)] };
  })(),
  (() => {
    const e = fatal('28000', 'pg_hba.conf rejects connection for host "127.0.0.1", user "test", database "rejectdb", SSL encryption', 'auth.c:476:ClientAuthentication');
    return {
      name: 'a reject line over TLS says "SSL encryption"',
      script: [send(sslRequest()), byte(), tlsHandshake(), send(startup({ user: 'test', database: 'rejectdb' })), closed()],
      received: ['byte S', 'tls TLSv1.3', e, 'closed'], log: [RECEIVED, ...fatalLog(e)],
    };
  })(),
  (() => {
    const e = fatal('28000', 'no pg_hba.conf entry for host "127.0.0.1", user "test", database "template1", no encryption', 'auth.c:544:ClientAuthentication');
    return { name: 'no matching hba line: 28000, no hook', script: [send(startup({ user: 'test', database: 'template1' })), closed()], received: [e, 'closed'], log: [RECEIVED, ...fatalLog(e)] };
  })(),
];
