/**
 * Edge cases of byte-exactness (issue 8, item 1): names, passwords and
 * other client strings are bytes until PostgreSQL itself interprets them, so
 * no two different byte strings log in as the same role or pass as the same
 * password, and replies and log lines carry the client's bytes unchanged.
 *
 * Expectations are spelled one char per byte, as the transcript shows them
 * (wire-script.ts): "u\xff" is the bytes 75 FF, bytesOf('é') the bytes C3 A9.
 * Expected values are what PostgreSQL 15.20 does (edge-differential.spec.ts
 * re-checks them against a real server, byte for byte).
 */
import {
  bytesOf, closed, passwordMessage, read, saslInitial, send, startup, terminate,
  type Step,
} from '../support/wire-script.js';
import {
  RECEIVED, authenticated, authorized, fatal, fatalLog, matched, sessionStart, type EdgeCase, type ExpectedError,
} from './edge-env.js';

/** Bytes spelled one char per byte, as expectations spell them. */
const bytes = (s: string) => Buffer.from(s, 'latin1');
/** 75 FF: what UTF-8 decoding used to turn into "u\uFFFD". */
const U_FF = 'u\xff';
/** 75 EF BF BD: a real U+FFFD, the name of an existing role. */
const U_FFFD = bytesOf('u\uFFFD');

const PW_LINE = 2;
const MD5_LINE = 3;
const SCRAM_LINE = 4;

const session = (user = 'test', opts: Parameters<typeof sessionStart>[1] = {}) => ['AuthenticationOk', ...sessionStart(user, opts)];
const goodbye: Step[] = [send(terminate()), closed()];
const SASL = 'AuthenticationSASL [SCRAM-SHA-256]';
const SERVER_FIRST = 'AuthenticationSASLContinue i=4096';
const scramInitial = (password: string | Buffer, extra: Partial<Extract<Step, { op: 'scram-initial' }>> = {}): Step => ({ op: 'scram-initial', password, ...extra });
const scramFinal: Step = { op: 'scram-final' };
const md5 = (user: string, password: string | Buffer): Step => ({ op: 'md5', user, password });

const login = (user: string | Buffer, database: string | Buffer, prompt: string): Step[] =>
  [send(startup([['user', user], ['database', database]])), read(prompt)];
const passwordLogin = (user: string | Buffer, password: string | Buffer) =>
  [...login(user, 'passworddb', 'AuthenticationCleartextPassword'), send(passwordMessage(password))];
const md5Login = (user: string, password: string | Buffer) => [...login(user, 'md5db', 'AuthenticationMD5Password'), md5(user, password)];
const scramLogin = (user: string | Buffer, password: string | Buffer, extra: Partial<Extract<Step, { op: 'scram-initial' }>> = {}) =>
  [...login(user, 'scramdb', 'AuthenticationSASL'), scramInitial(password, extra), read('AuthenticationSASLContinue'), scramFinal];

/** A login that works: the exchange, the session, goodbye. `user` as the transcript shows it. */
function goodLogin(name: string, user: string, database: string, method: string, line: number, exchange: Step[], requests: string[]): EdgeCase {
  return {
    name, script: [...exchange, read('ReadyForQuery'), ...goodbye],
    received: [...requests, ...session(user), 'closed'],
    log: [RECEIVED, authenticated(user, method, line), authorized(user, database)],
    hooks: [`OK ssl=off user=${user}`],
  };
}

/** A password-family failure: 28P01 with the log-only DETAIL, hook ERROR. */
function failedLogin(name: string, user: string, line: number, exchange: Step[], requests: string[], reason?: string): EdgeCase {
  const e = fatal('28P01', `password authentication failed for user "${user}"`, 'auth.c:334:auth_failed');
  return {
    name, script: [...exchange, closed()],
    received: [...requests, e, 'closed'],
    log: [RECEIVED, ...fatalLog(e, matched(line, reason))],
    hooks: [`ERROR ssl=off user=${user}`],
  };
}

