/**
 * Edge cases around the connection slots and the checks after
 * authentication: max_connections (before authentication, no hook),
 * reserved superuser slots, CONNECTION LIMIT, NOLOGIN and a missing
 * database (after AuthenticationOk, the hook having seen OK). The server
 * runs with max_connections = 4 and superuser_reserved_connections = 1.
 */
import { closed, connect, read, send, startup, terminate, type Step } from '../support/wire-script.js';
import { RECEIVED, authenticated, authorized, fatal, fatalLog, sessionStart, type EdgeCase, type ExpectedError } from './edge-env.js';

const session = (user = 'test', superuser = false) => ['AuthenticationOk', ...sessionStart(user, { superuser })];
/** Tokens of connection c as the transcript shows them (errors keep their fields). */
const tag = (c: number, tokens: Array<string | ExpectedError>) =>
  tokens.map((t) => (typeof t === 'string' ? `[${c}] ${t}` : { ...t, token: `[${c}] ${t.token}` }));
/** Open connection c (0 is already open) and log in over trust up to ReadyForQuery or the FATAL. */
const login = (c: number, user: string, database = 'trustdb'): Step[] =>
  [...(c === 0 ? [] : [connect(c)]), send(startup({ user, database }), c), read('ReadyForQuery', c)];
const leave = (...cs: number[]): Step[] => cs.flatMap((c) => [send(terminate(), c), closed(c)]);

const RESERVED = fatal('53300', 'remaining connection slots are reserved for non-replication superuser connections', 'postinit.c:886:InitPostgres');
const TOO_MANY = fatal('53300', 'sorry, too many clients already', 'proc.c:357:InitProcess');

export const SESSION_CASES: EdgeCase[] = [
  {
    name: 'max_connections=4, 1 reserved: the 4th regular login fails after AuthenticationOk (hook OK), a superuser takes the last slot, the next gets 53300 before authentication (no hook)',
    script: [
      ...login(0, 'test'), ...login(1, 'test'), ...login(2, 'test'),
      ...login(3, 'test'), closed(3),
      ...login(4, 'postgres'),
      ...login(5, 'test'), closed(5),
      ...leave(0, 1, 2, 4),
    ],
    received: [
      ...session(), 'closed',
      ...tag(1, [...session(), 'closed']),
      ...tag(2, [...session(), 'closed']),
      ...tag(3, ['AuthenticationOk', RESERVED, 'closed']),
      ...tag(4, [...session('postgres', true), 'closed']),
      ...tag(5, [TOO_MANY, 'closed']),
    ],
    log: [
      RECEIVED, authorized('test', 'trustdb'),
      RECEIVED, authorized('test', 'trustdb'),
      RECEIVED, authorized('test', 'trustdb'),
      RECEIVED, authorized('test', 'trustdb'), ...fatalLog(RESERVED),
      RECEIVED, authorized('postgres', 'trustdb'),
      RECEIVED, ...fatalLog(TOO_MANY),
    ],
    hooks: ['OK ssl=off user=test', 'OK ssl=off user=test', 'OK ssl=off user=test', 'OK ssl=off user=test', 'OK ssl=off user=postgres'],
  },
  (() => {
    const e = fatal('53300', 'too many connections for role "limited"', 'miscinit.c:842:InitializeSessionUserId');
    return {
      name: 'CONNECTION LIMIT 1: the second session of the role fails after AuthenticationOk',
      script: [...login(0, 'limited'), ...login(1, 'limited'), closed(1), ...leave(0)],
      received: [...session('limited'), 'closed', ...tag(1, ['AuthenticationOk', e, 'closed'])],
      log: [RECEIVED, authorized('limited', 'trustdb'), RECEIVED, authorized('limited', 'trustdb'), ...fatalLog(e)],
      hooks: ['OK ssl=off user=limited', 'OK ssl=off user=limited'],
    };
  })(),
  (() => {
    const e = fatal('28000', 'role "nologin" is not permitted to log in', 'miscinit.c:821:InitializeSessionUserId');
    return {
      name: 'NOLOGIN with the right SCRAM password: authenticated, then 28000 after AuthenticationOk',
      script: [
        send(startup({ user: 'nologin', database: 'scramdb' })), read('AuthenticationSASL'), { op: 'scram-initial', password: 'secret' },
        read('AuthenticationSASLContinue'), { op: 'scram-final' }, closed(),
      ],
      received: ['AuthenticationSASL [SCRAM-SHA-256]', 'AuthenticationSASLContinue i=4096', 'AuthenticationSASLFinal', 'AuthenticationOk', e, 'closed'],
      log: [RECEIVED, authenticated('nologin', 'scram-sha-256', 4), authorized('nologin', 'scramdb'), ...fatalLog(e)],
      hooks: ['OK ssl=off user=nologin'],
    };
  })(),
  (() => {
    const e = fatal('3D000', 'database "nosuchdb" does not exist', 'postinit.c:948:InitPostgres');
    return {
      name: 'a database that does not exist: 3D000 after AuthenticationOk, hook saw OK',
      script: [send(startup({ user: 'test', database: 'nosuchdb' })), closed()],
      received: ['AuthenticationOk', e, 'closed'],
      log: [RECEIVED, authorized('test', 'nosuchdb'), ...fatalLog(e)],
      hooks: ['OK ssl=off user=test'],
    };
  })(),
  (() => {
    const e = fatal('55000', 'database "template0" is not currently accepting connections', 'postinit.c:350:CheckMyDatabase');
    return {
      name: 'template0 (datallowconn false): 55000 after AuthenticationOk',
      script: [send(startup({ user: 'test', database: 'template0' })), closed()],
      received: ['AuthenticationOk', e, 'closed'],
      log: [RECEIVED, authorized('test', 'template0'), ...fatalLog(e)],
      hooks: ['OK ssl=off user=test'],
    };
  })(),
  (() => {
    const e = fatal('53300', 'too many connections for database "limitdb"', 'postinit.c:384:CheckMyDatabase');
    return {
      name: 'database CONNECTION LIMIT 1: the second session fails after AuthenticationOk',
      script: [...login(0, 'test', 'limitdb'), ...login(1, 'test', 'limitdb'), closed(1), ...leave(0)],
      received: [...session(), 'closed', ...tag(1, ['AuthenticationOk', e, 'closed'])],
      log: [RECEIVED, authorized('test', 'limitdb'), RECEIVED, authorized('test', 'limitdb'), ...fatalLog(e)],
      hooks: ['OK ssl=off user=test', 'OK ssl=off user=test'],
    };
  })(),
];
