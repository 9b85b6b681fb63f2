/**
 * The psycopg profile (src/clients/psycopg.ts: libpq 18 model, psycopg-binary build, plus
 * psycopg's own connect loop) against the REAL psycopg 3 on this machine (psycopg-binary
 * wheel, libpq 18 with GSSAPI and OpenSSL 3.5). One Python process runs every case:
 * psycopg.connect(conninfo) over TCP to a pg-authsim cluster, then `select 1` with the
 * simple query protocol. The model runs in-process against the same cluster. Each case must
 * give the same exception class and str(), TCP connections, hook calls and server log.
 */
import { expect } from 'chai';
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { TestCluster, hookCallLabel } from '../../src/testing/index.js';
import { SeededRandom } from '../../src/random.js';
import { inProcessTransport } from '../../src/clients/libpq/transport.js';
import { psycopgConnect, PSYCOPG_LIBPQ_VERSION, PSYCOPG_VERSION, pyRepr } from '../../src/clients/psycopg.js';
import { SSLMODES } from '../../src/matrix/matrix.js';
import { knownKeywords, resolveConnOptions } from '../../src/clients/conninfo.js';
import { PSYCOPG_BINARY_BUILD } from '../../src/clients/libpq/connect.js';
import { CERTS } from '../support/fixtures.js';

const home = tempDir('pg-authsim-psycopg-');
const NO_PASSFILE = path.join(home, 'no-pgpass');
const CA = path.join(CERTS, 'ca.crt');

/** Reads one JSON case per line, answers one JSON line; prints versions first. */
const DRIVER = `
import json, os, sys, time
import psycopg
print(json.dumps({"psycopg": psycopg.__version__, "libpq": psycopg.pq.version(), "impl": psycopg.pq.__impl__}), flush=True)
for line in sys.stdin:
    case = json.loads(line)
    for k in ("PGPASSWORD", "PGHOST", "PGPORT", "PGCONNECT_TIMEOUT"):
        os.environ.pop(k, None)
    os.environ.update(case["env"])
    started = time.monotonic()
    try:
        conn = psycopg.connect(case["conninfo"])
        conn.pgconn.exec_(b"select 1")
        conn.close()
        out = {"ok": True}
    except Exception as ex:
        out = {"ok": False, "type": type(ex).__name__, "message": str(ex)}
    out["elapsed"] = time.monotonic() - started
    print(json.dumps(out), flush=True)
`;
import { ROLES, HBA, LINES, PASSWORDS, probe, type Line, type Pw } from '../support/client-grid.js';
import { tempDir } from '../support/temp.js';

interface PyResult { ok: boolean; type?: string; message?: string; elapsed: number }

class Python {
  private constructor(private readonly child: ChildProcessWithoutNullStreams, private readonly lines: AsyncIterator<string>, readonly versions: Record<string, unknown>) {}

  static async start(): Promise<Python> {
    const child = spawn('python3', ['-u', '-c', DRIVER], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', HOME: home, PGPASSFILE: NO_PASSFILE },
    });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error(`psycopg is not importable (pip install "psycopg[binary]"): ${stderr}`);
    return new Python(child, lines, JSON.parse(first.value) as Record<string, unknown>);
  }

  async connect(conninfo: string, env: Record<string, string>): Promise<PyResult> {
    this.child.stdin.write(`${JSON.stringify({ conninfo, env })}\n`);
    const line = await this.lines.next();
    if (line.done) throw new Error('the psycopg driver process ended');
    return JSON.parse(line.value) as PyResult;
  }

  stop(): void {
    this.child.stdin.end();
  }
}


function startCluster(serverVersion: number, ssl: boolean, extra: Record<string, string | number | boolean> = {}): Promise<TestCluster> {
  return TestCluster.start({
    clock: 'real',
    postgresqlConf: { server_version: String(serverVersion), ssl, log_connections: true, ...extra },
    hba: HBA, roles: ROLES, extensions: [probe],
  });
}

interface Outcome { ok: boolean; type: string | null; message: string | null; tcp: number; hooks: string[]; log: string }