/** A trust login that fails after AuthenticationOk with `e` (role, database or GUC checks). */
function failsAfterOk(name: string, params: Array<[string | Buffer, string | Buffer]>, user: string, database: string, e: ExpectedError, suffix = ''): EdgeCase {
  return {
    name, script: [send(startup(params)), closed()],
    received: ['AuthenticationOk', e, 'closed'],
    log: [RECEIVED, authorized(user, database, suffix), ...fatalLog(e)],
    hooks: [`OK ssl=off user=${user}`],
  };
}

const noRole = (user: string) => fatal('28000', `role "${user}" does not exist`, 'miscinit.c:768:InitializeSessionUserId');
const unknownGuc = (name: string) => fatal('42704', `unrecognized configuration parameter "${name}"`, 'guc.c:5766:find_option');

/** truncate_identifier's NOTICE (application_name is GUC_IS_NAME). */
function truncated(from: string, to: string): ExpectedError {
  const message = `identifier "${from}" will be truncated to "${to}"`;
  return {
    token: `notice NOTICE 42622 ${message}`,
    fields: [['S', 'NOTICE'], ['V', 'NOTICE'], ['C', '42622'], ['M', message], ['F', 'scansup.c'], ['L', '99'], ['R', 'truncate_identifier']],
  };
}

const LONG_E = 'é'.repeat(40); // 80 bytes
const LONG_E_BYTES = bytesOf(LONG_E);
const LONG_INVALID = `${'u'.repeat(62)}\x80\x80`; // 64 bytes, ending in two stray continuation bytes

