/**
 * The driver models on their own, in-process on the virtual clock (no JVM, no Python, no TCP):
 *
 * - the connection/hook-call tables measured with the real drivers (pg 8.23.1, postgres 3.4.9,
 *   pgjdbc 42.7.13, asyncpg 0.31.0) against PostgreSQL 15.20 and against pg-authsim, kept here
 *   as data so the models are held to them wherever this spec runs;
 * - each driver's option resolution, unit by unit;
 * - behaviour outside the differential grid: node-postgres leaving the socket open until
 *   authentication_timeout, postgres.js's reconnect loop cut by the model, the registry.
 */
import * as chai from 'chai';
import { expect } from 'chai';
import type { Duplex } from 'node:stream';
import { TestCluster, pgAuthsimChai, hookCallLabel } from '../../src/testing/index.js';
import type { ExtensionModule } from '../../src/extensions/extension.js';
import { inProcessTransport, type ClientTransport } from '../../src/clients/libpq/transport.js';
import { duplexPair } from '../../src/server/memory-transport.js';
import { SeededRandom } from '../../src/random.js';
import * as path from 'node:path';
import { CERTS } from '../support/fixtures.js';
import {
  DRIVER_PROFILES, driverProfile, connectNodePostgres, connectPostgresJs, nodePostgresParams, postgresJsParams, pgjdbcSslMode,
  pgjdbcServerMessage, connectAsyncpg, connectPgjdbc,
} from '../../src/clients/drivers/index.js';

chai.use(pgAuthsimChai);

const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';";
const hookProbe: ExtensionModule = {
  name: 'hook_probe',
  _PG_init(ctx) {
    const previous = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => {
      if (previous) await previous(port, status);
    };
  },
};

/**
 * Measured with the real drivers, `host all all 127.0.0.1/32 scram-sha-256`, role test/secret.
 * Row: "server-ssl sslmode"; cells for the right, a wrong and no password: "connections hook-calls".
 * node-postgres's TLS modes fail certificate verification here (the development CA is not in
 * Node's store), which is why they never reach the hook; "none" for node-postgres is with
 * client.end() after the rejection (Terminate: FATAL "expected SASL response", no hook call).
 */