async function observe(cluster: TestCluster, run: () => Promise<{ ok: boolean; type?: string | null; message?: string | null }>): Promise<Outcome> {
  cluster.trace.clear();
  const r = await run();
  await cluster.idle();
  return {
    ok: r.ok, type: r.type ?? null, message: r.message ?? null,
    tcp: cluster.trace.connectionCount(),
    hooks: cluster.trace.hookCalls().map(hookCallLabel),
    log: cluster.trace.log('').replace(/ port=\d+/g, ' port=N'),
  };
}

function expectSame(model: Outcome, real: Outcome): void {
  expect(model.message, 'str(exception)').to.equal(real.message);
  expect(model.type, 'exception class').to.equal(real.type);
  expect(model.ok, 'connected').to.equal(real.ok);
  expect(model.tcp, 'TCP connections').to.equal(real.tcp);
  expect(model.hooks, 'hook calls').to.deep.equal(real.hooks);
  expect(model.log, 'server log').to.equal(real.log);
}

describe(`psycopg ${PSYCOPG_VERSION} profile vs the real psycopg (psycopg-binary, libpq 18)`, function () {
  this.timeout(60000);
  let py: Python;
  let closedPort = 0;
  before(async () => {
    py = await Python.start();
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    closedPort = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
  });
  after(() => py.stop());

  const model = (cluster: TestCluster, port: number, conninfo: string, password: string | null) => async () => {
    const r = await psycopgConnect(conninfo, {
      transport: inProcessTransport((_host, p) => (p === port ? cluster.server : null)),
      clock: cluster.clock, random: new SeededRandom(1),
      environ: { PGPASSFILE: NO_PASSFILE, ...(password !== null ? { PGPASSWORD: password } : {}) },
      osUser: 'root', homeDir: home,
    });
    if (r.ok) {
      await r.connection.exec('select 1');
      await r.connection.close();
      return { ok: true };
    }
    return { ok: false, type: r.type, message: r.message };
  };
  const real = (conninfo: string, password: string | null) => () => py.connect(conninfo, password !== null ? { PGPASSWORD: password } : {});

  it(`is the psycopg the profile describes: ${PSYCOPG_VERSION}, binary, PQlibVersion ${PSYCOPG_LIBPQ_VERSION}`, () => {
    expect(py.versions).to.deep.equal({ psycopg: PSYCOPG_VERSION, libpq: PSYCOPG_LIBPQ_VERSION, impl: 'binary' });
  });

  for (const ssl of ['on', 'off'] as const) {
    describe(`server 18, ssl=${ssl}: every line kind × password × sslmode`, () => {
      let cluster: TestCluster;
      let port: number;
      before(async () => {
        cluster = await startCluster(18, ssl === 'on');
        port = await cluster.listen();
      });
      after(() => cluster.close());

      for (const line of Object.keys(LINES) as Line[]) {
        for (const pw of Object.keys(PASSWORDS) as Pw[]) {
          for (const sslmode of SSLMODES) {
            it(`${line}/${pw}/${sslmode}`, async () => {
              const conninfo = `host=127.0.0.1 port=${port} user=${LINES[line]} dbname=postgres sslmode=${sslmode} sslrootcert=${CA}`;
              const password = PASSWORDS[pw];
              const r = await observe(cluster, real(conninfo, password));
              const m = await observe(cluster, model(cluster, port, conninfo, password));
              expectSame(m, r);
            });
          }
        }
      }
    });
  }

  describe("psycopg's own layer: attempts per host, its own timeout, its messages", () => {
    let cluster: TestCluster;
    let port: number;
    let old: TestCluster;
    let oldPort: number;
    before(async () => {
      cluster = await startCluster(18, true);
      port = await cluster.listen();
      old = await startCluster(15, true);
      oldPort = await old.listen();
    });
    after(async () => { await cluster.close(); await old.close(); });

    const AT = 'connection to server at "127.0.0.1", port $PORT failed: ';
    const WRONG = 'FATAL:  password authentication failed for user "test"';
    const CASES: Array<{ name: string; conninfo: string; pw: Pw; server?: 'old'; tcp: number; hooks: string[]; error: [string, string] | null }> = [
      {
        name: 'a wrong password moves on to the next host (libpq alone would stop): 2 × prefer = 4 logins',
        conninfo: 'host=127.0.0.1,127.0.0.1 sslmode=prefer', pw: 'wrong', tcp: 4, hooks: ['ERROR/ssl', 'ERROR/plain', 'ERROR/ssl', 'ERROR/plain'],
        error: ['OperationalError', [
          `connection failed: ${AT}${WRONG}\n${AT}${WRONG}`,
          'Multiple connection attempts failed. All failures were:',
          `- host: '127.0.0.1', port: '$PORT', hostaddr: '127.0.0.1': connection failed: ${AT}${WRONG}\n${AT}${WRONG}`,
          `- host: '127.0.0.1', port: '$PORT', hostaddr: '127.0.0.1': connection failed: ${AT}${WRONG}\n${AT}${WRONG}`,
        ].join('\n')],
      },
      {
        name: 'psycopg resolves names itself: libpq gets hostaddr and names the address only',
        conninfo: 'host=localhost sslmode=disable', pw: 'wrong', tcp: 1, hooks: ['ERROR/plain'],
        error: ['OperationalError', `connection failed: ${AT}${WRONG}`],
      },
      {
        name: 'the first host refuses, the second one logs in',
        conninfo: 'host=127.0.0.1,127.0.0.1 port=$CLOSED,$PORT', pw: 'right', tcp: 1, hooks: ['OK/ssl'], error: null,
      },
      {
        name: 'nothing listening: "connection failed", the connect() was under way',
        conninfo: 'port=$CLOSED', pw: 'right', tcp: 0, hooks: [],
        error: ['OperationalError', 'connection failed: connection to server at "127.0.0.1", port $CLOSED failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?'],
      },
      {
        name: 'a Unix socket that is not there fails inside PQconnectStart: "connection is bad"',
        conninfo: 'host=/nonexistent-pg-authsim', pw: 'right', tcp: 0, hooks: [],
        error: ['OperationalError', 'connection is bad: connection to server on socket "/nonexistent-pg-authsim/.s.PGSQL.$PORT" failed: No such file or directory\n\tIs the server running locally and accepting connections on that socket?'],
      },
      {
        name: 'gssencmode=require: libpq 17+ with GSSAPI refuses before connecting, without naming the server',
        conninfo: 'gssencmode=require', pw: 'right', tcp: 0, hooks: [],
        error: ['OperationalError', 'connection is bad: GSSAPI encryption required but no credential cache'],
      },
      {
        name: 'an unknown keyword is a ProgrammingError with libpq\'s newline kept',
        conninfo: 'sslmode=prefer bogus=1', pw: 'right', tcp: 0, hooks: [],
        error: ['ProgrammingError', 'invalid connection option "bogus"\n'],
      },
      {
        name: 'connect_timeout is psycopg\'s to parse',
        conninfo: 'connect_timeout=soon', pw: 'right', tcp: 0, hooks: [],
        error: ['ProgrammingError', "bad value for connect_timeout: 'soon'"],
      },
      {
        name: 'sslnegotiation=direct under the default sslmode',
        conninfo: 'sslnegotiation=direct', pw: 'right', tcp: 0, hooks: [],
        error: ['OperationalError', 'connection is bad: weak sslmode "prefer" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")'],
      },
      {
        name: 'sslnegotiation=direct against 18',
        conninfo: 'sslnegotiation=direct sslmode=require', pw: 'right', tcp: 1, hooks: ['OK/ssl'], error: null,
      },
      {
        name: 'sslnegotiation=direct against 15: OpenSSL 3.5 calls the hang-up an SSL error',
        conninfo: 'sslnegotiation=direct sslmode=require', pw: 'right', server: 'old', tcp: 1, hooks: [],
        error: ['OperationalError', `connection failed: ${AT}SSL error: unexpected eof while reading`],
      },
      {
        name: 'prefer-standby: a standby pass, then an any pass, as separate attempts',
        conninfo: 'target_session_attrs=prefer-standby', pw: 'right', tcp: 2, hooks: ['OK/ssl', 'OK/ssl'], error: null,
      },
      {
        name: 'read-only on a primary',
        conninfo: 'target_session_attrs=read-only', pw: 'right', tcp: 1, hooks: ['OK/ssl'],
        error: ['OperationalError', `connection failed: ${AT}session is not read-only`],
      },
    ];

    for (const c of CASES) {
      it(c.name, async () => {
        const { cl, p } = c.server === 'old' ? { cl: old, p: oldPort } : { cl: cluster, p: port };
        const fill = (s: string) => s.replaceAll('$CLOSED', String(closedPort)).replaceAll('$PORT', String(p));
        let conninfo = fill(c.conninfo);
        if (!/\bhost=/.test(conninfo)) conninfo = `host=127.0.0.1 ${conninfo}`;
        if (!/\bport=/.test(conninfo)) conninfo = `port=${p} ${conninfo}`;
        conninfo = `user=test dbname=postgres ${conninfo}`;
        const password = PASSWORDS[c.pw];
        const r = await observe(cl, real(conninfo, password));
        const m = await observe(cl, model(cl, p, conninfo, password));
        expectSame(m, r);
        expect(r.tcp, 'TCP connections').to.equal(c.tcp);
        expect(r.hooks, 'hook calls').to.deep.equal(c.hooks);
        expect(r.ok ? null : [r.type, r.message]).to.deep.equal(c.error === null ? null : [c.error[0], fill(c.error[1])]);
      });
    }
  });

  describe('psycopg enforces connect_timeout itself: at least 2 s, per attempt, libpq never sees it', () => {
    let cluster: TestCluster;
    let port: number;
    before(async () => {
      cluster = await startCluster(18, true, { shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 1200 });
      port = await cluster.listen();
    });
    after(() => cluster.close());

    it('connect_timeout=1 waits 2 s: the SSL login fails at 1.2 s, the plaintext retry is cut off at 2 s', async () => {
      const conninfo = `host=127.0.0.1 port=${port} user=test dbname=postgres sslmode=prefer connect_timeout=1`;
      let realElapsed = 0;
      const r = await observe(cluster, async () => {
        const res = await py.connect(conninfo, { PGPASSWORD: 'nope' });
        realElapsed = res.elapsed;
        return res;
      });
      const started = performance.now();
      const m = await observe(cluster, async () => {
        const res = await model(cluster, port, conninfo, 'nope')();
        expect(performance.now() - started, 'model gave up after (ms)').to.be.within(1950, 2400);
        return res;
      });
      expectSame(m, r);
      expect(realElapsed, 'psycopg gave up after (s)').to.be.within(1.95, 2.4);
      expect([r.type, r.message]).to.deep.equal(['ConnectionTimeout', 'connection timeout expired']);
      expect(r.hooks).to.deep.equal(['ERROR/ssl', 'ERROR/plain']);
    });
  });
});

