/**
 * The conformance kit: scenarios as data, the field-by-field comparison and
 * its reports, and the runner itself, with real psql and psycopg against the
 * real PostgreSQL 15 and pg-authsim. A small grid must agree in every field;
 * the same grid against a deliberately misconfigured simulator must produce
 * exactly the differences that misconfiguration explains, and no others.
 *
 * The runner parts need root, the postgres OS user and PostgreSQL 15 (as
 * spec/conformance/real-server.spec.ts does); psycopg is pip-installed from
 * the configured index if missing.
 */
import { expect } from 'chai';
import {
  cases, CA_FILE, conninfoOptions, defaultScenarios, filterScenarios, groupScenarios, hbaLine, SSLMODES, type Scenario,
} from '../../src/conformance/scenarios.js';
import {
  compareObservations, differences, exitCodeFor, FIELDS, formatField, renderReport, type ConformanceReport, type Observation,
} from '../../src/conformance/compare.js';
import { conformanceMain, logObservation, parseConformanceArgs, runConformance } from '../../src/conformance/runner.js';
import { PG15_BIN } from '../../src/conformance/real-server.js';

const ok: Observation = {
  exitCode: 0, stdout: '1\n', clientError: '', tcpConnections: 1, hookCalls: ['OK/ssl'], sqlstates: [],
  errorLog: [[]], connectionLog: [['LOG:  connection received: host=127.0.0.1 port=$CLIENTPORT']],
};

describe('conformance scenarios', () => {
  const grid = defaultScenarios();

  it('gives every default scenario a unique id', () => {
    expect(new Set(grid.map((s) => s.id)).size).to.equal(grid.length);
  });

  // The acceptance list, each item as a predicate some scenario must satisfy.
  const required: Array<[string, (s: Scenario) => boolean]> = [
    ['server ssl on', (s) => s.serverSsl],
    ['server ssl off', (s) => !s.serverSsl],
    ['a host line', (s) => s.hbaLine.startsWith('host ')],
    ['a hostssl line', (s) => s.hbaLine.startsWith('hostssl ')],
    ['a hostnossl line', (s) => s.hbaLine.startsWith('hostnossl ')],
    ['a reject line', (s) => s.method === 'reject'],
    ['a line that matches nothing', (s) => s.hbaLine.includes(' 10.0.0.0/8 ')],
    ['trust', (s) => s.method === 'trust'],
    ['password', (s) => s.method === 'password'],
    ['md5', (s) => s.method === 'md5'],
    ['scram-sha-256', (s) => s.method === 'scram-sha-256'],
    ['an md5 secret under a scram line', (s) => s.method === 'scram-sha-256' && s.user === 'md5user'],
    ['a missing role', (s) => s.user === 'ghost' && !s.roles.includes('ghost')],
    ['the right password', (s) => s.password === 'right'],
    ['a wrong password', (s) => s.password === 'wrong'],
    ['no password', (s) => s.password === 'none'],
    ['psycopg', (s) => s.client === 'psycopg'],
    ['sslnegotiation=direct with sslmode=require (psql)', (s) => s.sslnegotiation === 'direct' && s.sslmode === 'require' && s.client === 'psql'],
    ['sslnegotiation=direct with sslmode=require (psycopg)', (s) => s.sslnegotiation === 'direct' && s.sslmode === 'require' && s.client === 'psycopg'],
    ...SSLMODES.map((m): [string, (s: Scenario) => boolean] => [`sslmode=${m}`, (s) => s.sslmode === m]),
  ];
  for (const [what, pred] of required) {
    it(`covers ${what}`, () => {
      expect(grid.filter(pred), what).to.not.be.empty;
    });
  }

  it('groups by server ssl, hba line and roles: one real server per group, 11 per major', () => {
    const groups = groupScenarios(grid);
    expect(groups).to.have.length(11);
    for (const g of groups) {
      expect(new Set(g.map((s) => `${s.serverSsl}|${s.hbaLine}|${s.roles}`)).size).to.equal(1);
    }
    expect(groups.flat()).to.have.length(grid.length);
  });

  it('filters by a substring of the id', () => {
    const hostssl = filterScenarios(grid, 'hostssl-');
    expect(hostssl).to.not.be.empty;
    expect(hostssl.every((s) => s.hbaLine.startsWith('hostssl '))).to.equal(true);
    expect(filterScenarios(grid, undefined)).to.have.length(grid.length);
  });

  it('writes the connection string, with the CA for verify-* and sslnegotiation when asked', () => {
    const [s] = cases(hbaLine('host', 'md5'), { serverSsl: true, users: ['test'], passwords: ['wrong'], sslmodes: ['verify-full'], sslnegotiation: 'direct' });
    expect(s!.id).to.equal('host-md5/ssl=on/test/wrong/verify-full+direct/psql');
    expect(conninfoOptions(s!)).to.equal(`host=127.0.0.1 user=test dbname=postgres sslmode=verify-full sslrootcert=${CA_FILE} sslnegotiation=direct`);
  });
});