const MEASURED: Record<string, Record<string, [string, string, string]>> = {
  pg: {
    'on disable': ['1 OK/plain', '1 ERROR/plain', '1 -'],
    'on allow': ['1 -', '1 -', '1 -'],
    'on prefer': ['1 -', '1 -', '1 -'],
    'on require': ['1 -', '1 -', '1 -'],
    'on unset': ['1 OK/plain', '1 ERROR/plain', '1 -'],
    'off disable': ['1 OK/plain', '1 ERROR/plain', '1 -'],
    'off allow': ['1 -', '1 -', '1 -'],
    'off prefer': ['1 -', '1 -', '1 -'],
    'off require': ['1 -', '1 -', '1 -'],
    'off unset': ['1 OK/plain', '1 ERROR/plain', '1 -'],
  },
  'pg-libpqcompat': {
    'on disable': ['1 OK/plain', '1 ERROR/plain', '1 -'],
    'on allow': ['1 -', '1 -', '1 -'],
    'on prefer': ['1 OK/ssl', '1 ERROR/ssl', '1 -'],
    'on require': ['1 OK/ssl', '1 ERROR/ssl', '1 -'],
    'on unset': ['1 OK/plain', '1 ERROR/plain', '1 -'],
    'off disable': ['1 OK/plain', '1 ERROR/plain', '1 -'],
    'off allow': ['1 -', '1 -', '1 -'],
    'off prefer': ['1 -', '1 -', '1 -'],
    'off require': ['1 -', '1 -', '1 -'],
    'off unset': ['1 OK/plain', '1 ERROR/plain', '1 -'],
  },
  'postgres.js': {
    'on disable': ['1 OK/plain', '1 ERROR/plain', '1 ERROR/plain'],
    'on allow': ['1 OK/ssl', '1 ERROR/ssl', '1 ERROR/ssl'],
    'on prefer': ['1 OK/ssl', '1 ERROR/ssl', '1 ERROR/ssl'],
    'on require': ['1 OK/ssl', '1 ERROR/ssl', '1 ERROR/ssl'],
    'on unset': ['1 OK/plain', '1 ERROR/plain', '1 ERROR/plain'],
    'off disable': ['1 OK/plain', '1 ERROR/plain', '1 ERROR/plain'],
    'off allow': ['1 -', '1 -', '1 -'],
    'off prefer': ['1 OK/plain', '1 ERROR/plain', '1 ERROR/plain'],
    'off require': ['1 -', '1 -', '1 -'],
    'off unset': ['1 OK/plain', '1 ERROR/plain', '1 ERROR/plain'],
  },
  pgjdbc: {
    'on disable': ['1 OK/plain', '1 ERROR/plain', '1 EOF/plain'],
    'on allow': ['1 OK/plain', '1 ERROR/plain', '1 EOF/plain'],
    'on prefer': ['1 OK/ssl', '1 ERROR/ssl', '1 EOF/ssl'],
    'on require': ['1 OK/ssl', '1 ERROR/ssl', '1 EOF/ssl'],
    'on unset': ['1 OK/ssl', '1 ERROR/ssl', '1 EOF/ssl'],
    'off disable': ['1 OK/plain', '1 ERROR/plain', '1 EOF/plain'],
    'off allow': ['1 OK/plain', '1 ERROR/plain', '1 EOF/plain'],
    'off prefer': ['1 OK/plain', '1 ERROR/plain', '1 EOF/plain'],
    'off require': ['1 -', '1 -', '1 -'],
    'off unset': ['1 OK/plain', '1 ERROR/plain', '1 EOF/plain'],
  },
  asyncpg: {
    'on disable': ['1 OK/plain', '1 ERROR/plain', '1 ERROR/plain'],
    'on allow': ['1 OK/plain', '2 ERROR/plain,ERROR/ssl', '2 ERROR/plain,ERROR/ssl'],
    'on prefer': ['1 OK/ssl', '2 ERROR/ssl,ERROR/plain', '2 ERROR/ssl,ERROR/plain'],
    'on require': ['1 OK/ssl', '1 ERROR/ssl', '1 ERROR/ssl'],
    'on unset': ['1 OK/ssl', '2 ERROR/ssl,ERROR/plain', '2 ERROR/ssl,ERROR/plain'],
    'off disable': ['1 OK/plain', '1 ERROR/plain', '1 ERROR/plain'],
    'off allow': ['1 OK/plain', '2 ERROR/plain', '2 ERROR/plain'],
    'off prefer': ['1 OK/plain', '1 ERROR/plain', '1 ERROR/plain'],
    'off require': ['1 -', '1 -', '1 -'],
    'off unset': ['1 OK/plain', '1 ERROR/plain', '1 ERROR/plain'],
  },
};