describe("the wheel's libpq: keywords and compiled-in defaults vs psycopg.pq.Conninfo.get_defaults()", () => {
  it('the same keywords in the same order; gssencmode defaults to disable although GSSAPI is compiled in', () => {
    const real = JSON.parse(execFileSync('python3', ['-c',
      'import json, psycopg; print(json.dumps([[d.keyword.decode(), None if d.compiled is None else d.compiled.decode()] for d in psycopg.pq.Conninfo.get_defaults()]))',
    ], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home } })) as Array<[string, string | null]>;
    expect(knownKeywords(18)).to.deep.equal(real.map(([k]) => k));
    const resolved = resolveConnOptions(new Map(), {
      version: 18, gssapi: PSYCOPG_BINARY_BUILD.gssapi, gssencmodeDefault: PSYCOPG_BINARY_BUILD.gssencmodeDefault, environ: {}, osUser: 'u',
    });
    expect(resolved.ok && Object.fromEntries([...resolved.options.values].filter(([k]) => k !== 'user')))
      .to.deep.equal(Object.fromEntries(real.filter(([, c]) => c !== null)));
  });
});

describe('psycopg profile details (model only)', () => {
  it('Python repr() of the attempt descriptions', () => {
    const cases: Array<[string | null, string]> = [
      [null, 'None'], ['127.0.0.1', "'127.0.0.1'"], ["it's", '"it\'s"'], ['a\'b"c', "'a\\'b\"c'"], ['tab\there', "'tab\\there'"], ['back\\slash', "'back\\\\slash'"],
    ];
    for (const [input, repr] of cases) expect(pyRepr(input), String(input)).to.equal(repr);
  });
});
