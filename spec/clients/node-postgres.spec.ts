/**
 * node-postgres (`pg`) against pg-authsim: every password method, a wrong
 * password, TLS with and without verification, channel binding and `cert`,
 * over TCP; and one run over the in-memory transport through pg's `stream`
 * option. The DatabaseError fields for a wrong password are what `pg` got
 * from PostgreSQL 15.20 for the same login.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import pg from 'pg';
import { makeServer, devTls, CERTS } from '../support/fixtures.js';
import { defaultDatabases } from '../../src/server/settings.js';
import type { PgServer } from '../../src/server/server.js';
import type { ServerEvent } from '../../src/events.js';
import type { MemorySocket } from '../../src/server/memory-transport.js';

const { Client, DatabaseError } = pg;

const HBA = `
hostssl certdb all     127.0.0.1/32 cert
host    all    nopw    127.0.0.1/32 trust
host    all    other   127.0.0.1/32 password
host    all    md5user 127.0.0.1/32 md5
host    all    all     127.0.0.1/32 scram-sha-256
`;

const ca = readFileSync(path.join(CERTS, 'ca.crt'));

/** The events of the connections opened while `fn` ran. */
async function during(server: PgServer, events: ServerEvent[], fn: () => Promise<void>): Promise<ServerEvent[]> {
  const from = events.length;
  await fn();
  await server.idle();
  return events.slice(from).filter((e) => e.connection !== 0);
}

/** Connect, run `fn`, and always end the client, so a failed expectation cannot leave a session behind. */
async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new Client(config);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const authRequests = (evs: ServerEvent[]) => evs.flatMap((e) => (e.type === 'auth-request' ? [e.request] : []));
const saslMechanism = (evs: ServerEvent[]) => evs.flatMap((e) => (e.type === 'auth-response' && e.message.startsWith('SASLInitialResponse') ? [e.message] : []));