export const BYTES_CASES: EdgeCase[] = [
  // ---- names are bytes ----
  failsAfterOk('user bytes 75 FF (trust): role "u\\xff" does not exist; the role "u\\uFFFD" does not answer for it',
    [['user', bytes(U_FF)], ['database', 'trustdb']], U_FF, 'trustdb', noRole(U_FF)),
  {
    name: 'user "u\\uFFFD" sent as its UTF-8 bytes (trust): that role logs in',
    script: [send(startup({ user: 'u\uFFFD', database: 'trustdb' })), read('ReadyForQuery'), ...goodbye],
    received: [...session(U_FFFD), 'closed'],
    log: [RECEIVED, authorized(U_FFFD, 'trustdb')],
    hooks: [`OK ssl=off user=${U_FFFD}`],
  },
  failsAfterOk('user bytes 75 FE (trust): a different name again',
    [['user', bytes('u\xfe')], ['database', 'trustdb']], 'u\xfe', 'trustdb', noRole('u\xfe')),
  failedLogin('password: user bytes 75 FF: 28P01, Role "u\\xff" does not exist.', U_FF, PW_LINE,
    passwordLogin(bytes(U_FF), 'secret'), ['AuthenticationCleartextPassword'], `Role "${U_FF}" does not exist.`),
  failedLogin('scram: user bytes 75 FF: the mock salt comes from the name\'s bytes', U_FF, SCRAM_LINE,
    scramLogin(bytes(U_FF), 'secret'), [SASL, SERVER_FIRST], `Role "${U_FF}" does not exist.`),

  // ---- NAMEDATALEN: a plain cut at 63 bytes, even inside a character ----
  failsAfterOk('an 80-byte user of 40 × "é": cut to 63 bytes, splitting the 32nd character',
    [['user', LONG_E], ['database', 'trustdb']], LONG_E_BYTES.slice(0, 63), 'trustdb', noRole(LONG_E_BYTES.slice(0, 63))),
  failsAfterOk('a 64-byte user ending in two stray continuation bytes: the first one stays',
    [['user', bytes(LONG_INVALID)], ['database', 'trustdb']], LONG_INVALID.slice(0, 63), 'trustdb', noRole(LONG_INVALID.slice(0, 63))),

  // ---- databases ----
  (() => {
    const e = fatal('28000', 'no pg_hba.conf entry for host "127.0.0.1", user "test", database "db\xff", no encryption', 'auth.c:544:ClientAuthentication');
    return {
      name: 'database bytes "db\\xff": no pg_hba.conf line, and the message carries the byte',
      script: [send(startup([['user', 'test'], ['database', bytes('db\xff')]])), closed()],
      received: [e, 'closed'], log: [RECEIVED, ...fatalLog(e)],
    };
  })(),
  failsAfterOk('database bytes "db\\xff" on an "all" line: 3D000 names the bytes',
    [['user', 'dbbytes'], ['database', bytes('db\xff')]], 'dbbytes', 'db\xff',
    fatal('3D000', 'database "db\xff" does not exist', 'postinit.c:948:InitPostgres')),

  // ---- passwords are bytes ----
  failedLogin('password: stored password U+FFFD, the single byte FF is refused', 'fffd', PW_LINE,
    passwordLogin('fffd', bytes('\xff')), ['AuthenticationCleartextPassword'], 'Password does not match for user "fffd".'),
  goodLogin('password: stored password U+FFFD, its UTF-8 bytes log in', 'fffd', 'passworddb', 'password', PW_LINE,
    passwordLogin('fffd', '\uFFFD'), ['AuthenticationCleartextPassword']),
  failedLogin('md5: md5 of password U+FFFD, a response computed from the byte FF is refused', 'md5fffd', MD5_LINE,
    md5Login('md5fffd', bytes('\xff')), ['AuthenticationMD5Password'], 'Password does not match for user "md5fffd".'),
  goodLogin('md5: md5 of password U+FFFD, a response from its UTF-8 bytes logs in', 'md5fffd', 'md5db', 'md5', MD5_LINE,
    md5Login('md5fffd', '\uFFFD'), ['AuthenticationMD5Password']),
  goodLogin('scram: a secret of the byte FF: a SCRAM client hashing that byte logs in', 'rawff', 'scramdb', 'scram-sha-256', SCRAM_LINE,
    scramLogin('rawff', bytes('\xff')), [SASL, SERVER_FIRST, 'AuthenticationSASLFinal']),
  failedLogin('scram: a secret of the byte FF: a client hashing U+FFFD is refused', 'rawff', SCRAM_LINE,
    scramLogin('rawff', '\uFFFD'), [SASL, SERVER_FIRST]),
  goodLogin('password: a SCRAM secret of the byte FF: the byte FF logs in (SASLprep refuses it, the raw byte is hashed)', 'rawff', 'passworddb', 'password', PW_LINE,
    passwordLogin('rawff', bytes('\xff')), ['AuthenticationCleartextPassword']),
  failedLogin('password: a SCRAM secret of the byte FF: U+FFFD is refused', 'rawff', PW_LINE,
    passwordLogin('rawff', '\uFFFD'), ['AuthenticationCleartextPassword'], 'Password does not match for user "rawff".'),

  // ---- valid UTF-8 still goes through SASLprep for SCRAM secrets, and never for md5 ----
  goodLogin('password: SCRAM secret of "\\uFB01" (ﬁ): "fi" logs in (SASLprep NFKC)', 'nfkc', 'passworddb', 'password', PW_LINE,
    passwordLogin('nfkc', 'fi'), ['AuthenticationCleartextPassword']),
  goodLogin('password: SCRAM secret of "\\uFB01" (ﬁ): "\\uFB01" itself logs in', 'nfkc', 'passworddb', 'password', PW_LINE,
    passwordLogin('nfkc', '\uFB01'), ['AuthenticationCleartextPassword']),
  goodLogin('scram: SCRAM secret of "\\uFB01" (ﬁ): a client sending "fi" logs in', 'nfkc', 'scramdb', 'scram-sha-256', SCRAM_LINE,
    scramLogin('nfkc', 'fi'), [SASL, SERVER_FIRST, 'AuthenticationSASLFinal']),
  failedLogin('md5: md5 of "\\uFB01" (ﬁ): "fi" is refused (md5 hashes bytes, no SASLprep)', 'md5nfkc', MD5_LINE,
    md5Login('md5nfkc', 'fi'), ['AuthenticationMD5Password'], 'Password does not match for user "md5nfkc".'),
  goodLogin('md5: md5 of "\\uFB01" (ﬁ): "\\uFB01" logs in', 'md5nfkc', 'md5db', 'md5', MD5_LINE,
    md5Login('md5nfkc', '\uFB01'), ['AuthenticationMD5Password']),

  // ---- SASL messages ----
  goodLogin('scram: bytes FF FE in the n= attribute are ignored, as the name always is', 'test', 'scramdb', 'scram-sha-256', SCRAM_LINE,
    scramLogin('test', 'secret', { username: '\xff\xfe' }), [SASL, SERVER_FIRST, 'AuthenticationSASLFinal']),
  (() => {
    const e = fatal('08P01', 'client selected an invalid SASL authentication mechanism', 'auth-scram.c:256:scram_init');
    return {
      name: 'scram: mechanism "SCRAM-SHA-256\\xff" is not SCRAM-SHA-256',
      script: [...login('test', 'scramdb', 'AuthenticationSASL'), send(saslInitial(bytes('SCRAM-SHA-256\xff'), 'n,,n=,r=abc')), closed()],
      received: [SASL, e, 'closed'], log: [RECEIVED, ...fatalLog(e)],
    };
  })(),

  // ---- other parameters ----
  {
    name: 'application_name bytes "a\\xffb": one "?" for the one byte',
    script: [send(startup([['user', 'test'], ['database', 'trustdb'], ['application_name', bytes('a\xffb')]])), read('ReadyForQuery'), ...goodbye],
    received: [...session('test', { applicationName: 'a?b' }), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb', ' application_name=a?b')],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'application_name of 40 × "é": NOTICE, cut to 31 characters (pg_mbcliplen), then "?" per byte; the log line has the uncut value',
    script: [send(startup({ user: 'test', database: 'trustdb', application_name: LONG_E })), read('ReadyForQuery'), ...goodbye],
    received: ['AuthenticationOk', truncated(LONG_E_BYTES, LONG_E_BYTES.slice(0, 62)), ...sessionStart('test', { applicationName: '?'.repeat(62) }), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb', ` application_name=${'?'.repeat(80)}`)],
    hooks: ['OK ssl=off user=test'],
  },
  {
    name: 'application_name of 64 bytes ending in stray continuation bytes: pg_mbcliplen keeps the first',
    script: [send(startup([['user', 'test'], ['database', 'trustdb'], ['application_name', bytes(LONG_INVALID)]])), read('ReadyForQuery'), ...goodbye],
    received: ['AuthenticationOk', truncated(LONG_INVALID, LONG_INVALID.slice(0, 63)), ...sessionStart('test', { applicationName: `${'u'.repeat(62)}?` }), 'closed'],
    log: [RECEIVED, authorized('test', 'trustdb', ` application_name=${'u'.repeat(62)}??`)],
    hooks: ['OK ssl=off user=test'],
  },
  failsAfterOk('a GUC named "x\\xff": 42704 names the bytes',
    [['user', 'test'], ['database', 'trustdb'], [bytes('x\xff'), '1']], 'test', 'trustdb', unknownGuc('x\xff')),
  failsAfterOk('options "-c x\\xff=1": 42704 names the bytes',
    [['user', 'test'], ['database', 'trustdb'], ['options', bytes('-c x\xff=1')]], 'test', 'trustdb', unknownGuc('x\xff')),
  (() => {
    const e = fatal('22023', 'invalid value for parameter "replication": "\xff"', 'postmaster.c:2284:ProcessStartupPacket', {
      hint: 'Valid values are: "false", 0, "true", 1, "database".',
    });
    return {
      name: 'replication=\\xff: 22023 with the byte, before authentication',
      script: [send(startup([['user', 'test'], ['database', 'trustdb'], ['replication', bytes('\xff')]])), closed()],
      received: [e, 'closed'], log: [RECEIVED, ...fatalLog(e)],
    };
  })(),
];
