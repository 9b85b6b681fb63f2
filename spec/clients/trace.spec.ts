/**
 * The client decision trace of the libpq model and psql's wrapper: for each scenario, the
 * decisions in order (with the TCP connection they belong to), the rule and the fe-connect.c /
 * fe-auth.c / startup.c line they come from, and that the story agrees with what the server
 * saw (one `connect` per connection received, hook calls as usual).
 */
import { expect } from 'chai';
import { TestCluster } from '../../src/testing/index.js';
import type { ClientTraceEvent } from '../../src/clients/trace.js';

interface Case {
  title: string;
  hba: string;
  ssl: boolean;
  conninfo: string;
  password?: string;
  prompt?: string;
  libpq?: 15 | 16 | 17 | 18;
  /** `attempt decision rule` per event. */
  story: string[];
  /** Where the decisive rule lives: rule → function:line (version). */
  sources?: Record<string, string>;
  hooks: string[];
}

const SCRAM = 'host all all 0.0.0.0/0 scram-sha-256';
const HOSTSSL = 'hostssl all all 0.0.0.0/0 scram-sha-256';

const TLS_OPEN = ['1 connect libpq.connect', '1 request-ssl libpq.ssl-request', '1 start-tls libpq.ssl-accepted', '1 send-startup libpq.send-startup'];
const SCRAM_PLUS = ['1 auth-response libpq.sasl-plus', '1 auth-response libpq.sasl-continue'];

/** prefer + a wrong password against ssl=on: SSL, 28P01, one plaintext retry, 28P01 again. */
const PREFER_WRONG = [
  ...TLS_OPEN, ...SCRAM_PLUS,
  '1 retry-new-connection libpq.server-error-retry-prefer',
  '2 connect libpq.connect', '2 send-startup libpq.send-startup',
  '2 auth-response libpq.sasl-plain', '2 auth-response libpq.sasl-continue',
  '2 give-up libpq.server-error-fail',
];