describe('node-postgres (pg) against pg-authsim', function () {
  this.timeout(10000);
  let server: PgServer;
  let events: ServerEvent[];
  let port: number;
  const hookCalls: Array<{ user: string; status: number; ssl: boolean }> = [];

  before(async () => {
    const made = makeServer({
      hba: HBA,
      settings: {
        ssl: true, tls: devTls(true), logConnections: true,
        databases: [...defaultDatabases(), { name: 'certdb', allowConnections: true, connectionLimit: -1 }],
      },
      hook: (p, status) => { hookCalls.push({ user: p.user_name, status, ssl: p.ssl_in_use }); },
    });
    server = made.server;
    events = made.events;
    port = (await server.listen(0, ['127.0.0.1']))[0]!.port;
  });
  beforeEach(() => { hookCalls.length = 0; });
  after(() => server.close());

  describe('over TCP, without TLS', () => {
    const cases = [
      // The requests the method sent; AuthenticationOk itself goes out with ParameterStatus, not as a request.
      { method: 'trust', user: 'nopw', password: undefined, requests: [] },
      { method: 'password', user: 'other', password: 'secret', requests: ['AuthenticationCleartextPassword'] },
      { method: 'md5', user: 'md5user', password: 'secret', requests: ['AuthenticationMD5Password'] },
      { method: 'scram-sha-256', user: 'test', password: 'secret', requests: ['AuthenticationSASL', 'AuthenticationSASLContinue', 'AuthenticationSASLFinal'] },
    ];
    for (const c of cases) {
      it(`${c.method}: logs in as ${c.user}; SELECT current_user and SHOW ssl answer`, async () => {
        let user: unknown;
        let ssl: unknown;
        const evs = await during(server, events, async () => {
          await withClient({ host: '127.0.0.1', port, user: c.user, password: c.password, database: 'postgres' }, async (client) => {
            user = (await client.query('SELECT current_user')).rows[0];
            ssl = (await client.query('SHOW ssl')).rows[0];
          });
        });
        expect(user).to.deep.equal({ current_user: c.user });
        // SHOW ssl is the server's setting, not this connection's.
        expect(ssl).to.deep.equal({ ssl: 'on' });
        expect(authRequests(evs)).to.deep.equal(c.requests);
        expect(hookCalls).to.deep.equal([{ user: c.user, status: 0, ssl: false }]);
        const authenticated = evs.find((e) => e.type === 'authenticated');
        if (c.method === 'trust') expect(authenticated).to.equal(undefined);
        else expect(authenticated).to.include({ identity: c.user, method: c.method });
        expect(evs.at(-1)).to.include({ type: 'connection-closed', reason: 'terminate' });
      });
    }

    for (const [method, user] of [['scram-sha-256', 'test'], ['md5', 'md5user']] as const) {
      it(`${method}, wrong password: DatabaseError 28P01 FATAL with no detail, as from PostgreSQL 15.20`, async () => {
        const client = new Client({ host: '127.0.0.1', port, user, password: 'wrong', database: 'postgres' });
        const err = await client.connect().then(() => null, (e: unknown) => e);
        await server.idle();
        expect(err).to.be.instanceOf(DatabaseError);
        const e = err as InstanceType<typeof DatabaseError>;
        expect({ code: e.code, severity: e.severity, message: e.message, detail: e.detail, hint: e.hint, file: e.file, line: e.line, routine: e.routine })
          .to.deep.equal({ code: '28P01', severity: 'FATAL', message: `password authentication failed for user "${user}"`, detail: undefined, hint: undefined, file: 'auth.c', line: '334', routine: 'auth_failed' });
        expect(hookCalls).to.deep.equal([{ user, status: -1, ssl: false }]);
      });
    }
  });

  describe('over TCP, with TLS', () => {
    const sslFacts = 'SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

    for (const [name, ssl] of [
      ['ssl: { ca } (the certificate is verified, 127.0.0.1 is in its SAN)', { ca }],
      ['ssl: { rejectUnauthorized: false }', { rejectUnauthorized: false }],
    ] as const) {
      it(`${name}: a TLS session, and pg_stat_ssl describes it`, async () => {
        let facts: unknown;
        let showSsl: unknown;
        const evs = await during(server, events, async () => {
          await withClient({ host: '127.0.0.1', port, user: 'test', password: 'secret', database: 'postgres', ssl }, async (client) => {
            facts = (await client.query(sslFacts)).rows[0];
            showSsl = (await client.query('SHOW ssl')).rows[0];
          });
        });
        const tlsUp = evs.find((e) => e.type === 'tls-established');
        expect(tlsUp).to.include({ protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' });
        expect(facts).to.deep.equal({ ssl: true, version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' });
        expect(showSsl).to.deep.equal({ ssl: 'on' });
        // pg offers channel binding only when asked (enableChannelBinding).
        expect(saslMechanism(evs)).to.deep.equal(['SASLInitialResponse(SCRAM-SHA-256)']);
        expect(hookCalls).to.deep.equal([{ user: 'test', status: 0, ssl: true }]);
      });
    }

    it('enableChannelBinding: SCRAM-SHA-256-PLUS with tls-server-end-point', async () => {
      let rows: unknown;
      const evs = await during(server, events, async () => {
        await withClient({ host: '127.0.0.1', port, user: 'test', password: 'secret', database: 'postgres', ssl: { ca }, enableChannelBinding: true }, async (client) => {
          rows = (await client.query('SELECT 1')).rows;
        });
      });
      expect(rows).to.deep.equal([{ '?column?': 1 }]);
      expect(saslMechanism(evs)).to.deep.equal(['SASLInitialResponse(SCRAM-SHA-256-PLUS)']);
      expect(authRequests(evs)).to.include('AuthenticationSASLFinal');
    });

    it('cert: a client certificate with CN=test logs in as test; the identity is the subject DN', async () => {
      let user: unknown;
      const evs = await during(server, events, async () => {
        await withClient({
          host: '127.0.0.1', port, user: 'test', database: 'certdb',
          ssl: { ca, cert: readFileSync(path.join(CERTS, 'client.crt')), key: readFileSync(path.join(CERTS, 'client.key')) },
        }, async (client) => {
          user = (await client.query('SELECT current_user')).rows[0];
        });
      });
      expect(user).to.deep.equal({ current_user: 'test' });
      expect(evs.find((e) => e.type === 'authenticated')).to.include({ identity: 'CN=test', method: 'cert' });
      expect(authRequests(evs)).to.deep.equal([]);
      expect(hookCalls).to.deep.equal([{ user: 'test', status: 0, ssl: true }]);
    });
  });

  describe('over the in-memory transport (pg `stream` option)', () => {
    /** pg calls connect(port, host) on its stream and waits for 'connect'; an in-memory socket is connected already. */
    function memoryStream(): MemorySocket {
      const s = server.connect('127.0.0.1', 54321);
      Object.assign(s, { connect: () => { setImmediate(() => s.emit('connect')); return s; } });
      return s;
    }

    it('scram-sha-256 and a query, with no port at all', async () => {
      let user: unknown;
      const evs = await during(server, events, async () => {
        await withClient({ stream: memoryStream, user: 'test', password: 'secret', database: 'postgres' }, async (client) => {
          user = (await client.query('SELECT current_user')).rows[0];
        });
      });
      expect(user).to.deep.equal({ current_user: 'test' });
      expect(evs[0]).to.include({ type: 'connection-received', remoteHost: '127.0.0.1', remotePort: 54321 });
      expect(authRequests(evs)).to.deep.equal(['AuthenticationSASL', 'AuthenticationSASLContinue', 'AuthenticationSASLFinal']);
      expect(hookCalls).to.deep.equal([{ user: 'test', status: 0, ssl: false }]);
      expect(evs.at(-1)).to.include({ type: 'connection-closed', reason: 'terminate' });
    });

    it('a wrong password arrives as the same DatabaseError', async () => {
      const client = new Client({ stream: memoryStream, user: 'test', password: 'wrong', database: 'postgres' });
      const err = await client.connect().then(() => null, (e: unknown) => e);
      await server.idle();
      expect(err).to.be.instanceOf(DatabaseError);
      expect(err).to.include({ code: '28P01', severity: 'FATAL', message: 'password authentication failed for user "test"', detail: undefined });
    });
  });
});