/** The lines the grid cannot show: hostssl/hostnossl/reject (measured too). */
const MEASURED_LINES: Array<{ hba: string; ssl: boolean; driver: string; sslmode: string; password: 'right' | 'wrong' | 'none'; expect: string }> = [
  // pgjdbc retries only on 28000: allow's plaintext try hits "no pg_hba.conf entry", the SSL retry gets the hook.
  { hba: 'hostssl', ssl: true, driver: 'pgjdbc', sslmode: 'allow', password: 'wrong', expect: '2 ERROR/ssl' },
  { hba: 'hostssl', ssl: true, driver: 'pgjdbc', sslmode: 'allow', password: 'none', expect: '2 EOF/ssl' },
  { hba: 'hostssl', ssl: true, driver: 'pgjdbc', sslmode: 'prefer', password: 'wrong', expect: '1 ERROR/ssl' },
  { hba: 'hostnossl', ssl: true, driver: 'pgjdbc', sslmode: 'prefer', password: 'wrong', expect: '2 ERROR/plain' },
  { hba: 'hostnossl', ssl: true, driver: 'pgjdbc', sslmode: 'allow', password: 'wrong', expect: '1 ERROR/plain' },
  // ... and even after the server said N: prefer's plaintext attempt got 28000, so it tries plaintext again.
  { hba: 'reject', ssl: false, driver: 'pgjdbc', sslmode: 'prefer', password: 'right', expect: '2 -' },
  { hba: 'reject', ssl: false, driver: 'pgjdbc', sslmode: 'allow', password: 'right', expect: '2 -' },
  // asyncpg: the second attempt is made whatever the first error was in class 28.
  { hba: 'hostssl', ssl: true, driver: 'asyncpg', sslmode: 'prefer', password: 'wrong', expect: '2 ERROR/ssl' },
  { hba: 'hostssl', ssl: true, driver: 'asyncpg', sslmode: 'allow', password: 'none', expect: '2 ERROR/ssl' },
  { hba: 'hostnossl', ssl: true, driver: 'asyncpg', sslmode: 'prefer', password: 'wrong', expect: '2 ERROR/plain' },
  { hba: 'reject', ssl: false, driver: 'asyncpg', sslmode: 'prefer', password: 'right', expect: '1 -' },
  { hba: 'reject', ssl: false, driver: 'asyncpg', sslmode: 'allow', password: 'right', expect: '2 -' },
  { hba: 'hostssl', ssl: true, driver: 'postgres.js', sslmode: 'allow', password: 'wrong', expect: '1 ERROR/ssl' },
  { hba: 'hostnossl', ssl: true, driver: 'postgres.js', sslmode: 'prefer', password: 'wrong', expect: '1 -' },
  { hba: 'hostssl', ssl: true, driver: 'pg-libpqcompat', sslmode: 'prefer', password: 'wrong', expect: '1 ERROR/ssl' },
];

const PASSWORD = { right: 'secret', wrong: 'wrong', none: null } as const;

async function countFor(cluster: TestCluster, driver: string, sslmode: string, password: keyof typeof PASSWORD): Promise<string> {
  cluster.trace.clear();
  await DRIVER_PROFILES[driver]!.connect(
    { host: '127.0.0.1', port: 5432, user: 'test', database: 'postgres', password: PASSWORD[password], options: sslmode === 'unset' ? {} : { sslmode } },
    { transport: inProcessTransport(cluster.server), random: new SeededRandom(7) },
  );
  await cluster.idle();
  const hooks = cluster.trace.hookCalls().map(hookCallLabel).join(',');
  return `${cluster.trace.connectionCount()} ${hooks || '-'}`;
}


/** As on the real servers these tables were measured against (spec/support/real-pg.ts): ssl_ca_file names the CA, so it is in the chain. */
const DEV_CA = path.join(CERTS, 'ca.crt');