const CASES: Case[] = [
  {
    title: 'prefer, wrong password, ssl=on: SSL, an error before authentication completed, a plaintext retry, then give-up',
    hba: SCRAM, ssl: true, conninfo: 'user=test dbname=postgres sslmode=prefer', password: 'wrong',
    story: PREFER_WRONG,
    sources: {
      'libpq.server-error-retry-prefer': 'fe-connect.c PQconnectPoll:3425 (libpq 15.1)',
      'libpq.server-error-fail': 'fe-connect.c PQconnectPoll:3437 (libpq 15.1)',
      'libpq.ssl-request': 'fe-connect.c PQconnectPoll:2955 (libpq 15.1)',
    },
    hooks: ['ERROR/ssl', 'ERROR/plain'],
  },
  {
    title: 'the same with libpq 17: connection_failed() moves to the next allowed method',
    hba: SCRAM, ssl: true, conninfo: 'user=test dbname=postgres sslmode=prefer', password: 'wrong', libpq: 17,
    story: PREFER_WRONG,
    sources: { 'libpq.server-error-retry-prefer': 'fe-connect.c PQconnectPoll:3841 (libpq 17.2)' },
    hooks: ['ERROR/ssl', 'ERROR/plain'],
  },
  {
    title: 'hostssl: the plaintext retry is rejected before any authentication request',
    hba: HOSTSSL, ssl: true, conninfo: 'user=test dbname=postgres sslmode=prefer', password: 'wrong',
    story: [
      ...TLS_OPEN, ...SCRAM_PLUS,
      '1 retry-new-connection libpq.server-error-retry-prefer',
      '2 connect libpq.connect', '2 send-startup libpq.send-startup',
      '2 give-up libpq.server-error-fail',
    ],
    hooks: ['ERROR/ssl'],
  },
  {
    title: 'psql without a password: hang up, prompt, reconnect (three connections for a mistyped password)',
    hba: SCRAM, ssl: true, conninfo: 'user=test dbname=postgres sslmode=prefer', prompt: 'wrong',
    story: [
      ...TLS_OPEN,
      '1 hang-up libpq.sasl-no-password',
      '1 prompt-password psql.prompt-password',
      '2 connect libpq.connect', '2 request-ssl libpq.ssl-request', '2 start-tls libpq.ssl-accepted', '2 send-startup libpq.send-startup',
      '2 auth-response libpq.sasl-plus', '2 auth-response libpq.sasl-continue',
      '2 retry-new-connection libpq.server-error-retry-prefer',
      '3 connect libpq.connect', '3 send-startup libpq.send-startup',
      '3 auth-response libpq.sasl-plain', '3 auth-response libpq.sasl-continue',
      '3 give-up libpq.server-error-fail',
    ],
    sources: {
      'libpq.sasl-no-password': 'fe-auth.c pg_SASL_init:560 (libpq 15.1)',
      'psql.prompt-password': 'startup.c main:276 (psql 15.1)',
    },
    hooks: ['EOF/ssl', 'ERROR/ssl', 'ERROR/plain'],
  },
  {
    title: 'prefer against ssl=off: N, then plaintext on the same connection, and the right password',
    hba: SCRAM, ssl: false, conninfo: 'user=test dbname=postgres sslmode=prefer', password: 'secret',
    story: [
      '1 connect libpq.connect', '1 request-ssl libpq.ssl-request', '1 continue-plaintext libpq.ssl-refused-continue',
      '1 send-startup libpq.send-startup', '1 auth-response libpq.sasl-plain', '1 auth-response libpq.sasl-continue',
      '1 auth-response libpq.sasl-continue', '1 done libpq.connected',
    ],
    hooks: ['OK/plain'],
  },
  {
    title: 'require against ssl=off: N, and give-up without a startup packet',
    hba: SCRAM, ssl: false, conninfo: 'user=test dbname=postgres sslmode=require', password: 'secret',
    story: ['1 connect libpq.connect', '1 request-ssl libpq.ssl-request', '1 give-up libpq.ssl-refused-required'],
    sources: { 'libpq.ssl-refused-required': 'fe-connect.c PQconnectPoll:3066 (libpq 15.1)' },
    hooks: [],
  },
  {
    title: 'libpq 17, allow against ssl=off, wrong password: plaintext fails, SSL is refused, nothing is left',
    hba: SCRAM, ssl: false, conninfo: 'user=test dbname=postgres sslmode=allow', password: 'wrong', libpq: 17,
    story: [
      '1 connect libpq.connect', '1 send-startup libpq.send-startup', '1 auth-response libpq.sasl-plain', '1 auth-response libpq.sasl-continue',
      '1 retry-new-connection libpq.server-error-retry-allow',
      '2 connect libpq.connect', '2 request-ssl libpq.ssl-request', '2 give-up libpq.ssl-refused-required',
    ],
    hooks: ['ERROR/plain'],
  },
];