describe('conformance comparison', () => {
  it('finds nothing between equal observations and names each differing field', () => {
    expect(compareObservations(ok, structuredClone(ok))).to.deep.equal([]);
    const other: Observation = { ...ok, tcpConnections: 2, hookCalls: ['ERROR/ssl', 'ERROR/plain'] };
    expect(compareObservations(ok, other)).to.deep.equal([
      { field: 'tcpConnections', real: '1', sim: '2' },
      { field: 'hookCalls', real: 'OK/ssl', sim: 'ERROR/ssl, ERROR/plain' },
    ]);
  });

  it('shows log fields one line per message, numbered by connection', () => {
    const o: Observation = { ...ok, errorLog: [['FATAL:  a', 'DETAIL:  b'], ['FATAL:  c']] };
    expect(formatField('errorLog', o)).to.equal('[1] FATAL:  a\n[1] DETAIL:  b\n[2] FATAL:  c');
    expect(formatField('errorLog', ok)).to.equal('(nothing in 1 connection)');
    expect(formatField('stdout', { ...ok, stdout: '' })).to.equal('(empty)');
  });

  it('reads SQLSTATEs, hook calls and per-connection lines from a verbose log', () => {
    const n = { dataDir: '/tmp/x/data', port: 5999 };
    const obs = logObservation([
      { connection: 7, text: 'LOG:  00000: connection received: host=127.0.0.1 port=40000' },
      { connection: 7, text: 'LOCATION:  BackendInitialize, postmaster.c:4364' },
      { connection: 7, text: 'LOG:  00000: hook_probe: status=ERROR ssl=on pid=7' },
      { connection: 7, text: 'FATAL:  28P01: password authentication failed for user "test"' },
      { connection: 7, text: 'DETAIL:  Connection matched file "/tmp/x/data/pg_hba.conf" line 1: "host all all 127.0.0.1/32 md5"' },
      { connection: 7, text: 'LOCATION:  auth_failed, auth.c:323' },
      { connection: 9, text: 'LOG:  00000: connection received: host=127.0.0.1 port=40002' },
      { connection: 9, text: 'LOG:  08P01: invalid length of startup packet' },
    ], n);
    expect(obs).to.deep.equal({
      tcpConnections: 2,
      hookCalls: ['ERROR/ssl'],
      sqlstates: ['28P01'],
      errorLog: [
        ['FATAL:  password authentication failed for user "test"', 'DETAIL:  Connection matched file "$DATA/pg_hba.conf" line 1: "host all all 127.0.0.1/32 md5"'],
        [],
      ],
      connectionLog: [
        ['LOG:  connection received: host=127.0.0.1 port=$CLIENTPORT'],
        ['LOG:  connection received: host=127.0.0.1 port=$CLIENTPORT', 'LOG:  invalid length of startup packet'],
      ],
    });
  });

  const scenario = cases(hbaLine('host', 'scram-sha-256'), { serverSsl: true, users: ['test'], passwords: ['wrong'], sslmodes: ['prefer'] })[0]!;
  const report = (sim: Observation): ConformanceReport => ({
    versions: [{ major: 16, realVersion: '16.14', cases: 1, agreeing: 0, differing: 1, errors: 0, skipped: 0, seconds: 1 }],
    results: [{ major: 16, scenario, real: ok, sim }],
    notes: [],
    seconds: 1,
  });

  it('exits 1 on any difference and 0 when everything agrees', () => {
    expect(exitCodeFor(report({ ...ok, exitCode: 2 }))).to.equal(1);
    expect(exitCodeFor(report(ok))).to.equal(0);
    expect(exitCodeFor({ ...report(ok), results: [{ major: 16, scenario, real: ok, sim: null, error: 'did not start' }] })).to.equal(1);
  });

  it('renders the report as a table, as Markdown and as JSON', () => {
    const r = report({ ...ok, sqlstates: ['28P01'] });
    const table = renderReport(r, 'table');
    expect(table).to.include('Agreement per version');
    expect(table).to.include('[16] host-scram-sha-256/ssl=on/test/wrong/prefer/psql  sqlstates\n  real:       (none)\n  pg-authsim: 28P01\n');
    const md = renderReport(r, 'markdown');
    expect(md).to.include('| version | real server | cases | agreeing | differing | errors | skipped | seconds |');
    expect(md).to.include('| 16 | host-scram-sha-256/ssl=on/test/wrong/prefer/psql | sqlstates | (none) | 28P01 |');
    const json = JSON.parse(renderReport(r, 'json')) as { differences: unknown[]; versions: unknown[] };
    expect(json.differences).to.deep.equal([{ major: 16, caseId: scenario.id, field: 'sqlstates', real: '(none)', sim: '28P01' }]);
    expect(json.versions).to.have.length(1);
  });
});