describe('driver models (in-process, virtual clock)', () => {
  describe('the tables measured with the real drivers', () => {
    const clusters = new Map<string, TestCluster>();
    const cluster = async (hba: string, ssl: boolean): Promise<TestCluster> => {
      const key = `${hba}/${ssl}`;
      let c = clusters.get(key);
      if (!c) {
        c = await TestCluster.start({ hba: `${hba} all all 127.0.0.1/32 ${hba === 'reject' ? 'reject' : 'scram-sha-256'}`.replace(/^reject/, 'host'), roles: ROLES, postgresqlConf: { ssl, ssl_ca_file: DEV_CA }, extensions: [hookProbe] });
        clusters.set(key, c);
      }
      return c;
    };
    after(async () => { for (const c of clusters.values()) await c.close(); });

    for (const [driver, rows] of Object.entries(MEASURED)) {
      it(`${driver}: ${Object.keys(rows).length} rows × right/wrong/no password against a host scram-sha-256 line`, async () => {
        const got: Record<string, string[]> = {};
        for (const row of Object.keys(rows)) {
          const [ssl, sslmode] = row.split(' ') as [string, string];
          const c = await cluster('host', ssl === 'on');
          got[row] = [await countFor(c, driver, sslmode, 'right'), await countFor(c, driver, sslmode, 'wrong'), await countFor(c, driver, sslmode, 'none')];
        }
        expect(got).to.deep.equal(rows);
      });
    }

    for (const m of MEASURED_LINES) {
      it(`${m.driver}: ${m.hba} line, ssl=${m.ssl ? 'on' : 'off'}, sslmode=${m.sslmode}, ${m.password} password → ${m.expect}`, async () => {
        expect(await countFor(await cluster(m.hba, m.ssl), m.driver, m.sslmode, m.password)).to.equal(m.expect);
      });
    }
  });

  describe('node-postgres: config resolution (pg-connection-string + ConnectionParameters)', () => {
    const env = (environ: Record<string, string> = {}) => ({ transport: { open: () => Promise.reject(new Error('unused')) }, environ, readFile: (p: string) => (p === '/ca.pem' ? Buffer.from('CA') : null) });
    const cases: Array<{ name: string; config: Parameters<typeof nodePostgresParams>[0]; environ?: Record<string, string>; ssl: unknown; password?: string | null; warnings?: number }> = [
      { name: 'no sslmode, no PGSSLMODE: plaintext', config: { connectionString: 'postgres://u:p@h:1/d' }, ssl: false },
      { name: 'PGSSLMODE=allow: plaintext (not in the environment switch)', config: { host: 'h' }, environ: { PGSSLMODE: 'allow' }, ssl: false },
      { name: 'PGSSLMODE=prefer: verified TLS', config: { host: 'h' }, environ: { PGSSLMODE: 'prefer' }, ssl: true },
      { name: 'PGSSLMODE=no-verify: unverified TLS', config: { host: 'h' }, environ: { PGSSLMODE: 'no-verify' }, ssl: { rejectUnauthorized: false } },
      { name: 'URL sslmode=allow: TLS, verified (no case for it)', config: { connectionString: 'postgres://h/d?sslmode=allow' }, ssl: {} },
      { name: 'URL sslmode=prefer: verify-full, with the alias warning', config: { connectionString: 'postgres://h/d?sslmode=prefer' }, ssl: {}, warnings: 1 },
      { name: 'URL sslmode=disable wins over PGSSLMODE', config: { connectionString: 'postgres://h/d?sslmode=disable' }, environ: { PGSSLMODE: 'require' }, ssl: false },
      { name: 'URL sslrootcert alone turns TLS on', config: { connectionString: 'postgres://h/d?sslrootcert=/ca.pem' }, ssl: { ca: 'CA' } },
      { name: 'uselibpqcompat prefer: no verification', config: { connectionString: 'postgres://h/d?sslmode=prefer&uselibpqcompat=true' }, ssl: { rejectUnauthorized: false } },
      { name: 'uselibpqcompat require: no verification', config: { connectionString: 'postgres://h/d?sslmode=require&uselibpqcompat=true' }, ssl: { rejectUnauthorized: false } },
      { name: "an empty password falls through to PGPASSWORD (val() tests truthiness)", config: { host: 'h', password: '' }, environ: { PGPASSWORD: 'fromenv' }, ssl: false, password: 'fromenv' },
      { name: 'no password anywhere: null', config: { connectionString: 'postgres://u@h/d' }, ssl: false, password: null },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const p = nodePostgresParams(c.config, env(c.environ));
        expect(p.ssl).to.deep.equal(c.ssl);
        if (c.password !== undefined) expect(p.password).to.equal(c.password);
        expect(p.warnings.length).to.equal(c.warnings ?? 0);
      });
    }
    it('uselibpqcompat verify-ca without sslrootcert: the Client constructor throws, nothing is sent', async () => {
      let opened = 0;
      const transport: ClientTransport = { open: () => { opened++; return Promise.reject(new Error('unused')); } };
      const r = await connectNodePostgres({ connectionString: 'postgres://u:p@h/d?sslmode=verify-ca&uselibpqcompat=true' }, { transport });
      expect(r.ok).to.equal(false);
      expect(r.error!.message).to.match(/^SECURITY WARNING: Using sslmode=verify-ca requires specifying a CA with sslrootcert/);
      expect(r.attempts).to.deep.equal([]);
      expect(opened).to.equal(0);
    });
    it('sslnegotiation=direct turns TLS on when nothing else did', () => {
      expect(nodePostgresParams({ connectionString: 'postgres://h/d?sslnegotiation=direct' }, env()).ssl).to.equal(true);
    });
  });

  describe('node-postgres without a password: the socket stays open', () => {
    let cluster: TestCluster;
    afterEach(() => cluster.close());

    it("afterRejection 'keep-open': the server gives up at authentication_timeout, with no hook call", async () => {
      cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES, postgresqlConf: { authentication_timeout: '5s' }, extensions: [hookProbe] });
      const r = await connectNodePostgres({ host: '127.0.0.1', user: 'test', database: 'postgres' }, { transport: inProcessTransport(cluster.server) }, { afterRejection: 'keep-open' });
      expect(r.error?.message).to.equal('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string');
      expect(r.attempts).to.deep.equal([{ encryption: 'plain', sslRequested: false, outcome: 'client-error-open', message: 'SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string' }]);
      expect(r.openSocket).to.not.equal(undefined);
      await cluster.idle(); // virtual time runs to the timeout
      expect(cluster.trace).to.have.hookCalls([]);
      expect(cluster.trace.errorsLogged().map((e) => e.message)).to.deep.equal(['canceling authentication due to timeout']);
      r.openSocket!.destroy();
    });

    for (const [after, hooks, logged] of [
      ['end', [], ['expected SASL response, got message type 88']],
      ['destroy', ['EOF/plain'], []],
    ] as const) {
      it(`afterRejection '${after}': hook calls ${JSON.stringify(hooks)}`, async () => {
        cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES, extensions: [hookProbe] });
        await connectNodePostgres({ host: '127.0.0.1', user: 'test', database: 'postgres' }, { transport: inProcessTransport(cluster.server) }, { afterRejection: after });
        await cluster.idle();
        expect(cluster.trace).to.have.hookCalls([...hooks]);
        expect(cluster.trace.errorsLogged().map((e) => e.message)).to.deep.equal([...logged]);
      });
    }
  });

  describe('postgres.js: options', () => {
    const env = (environ: Record<string, string> = {}) => ({ transport: { open: () => Promise.reject(new Error('unused')) }, environ });
    const cases: Array<{ name: string; url: string | null; o?: Parameters<typeof postgresJsParams>[1]; environ?: Record<string, string>; ssl: unknown }> = [
      { name: 'default: no TLS', url: 'postgres://u@h/d', ssl: false },
      { name: 'URL sslmode=disable becomes false', url: 'postgres://u@h/d?sslmode=disable', ssl: false },
      { name: "the ssl option 'disable' stays a (truthy) string", url: null, o: { host: 'h', ssl: 'disable' }, ssl: 'disable' },
      { name: 'PGSSLMODE is not read', url: 'postgres://u@h/d', environ: { PGSSLMODE: 'require' }, ssl: false },
      { name: 'PGSSL is', url: 'postgres://u@h/d', environ: { PGSSL: 'prefer' }, ssl: 'prefer' },
      { name: "PGSSL=disable stays a string (only URL values are turned into false)", url: 'postgres://u@h/d', environ: { PGSSL: 'disable' }, ssl: 'disable' },
      { name: 'sslrootcert=system forces verify-full', url: 'postgres://u@h/d?sslmode=require&sslrootcert=system', ssl: 'verify-full' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(postgresJsParams(c.url, c.o ?? {}, env(c.environ)).ssl).to.deep.equal(c.ssl);
      });
    }
    it("the password defaults to '' and unknown URL parameters become startup parameters", () => {
      const p = postgresJsParams('postgres://u@h/d?sslrootcert=system&search_path=x', {}, env());
      expect(p.pass).to.equal('');
      expect(p.connection).to.deep.equal([['application_name', 'postgres.js'], ['sslrootcert', 'system'], ['search_path', 'x']]);
    });
    it("ssl: 'disable' as an option means verified TLS: against the development certificate it fails, no hook call", async () => {
      const cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES, postgresqlConf: { ssl: true, ssl_ca_file: DEV_CA }, extensions: [hookProbe] });
      try {
        const r = await connectPostgresJs(null, { host: '127.0.0.1', user: 'test', password: 'secret', database: 'postgres', ssl: 'disable' }, { transport: inProcessTransport(cluster.server) });
        await cluster.idle();
        expect(r.error).to.deep.equal({ message: 'self-signed certificate in certificate chain', code: 'SELF_SIGNED_CERT_IN_CHAIN', name: 'Error' });
        expect(cluster.trace).to.have.hookCalls([]);
      } finally {
        await cluster.close();
      }
    });
  });

  describe('postgres.js: a silent close while connecting', () => {
    /** Answers nothing and hangs up after the startup packet, every time. */
    const silent = (): ClientTransport & { opened: number } => {
      const t = {
        opened: 0,
        open: async (): Promise<Duplex> => {
          t.opened++;
          const [client, server] = duplexPair();
          server.once('data', () => server.end());
          return client;
        },
      };
      return t;
    };
    it('reconnects until the model stops it (the driver would not)', async () => {
      const transport = silent();
      const r = await connectPostgresJs('postgres://test:x@127.0.0.1:5432/postgres', {}, { transport }, { stormLimit: 4 });
      expect(transport.opened).to.equal(4);
      expect(r.attempts.map((a) => a.outcome)).to.deep.equal(['closed', 'closed', 'closed', 'closed']);
      expect(r.error).to.include({ code: 'RECONNECT_STORM' });
    });
  });

  describe('pgjdbc', () => {
    const modes: Array<[Parameters<typeof pgjdbcSslMode>[0], unknown]> = [
      [{}, 'prefer'],
      [{ ssl: 'true' }, 'verify-full'],
      [{ ssl: '' }, 'verify-full'],
      [{ ssl: 'false' }, 'prefer'],
      [{ sslmode: 'REQUIRE' }, 'require'],
      [{ sslmode: 'disable', ssl: 'true' }, 'disable'],
      [{ sslmode: 'sometimes' }, { error: 'Invalid sslmode value: sometimes' }],
    ];
    for (const [props, mode] of modes) {
      it(`SslMode.of(${JSON.stringify(props)}) → ${JSON.stringify(mode)}`, () => {
        expect(pgjdbcSslMode(props)).to.deep.equal(mode);
      });
    }
    it('ServerErrorMessage.toString(): severity, message, then Detail and Hint lines', () => {
      expect(pgjdbcServerMessage({ severity: 'FATAL', code: '28000', message: 'm', detail: 'd', hint: 'h' })).to.equal('FATAL: m\n  Detail: d\n  Hint: h');
    });
    it('md5 without a password: the password-based message ("by plugin null", as the real 42.7.13 says), the hook sees EOF', async () => {
      const cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 md5', roles: `SET password_encryption = 'md5';\n${ROLES}`, extensions: [hookProbe] });
      try {
        const r = await connectPgjdbc({ host: '127.0.0.1', port: 5432, user: 'test', database: 'postgres', sslmode: 'disable' }, { transport: inProcessTransport(cluster.server) });
        await cluster.idle();
        expect(r.error).to.deep.equal({ message: 'The server requested password-based authentication, but no password was provided by plugin null', code: '08004', name: 'PSQLException' });
        expect(cluster.trace).to.have.hookCalls(['EOF/plain']);
      } finally {
        await cluster.close();
      }
    });
  });

  describe('asyncpg', () => {
    it('PGSSLMODE is read when ssl is not given', async () => {
      const cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES, postgresqlConf: { ssl: true, ssl_ca_file: DEV_CA }, extensions: [hookProbe] });
      try {
        await connectAsyncpg({ host: '127.0.0.1', port: 5432, user: 'test', database: 'postgres', password: 'wrong' }, { transport: inProcessTransport(cluster.server), environ: { PGSSLMODE: 'require' } });
        await cluster.idle();
        expect(cluster.trace).to.have.hookCalls(['ERROR/ssl']);
      } finally {
        await cluster.close();
      }
    });
    it('verify-full without any root certificate fails before connecting', async () => {
      let opened = 0;
      const r = await connectAsyncpg(
        { host: '127.0.0.1', port: 5432, user: 'test', database: 'postgres', ssl: 'verify-full' },
        { transport: { open: () => { opened++; return Promise.reject(new Error('unused')); } }, homeDir: '/nowhere' },
      );
      expect(opened).to.equal(0);
      expect(r.error?.name).to.equal('ClientConfigurationError');
      expect(r.error?.message).to.equal('root certificate file "/nowhere/.postgresql/root.crt" does not exist or cannot be accessed\nHINT:  Provide the certificate file directly or make sure "/nowhere/.postgresql/root.crt" exists and is readable.');
    });
    it('an unknown sslmode is refused', async () => {
      const r = await connectAsyncpg({ host: 'h', port: 1, user: 'u', database: 'd', ssl: 'sometimes' }, { transport: { open: () => Promise.reject(new Error('unused')) } });
      expect(r.error?.name).to.equal('ClientConfigurationError');
    });
  });

  describe('the registry', () => {
    it('names every driver and resolves aliases', () => {
      expect(Object.keys(DRIVER_PROFILES)).to.deep.equal(['pg', 'pg-libpqcompat', 'postgres.js', 'pgjdbc', 'asyncpg', 'pgx', 'lib/pq']);
      const byAlias: Array<[string, string]> = [
        ['node-postgres', 'pg'], ['POSTGRES', 'postgres.js'], ['postgres-js', 'postgres.js'], ['jdbc', 'pgjdbc'], ['asyncpg', 'asyncpg'],
        ['pgx-v4', 'pgx'], ['pgconn', 'pgx'], ['pq', 'lib/pq'], ['lib-pq', 'lib/pq'], ['go-pq', 'lib/pq'],
      ];
      for (const [alias, name] of byAlias) expect(driverProfile(alias)?.name, alias).to.equal(name);
      expect(driverProfile('psycopg')).to.equal(undefined);
    });
    it('every profile offers sslmode, with what happens when it is unset', () => {
      for (const p of Object.values(DRIVER_PROFILES)) {
        const sslmode = p.options.find((o) => o.name === 'sslmode');
        expect(sslmode, p.name).to.not.equal(undefined);
        expect(sslmode!.values, p.name).to.include.members(['disable', 'allow', 'prefer', 'require']);
        expect(sslmode!.unset, p.name).to.be.a('string').and.not.equal('');
      }
    });
    it('a refused TCP connection is one connect-failed attempt, in every driver', async () => {
      const transport: ClientTransport = { open: () => Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })) };
      for (const p of Object.values(DRIVER_PROFILES)) {
        const r = await p.connect({ host: '127.0.0.1', port: 1, user: 'u', database: 'd', password: 'x', options: { sslmode: 'disable' } }, { transport });
        expect(r.ok, p.name).to.equal(false);
        expect(r.attempts.map((a) => a.outcome), p.name).to.deep.equal(['connect-failed']);
      }
    });
  });
});