describe('client decision trace: libpq and psql', () => {
  for (const c of CASES) {
    it(c.title, async () => {
      const cluster = await TestCluster.start({
        postgresqlConf: { ssl: c.ssl, shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 2000 }, hba: c.hba, roles: "CREATE ROLE test LOGIN PASSWORD 'secret';",
      });
      try {
        const events: ClientTraceEvent[] = [];
        const r = await cluster.psql(c.conninfo, {
          ...(c.password !== undefined ? { password: c.password } : {}),
          ...(c.prompt !== undefined ? { prompt: async () => c.prompt! } : {}),
          ...(c.libpq ? { libpq: c.libpq } : {}),
          onTrace: (e) => events.push(e),
        });
        await cluster.idle();
        expect(events.map((e) => `${e.attempt} ${e.decision} ${e.rule}`)).to.deep.equal(c.story);
        // The story agrees with the server: one `connect` per connection it received, one per attempt psql reports.
        expect(events.filter((e) => e.decision === 'connect')).to.have.length(cluster.trace.connectionCount());
        expect(r.attempts).to.have.length(cluster.trace.connectionCount());
        expect(cluster.trace.hookCalls().map((h) => `${h.status}/${h.ssl ? 'ssl' : 'plain'}`)).to.deep.equal(c.hooks);
        for (const e of events) {
          expect(e.type).to.equal('client-decision');
          expect(e.client).to.equal('psql');
          expect(e.reason.length, e.rule).to.be.greaterThan(20);
          expect(e.source.line, e.rule).to.be.a('number');
          expect(e.source.version, e.rule).to.match(/^(libpq|psql) 1[5-8]\.\d+/);
        }
        // On virtual time too, events come in clock order.
        expect(events.map((e) => e.time)).to.deep.equal([...events.map((e) => e.time)].sort((a, b) => a - b));
        for (const [rule, where] of Object.entries(c.sources ?? {})) {
          const e = events.find((x) => x.rule === rule)!;
          expect(`${e.source.file.split('/').at(-1)} ${e.source.function}:${e.source.line} (${e.source.version})`, rule).to.equal(where);
        }
      } finally {
        await cluster.close();
      }
    });
  }

  it('says why in words a learner can follow: the server error, the sslmode, and what happens next', async () => {
    const cluster = await TestCluster.start({ postgresqlConf: { ssl: true }, hba: SCRAM, roles: "CREATE ROLE test LOGIN PASSWORD 'secret';" });
    try {
      const events: ClientTraceEvent[] = [];
      await cluster.psql('user=test dbname=postgres sslmode=prefer', { password: 'wrong', onTrace: (e) => events.push(e) });
      const retry = events.find((e) => e.decision === 'retry-new-connection')!;
      expect(retry.reason).to.contain('28P01').and.to.contain('sslmode=prefer').and.to.contain('without SSL').and.to.contain('new connection');
      expect(events.find((e) => e.decision === 'give-up')!.reason).to.contain('gives up');
    } finally {
      await cluster.close();
    }
  });
});

describe('client decision trace: psycopg', () => {
  it("numbers TCP connections across psycopg's attempts and says why it moves on after a wrong password", async () => {
    const cluster = await TestCluster.start({ postgresqlConf: { ssl: true }, hba: SCRAM, roles: "CREATE ROLE test LOGIN PASSWORD 'secret';" });
    try {
      const { psycopgConnect } = await import('../../src/clients/psycopg.js');
      const { inProcessTransport } = await import('../../src/clients/libpq/transport.js');
      const { SeededRandom } = await import('../../src/random.js');
      const events: ClientTraceEvent[] = [];
      const r = await psycopgConnect('host=127.0.0.1,127.0.0.1 user=test dbname=postgres sslmode=prefer', {
        transport: inProcessTransport(cluster.server), clock: cluster.clock, random: new SeededRandom(1),
        environ: { PGPASSWORD: 'wrong' }, homeDir: null, osUser: 'test', onTrace: (e) => events.push(e),
      });
      await cluster.idle();
      expect(r.ok).to.equal(false);
      expect(events.every((e) => e.client === 'psycopg')).to.equal(true);
      expect(events.filter((e) => e.decision === 'connect').map((e) => e.attempt)).to.deep.equal([1, 2, 3, 4]);
      expect(cluster.trace.connectionCount()).to.equal(4);
      const next = events.filter((e) => e.rule === 'psycopg.next-attempt');
      expect(next).to.have.length(1);
      expect(next[0]!.attempt).to.equal(2);
      expect(next[0]!.source).to.deep.equal({ file: 'psycopg/connection.py', function: 'Connection.connect', line: 102, version: 'psycopg 3.3.6' });
      expect(events.at(-1)!.decision).to.equal('give-up');
    } finally {
      await cluster.close();
    }
  });
});