describe('conformance command line', () => {
  it('parses versions, format, filter, clients, jobs and auth delay', () => {
    const p = parseConformanceArgs(['--versions', '17,15', '--format', 'markdown', '--filter', 'hostssl', '--clients', 'psycopg', '--jobs', '3', '--auth-delay', '0']);
    expect(p.format).to.equal('markdown');
    expect(p.options).to.deep.equal({ versions: [17, 15], filter: 'hostssl', clients: ['psycopg'], jobs: 3, authDelayMs: 0 });
  });

  const bad: Array<[string[], string]> = [
    [['--versions', '14'], 'unknown version "14"'],
    [['--format', 'csv'], 'unknown format "csv"'],
    [['--pg-bin', '/x', '--versions', '15'], '--pg-bin and --versions exclude each other'],
    [['--jobs', '0'], '--jobs needs an integer of at least 1'],
    [['--clients', 'jdbc'], 'unknown client "jdbc"'],
  ];
  for (const [argv, message] of bad) {
    it(`refuses ${argv.join(' ')} with exit code 2`, async () => {
      let err = '';
      const code = await conformanceMain(argv, { stdout: () => {}, stderr: (t) => { err += t; } });
      expect(code).to.equal(2);
      expect(err).to.include(message);
    });
  }

  it('lists scenario ids with --list', async () => {
    let out = '';
    expect(await conformanceMain(['--list', '--filter', 'nomatch'], { stdout: (t) => { out += t; }, stderr: () => {} })).to.equal(0);
    expect(out.trim().split('\n')).to.deep.equal(filterScenarios(defaultScenarios(), 'nomatch').map((s) => s.id));
  });
});