describe('client decision trace: driver models on the engine', () => {
  interface DriverCase { driver: string; ssl: boolean; sslmode?: string; password: string | null; story: string[]; source?: [string, string] }
  const DRIVER_CASES: DriverCase[] = [
    {
      driver: 'asyncpg', ssl: true, sslmode: 'prefer', password: 'wrong',
      story: ['1 connect', '1 request-ssl', '1 start-tls', '1 send-startup', '1 auth-response', '1 auth-response', '1 retry-new-connection',
        '2 connect', '2 send-startup', '2 auth-response', '2 auth-response', '2 give-up'],
      source: ['retry-new-connection', 'asyncpg/connect_utils.py __connect_addr:1111 (asyncpg 0.31.0)'],
    },
    {
      driver: 'pgjdbc', ssl: true, sslmode: 'prefer', password: 'wrong',
      story: ['1 connect', '1 request-ssl', '1 start-tls', '1 send-startup', '1 auth-response', '1 auth-response', '1 give-up'],
      source: ['give-up', 'org/postgresql/core/v3/ConnectionFactoryImpl.java openConnectionImpl:367 (pgjdbc 42.7.13)'],
    },
    {
      driver: 'pgjdbc', ssl: true, sslmode: 'prefer', password: null,
      story: ['1 connect', '1 request-ssl', '1 start-tls', '1 send-startup', '1 hang-up'],
      source: ['hang-up', 'org/postgresql/core/v3/ConnectionFactoryImpl.java doAuthentication:1012 (pgjdbc 42.7.13)'],
    },
    {
      driver: 'postgres.js', ssl: false, sslmode: 'prefer', password: 'secret',
      story: ['1 connect', '1 request-ssl', '1 continue-plaintext', '1 send-startup', '1 auth-response', '1 auth-response', '1 auth-response', '1 done'],
      source: ['continue-plaintext', 'postgres/src/connection.js secure:271 (postgres 3.4.9)'],
    },
    {
      driver: 'pg', ssl: true, password: null,
      story: ['1 connect', '1 send-startup', '1 auth-response', '1 give-up'],
      source: ['give-up', 'pg/lib/client.js Client._handleErrorWhileConnecting:400 (pg 8.23.1)'],
    },
  ];
  for (const c of DRIVER_CASES) {
    it(`${c.driver}, ssl=${c.ssl ? 'on' : 'off'}, sslmode=${c.sslmode ?? 'unset'}, ${c.password === null ? 'no' : c.password === 'secret' ? 'the right' : 'a wrong'} password: ends in ${c.story.at(-1)!.split(" ")[1]}`, async () => {
      const { DRIVER_PROFILES } = await import('../../src/clients/drivers/index.js');
      const { inProcessTransport } = await import('../../src/clients/libpq/transport.js');
      const { SeededRandom } = await import('../../src/random.js');
      const cluster = await TestCluster.start({ postgresqlConf: { ssl: c.ssl }, hba: SCRAM, roles: "CREATE ROLE test LOGIN PASSWORD 'secret';" });
      try {
        const events: ClientTraceEvent[] = [];
        const r = await DRIVER_PROFILES[c.driver]!.connect(
          { host: '127.0.0.1', port: 5432, user: 'test', database: 'postgres', password: c.password, options: c.sslmode ? { sslmode: c.sslmode } : {} },
          { transport: inProcessTransport(cluster.server), random: new SeededRandom(1), clock: cluster.clock, onTrace: (e) => events.push(e) },
        );
        await cluster.idle();
        expect(events.map((e) => `${e.attempt} ${e.decision}`)).to.deep.equal(c.story);
        expect(events.filter((e) => e.decision === 'connect')).to.have.length(cluster.trace.connectionCount());
        expect(r.attempts).to.have.length(cluster.trace.connectionCount());
        expect(events.every((e) => e.client === c.driver && e.reason.length > 20 && e.rule?.startsWith(`${c.driver}.`))).to.equal(true);
        if (c.source) {
          const e = events.find((x) => x.decision === c.source![0])!;
          expect(`${e.source.file} ${e.source.function}:${e.source.line} (${e.source.version})`).to.equal(c.source[1]);
        }
      } finally {
        await cluster.close();
      }
    });
  }
});