/** Two groups (a scram line with TLS, an md5 line without), psql and psycopg: small enough for the default suite. */
function smallGrid(): Scenario[] {
  const scram = hbaLine('host', 'scram-sha-256');
  const md5 = hbaLine('host', 'md5');
  return [
    ...cases(scram, { serverSsl: true, users: ['test'], passwords: ['right', 'wrong', 'none'], sslmodes: ['disable', 'prefer', 'require'] }),
    ...cases(scram, { serverSsl: true, users: ['md5user', 'ghost'], passwords: ['wrong'], sslmodes: ['prefer'] }),
    ...cases(scram, { serverSsl: true, users: ['test'], passwords: ['wrong'], sslmodes: ['prefer'], clients: ['psycopg'] }),
    ...cases(md5, { serverSsl: false, users: ['md5user', 'test'], passwords: ['right', 'wrong'], sslmodes: ['prefer'] }),
  ];
}

describe('conformance runner: real PostgreSQL 15 against pg-authsim', function () {
  this.timeout(120_000);
  const grid = smallGrid();
  let report: ConformanceReport;
  let altered: ConformanceReport;

  before(async () => {
    // Both runs at once: four servers, two at a time each.
    [report, altered] = await Promise.all([
      runConformance({ versions: [15], scenarios: grid, jobs: 2 }),
      // pg-authsim without TLS where the real server has it.
      runConformance({ versions: [15], scenarios: grid, jobs: 2, alterSimulator: (s) => ({ ...s, serverSsl: false }) }),
    ]);
  });

  const result = (r: ConformanceReport, id: string) => r.results.find((x) => x.scenario.id === id) ?? expect.fail(`no result for ${id}`);

  it('agrees in every field of every case', () => {
    const diffs = differences(report.results);
    expect(diffs, renderReport(report, 'table')).to.deep.equal([]);
    expect(report.results.filter((r) => r.error !== undefined || r.skipped !== undefined).map((r) => `${r.scenario.id}: ${r.error ?? r.skipped}`)).to.deep.equal([]);
    expect(report.versions).to.have.length(1);
    expect(report.versions[0]).to.include({ major: 15, cases: grid.length, agreeing: grid.length, differing: 0, errors: 0, skipped: 0 });
    expect(report.versions[0]!.realVersion).to.match(/^15\.\d+/);
    expect(exitCodeFor(report)).to.equal(0);
  });

  it('observed real behaviour, not two empty records: the prefer double attempt on a wrong password', () => {
    for (const client of ['psql', 'psycopg']) {
      const r = result(report, `host-scram-sha-256/ssl=on/test/wrong/prefer/${client}`);
      expect(r.real).to.include({ exitCode: 2, tcpConnections: 2 });
      expect(r.real!.hookCalls).to.deep.equal(['ERROR/ssl', 'ERROR/plain']);
      expect(r.real!.sqlstates).to.deep.equal(['28P01', '28P01']);
      expect(r.real!.errorLog).to.deep.equal([1, 2].map(() => [
        'FATAL:  password authentication failed for user "test"',
        'DETAIL:  Connection matched pg_hba.conf line 1: "host all all 127.0.0.1/32 scram-sha-256"',
      ]));
      expect(r.real!.clientError).to.include('port $PORT failed: FATAL:  password authentication failed for user "test"');
    }
    const none = result(report, 'host-scram-sha-256/ssl=on/test/none/prefer/psql');
    expect(none.real!.hookCalls).to.deep.equal(['EOF/ssl']);
    expect(none.real!.clientError).to.equal('psql: error: connection to server at "127.0.0.1", port $PORT failed: fe_sendauth: no password supplied\n');
    const ok15 = result(report, 'host-md5/ssl=off/md5user/right/prefer/psql');
    expect(ok15.real).to.include({ exitCode: 0, tcpConnections: 1 });
    expect(ok15.real!.connectionLog[0]).to.include('LOG:  connection authenticated: identity="md5user" method=md5 ($DATA/pg_hba.conf:1)');
  });

  it('finds the differences a simulator without TLS causes, in the fields that show them', () => {
    expect(exitCodeFor(altered)).to.equal(1);
    const diffs = differences(altered.results);
    const fieldsOf = (id: string) => diffs.filter((d) => d.caseId === id).map((d) => d.field);
    // A wrong password under prefer: TLS then plaintext on the real server, plaintext only on the simulator.
    expect(fieldsOf('host-scram-sha-256/ssl=on/test/wrong/prefer/psql')).to.deep.equal(['clientError', 'tcpConnections', 'hookCalls', 'sqlstates', 'errorLog', 'connectionLog']);
    const hooks = diffs.find((d) => d.caseId === 'host-scram-sha-256/ssl=on/test/wrong/prefer/psql' && d.field === 'hookCalls');
    expect(hooks).to.include({ real: 'ERROR/ssl, ERROR/plain', sim: 'ERROR/plain' });
    // sslmode=require: a login on the real server, "server does not support SSL" from the simulator.
    expect(fieldsOf('host-scram-sha-256/ssl=on/test/right/require/psql')).to.include.members(['exitCode', 'stdout', 'clientError', 'hookCalls', 'connectionLog']);
    const requireErr = diffs.find((d) => d.caseId === 'host-scram-sha-256/ssl=on/test/right/require/psql' && d.field === 'clientError');
    expect(requireErr?.sim).to.include('server does not support SSL, but SSL was required');
    // A successful prefer login: the same everywhere except the TLS in the log and the hook's ssl flag.
    expect(fieldsOf('host-scram-sha-256/ssl=on/test/right/prefer/psql')).to.deep.equal(['hookCalls', 'connectionLog']);
    // Every field name is one the comparison knows.
    for (const d of diffs) expect(FIELDS).to.include(d.field);
  });

  it('reports no difference where TLS plays no part: sslmode=disable, and the group without TLS', () => {
    const unaffected = altered.results.filter((r) => r.scenario.sslmode === 'disable' || !r.scenario.serverSsl);
    expect(unaffected.length).to.equal(3 + 4);
    expect(differences(unaffected)).to.deep.equal([]);
    expect(altered.versions[0]).to.include({ cases: grid.length, agreeing: unaffected.length, differing: grid.length - unaffected.length, errors: 0 });
  });

  it('notices a different hba method on the simulator (md5 for scram-sha-256) where it shows', async () => {
    const few = grid.filter((s) => s.serverSsl && s.client === 'psql' && s.sslmode === 'prefer' && s.password === 'wrong' && s.user !== 'ghost');
    const r = await runConformance({ versions: [15], scenarios: few, alterSimulator: (s) => ({ ...s, hba: s.hba.replace('scram-sha-256', 'md5') }) });
    const diffs = differences(r.results);
    // test has a SCRAM secret: an md5 line runs SCRAM too, so only the line quoted in the DETAIL differs.
    expect(diffs.filter((d) => d.caseId === 'host-scram-sha-256/ssl=on/test/wrong/prefer/psql').map((d) => d.field)).to.deep.equal(['errorLog']);
    // md5user: its md5 secret cannot serve a scram line (real) but can an md5 line (simulator); the DETAIL says which.
    const md5user = diffs.filter((d) => d.caseId === 'host-scram-sha-256/ssl=on/md5user/wrong/prefer/psql');
    expect(md5user.map((d) => d.field)).to.deep.equal(['errorLog']);
    expect(md5user[0]!.real).to.include('DETAIL:  User "md5user" does not have a valid SCRAM secret.');
  });

  it('runs against a bin directory given as --pg-bin would (Debian 15 here)', async () => {
    const two = grid.filter((s) => s.id === 'host-scram-sha-256/ssl=on/test/right/require/psql' || s.id === 'host-scram-sha-256/ssl=on/ghost/wrong/prefer/psql');
    const r = await runConformance({ pgBin: PG15_BIN, scenarios: two });
    expect(r.versions.map((v) => [v.major, v.cases, v.agreeing])).to.deep.equal([[15, 2, 2]]);
    expect(result(r, 'host-scram-sha-256/ssl=on/test/right/require/psql').real).to.include({ exitCode: 0 });
  });
});
