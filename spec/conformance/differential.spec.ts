/**
 * The extension differential's parts: scenario files (grids, defaults,
 * mistakes named), `--extension` and the other command-line options, how
 * shared_preload_libraries maps C libraries to ports, how harness output is
 * made comparable, and the installation overlay that lets a real server load
 * a user's build and CREATE EXTENSION it without touching the system's
 * PostgreSQL. The overlay is shown with our own oracle/hook_probe given a
 * control file and an install script in a temp dir.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { expandScenarios, groupByHba, readScenarioFile, type ExtensionScenarioFile } from '../../src/conformance/extension-scenarios.js';
import { harnessText, HARNESS_HBA_LINE, parseExtensionArg, preloadLists } from '../../src/conformance/differential.js';
import { conformanceMain, parseConformanceArgs } from '../../src/conformance/runner.js';
import { buildHookProbe } from '../../src/conformance/probe.js';
import { extensionBuild, overlayInstallation } from '../../src/conformance/overlay.js';
import { locatePostgres, PG15_BIN, RealPostgres } from '../../src/conformance/real-server.js';
import { ROOT } from '../support/fixtures.js';
import { tempDir } from '../support/temp.js';

const base: ExtensionScenarioFile = {
  roles: "CREATE ROLE test LOGIN PASSWORD 'secret';",
  hba: { host: 'host all all 127.0.0.1/32 scram-sha-256', hostssl: 'hostssl all all 127.0.0.1/32 scram-sha-256' },
  cases: [],
};

describe('extension differential: scenario files', () => {
  it('expands a case whose fields are lists into every combination, ids made from the values under its own', () => {
    const s = expandScenarios({ ...base, cases: [{ id: 'grid', hba: ['host', 'hostssl'], sslmode: ['prefer', 'require'], password: ['right', 'wrong'] }] });
    expect(s.cases.map((c) => c.id)).to.deep.equal([
      'grid/host/test/prefer/right', 'grid/host/test/prefer/wrong', 'grid/host/test/require/right', 'grid/host/test/require/wrong',
      'grid/hostssl/test/prefer/right', 'grid/hostssl/test/prefer/wrong', 'grid/hostssl/test/require/right', 'grid/hostssl/test/require/wrong',
    ]);
  });

  it('fills in defaults: user test, dbname postgres, libpq\'s own sslmode, one run, reset before the case', () => {
    const [c] = expandScenarios({ ...base, cases: [{ id: 'one', hba: 'host', password: 'none' }] }).cases;
    expect(c).to.deep.equal({ id: 'one', hba: 'host', user: 'test', dbname: 'postgres', sslmode: null, password: 'none', options: '', repeat: 1, reset: true, before: null });
  });

  it('groups cases by pg_hba.conf variant in the order they first appear, each group in file order', () => {
    const s = expandScenarios({ ...base, cases: [
      { id: 'a', hba: 'host', password: 'right' }, { id: 'b', hba: 'hostssl', password: 'right' }, { id: 'c', hba: 'host', password: 'wrong' },
    ] });
    expect(groupByHba(s.cases).map((g) => g.map((c) => c.id))).to.deep.equal([['a', 'c'], ['b']]);
  });

  const mistakes: Array<[string, Partial<ExtensionScenarioFile>, string]> = [
    ['an unknown hba variant', { cases: [{ hba: 'hostnossl', password: 'right' }] }, 'hba "hostnossl" is not one of host, hostssl'],
    ['an unknown password kind', { cases: [{ hba: 'host', password: 'maybe' as never }] }, 'unknown password "maybe"'],
    ['an unknown sslmode', { cases: [{ hba: 'host', sslmode: 'sometimes' as never, password: 'right' }] }, 'unknown sslmode "sometimes"'],
    ['a repeat of 0', { cases: [{ hba: 'host', password: 'right', repeat: 0 }] }, 'repeat must be a positive integer'],
    ['a misspelt case field', { cases: [{ hba: 'host', password: 'right', repaet: 2 } as never] }, 'unknown field "repaet"'],
    ['a misspelt file field', { staet: 'SELECT 1' } as never, 'unknown field "staet"'],
    ['two cases with one id', { cases: [{ id: 'x', hba: 'host', password: 'right' }, { id: 'x', hba: 'host', password: 'wrong' }] }, 'two cases have the id "x"'],
    ['no cases', { cases: [] }, '"cases" must be a non-empty list'],
    ['a case without a password', { cases: [{ hba: 'host' } as never] }, '"password" is required'],
  ];
  for (const [what, change, message] of mistakes) {
    it(`names ${what}`, () => {
      expect(() => expandScenarios({ ...base, ...change }, 'my.json')).to.throw(Error, message).with.property('message').that.matches(/^my\.json/);
    });
  }

  it('reads the worked examples\' files', () => {
    for (const f of ['credcheck', 'pg_auth_mon']) {
      const s = readScenarioFile(path.join(ROOT, 'examples', 'extensions', `${f}.scenarios.json`));
      expect(s.cases.length, f).to.be.greaterThan(20);
      expect(s.file.state, f).to.be.a('string');
    }
  });
});

describe('extension differential: libraries, harness output, command line', () => {
  it('takes LIBRARY.so=PORT (live) and NAME=PORT (replaying a recording)', () => {
    expect(parseExtensionArg('build/credcheck.so=dist/credcheck.js')).to.deep.equal({
      name: 'credcheck', library: path.resolve('build/credcheck.so'), port: path.resolve('dist/credcheck.js'),
    });
    expect(parseExtensionArg('credcheck=x.js')).to.deep.equal({ name: 'credcheck', library: null, port: path.resolve('x.js') });
    expect(() => parseExtensionArg('credcheck.so')).to.throw('--extension needs LIBRARY=PORT');
  });

  it('puts each C library\'s port in its place in shared_preload_libraries, appending libraries not listed', () => {
    const pairs = [parseExtensionArg('/b/credcheck.so=/p/credcheck.js'), parseExtensionArg('/b/pg_auth_mon.so=/p/pam.js')];
    expect(preloadLists({ shared_preload_libraries: 'auth_delay, credcheck' }, pairs)).to.deep.equal({
      real: ['auth_delay', 'credcheck', 'pg_auth_mon'],
      sim: ['auth_delay', '/p/credcheck.js', '/p/pam.js'],
    });
  });

  it('makes harness output comparable: timestamps masked, rows of an unordered query sorted, errors and exit code kept', () => {
    const n = { dataDir: '/tmp/d', port: 5999 };
    const run = { exitCode: 0, stdout: 'roleid,banned_date\n16385,2026-12-07 04:48:26.844617\n16384,\n', stderr: '' };
    expect(harnessText(run, 'SELECT * FROM pg_banned_role', n)).to.equal('roleid,banned_date\n16384,\n16385,<timestamp>\n');
    expect(harnessText(run, 'SELECT * FROM pg_banned_role ORDER BY 1 DESC', n)).to.equal('roleid,banned_date\n16385,<timestamp>\n16384,\n');
    const failed = { exitCode: 1, stdout: '', stderr: 'psql:<stdin>:1: ERROR:  relation "nope" does not exist\n' };
    expect(harnessText(failed, 'SELECT * FROM nope', n)).to.equal('[stderr] psql:<stdin>:1: ERROR:  relation "nope" does not exist\n[exit 1]\n');
  });

  it('gives the harness the first pg_hba.conf line, for its own role only', () => {
    expect(HARNESS_HBA_LINE).to.equal('host all authsim_harness 127.0.0.1/32 trust');
  });

  it('parses --scenarios with its options, and refuses the grid\'s options with it', () => {
    const p = parseConformanceArgs(['--scenarios', 'f.json', '--extension', 'a.so=a.js', '--extension', 'b=b.js', '--state', 'SELECT 1', '--against', 'r.json']);
    expect(p.differential).to.deep.include({ scenarios: 'f.json', state: 'SELECT 1', against: 'r.json' });
    expect(p.differential!.extensions.map((e) => e.name)).to.deep.equal(['a', 'b']);
    expect(() => parseConformanceArgs(['--scenarios', 'f.json'])).to.throw('--scenarios needs at least one --extension');
    expect(() => parseConformanceArgs(['--scenarios', 'f.json', '--extension', 'a=a.js', '--versions', '16'])).to.throw('--versions is for the conformance grid');
    expect(() => parseConformanceArgs(['--extension', 'a=a.js'])).to.throw('--extension needs --scenarios FILE');
    expect(() => parseConformanceArgs(['--scenarios', 'f.json', '--extension', 'a=a.js', '--record', 'x', '--against', 'y'])).to.throw('exclude each other');
  });

  it('documents the differential in --help', async () => {
    let out = '';
    expect(await conformanceMain(['--help'], { stdout: (t) => { out += t; }, stderr: () => {} })).to.equal(0);
    for (const s of ['--scenarios FILE', '--extension L=P', '--state SQL', '--reset SQL', '--record FILE', '--against FILE']) expect(out).to.include(s);
  });

  it('says which library it lacks when asked to run live with only a name', async () => {
    let err = '';
    const code = await conformanceMain(['--scenarios', path.join(ROOT, 'examples', 'extensions', 'credcheck.scenarios.json'), '--extension', 'credcheck=x.js'],
      { stdout: () => {}, stderr: (t) => { err += t; } });
    expect(code).to.equal(1);
    expect(err).to.include('no built library for credcheck');
  });
});

describe('extension differential: the installation overlay', function () {
  this.timeout(120_000);

  before(function () {
    if (!existsSync(path.join(PG15_BIN, 'postgres'))) this.skip(); // no PostgreSQL 15 here
  });

  it('loads a build by name and runs CREATE EXTENSION from its directory, leaving the system\'s PostgreSQL alone', async () => {
    // Our own probe, given what pgxs would install beside it: a control file and an install script.
    const dir = tempDir('pg-authsim-overlay-');
    const so = path.join(dir, 'hook_probe.so');
    writeFileSync(so, readFileSync(await buildHookProbe(15)));
    writeFileSync(path.join(dir, 'hook_probe.control'), "default_version = '1.0'\nmodule_pathname = '$libdir/hook_probe'\nrelocatable = true\n");
    mkdirSync(path.join(dir, 'sql'));
    writeFileSync(path.join(dir, 'sql', 'hook_probe--1.0.sql'), "CREATE FUNCTION hook_probe_version() RETURNS text LANGUAGE sql AS $$ SELECT 'probe 1.0' $$;\n");
    const build = extensionBuild(so);
    expect(build.name).to.equal('hook_probe');
    expect(build.sqlFiles.map((f) => path.relative(dir, f))).to.deep.equal(['hook_probe.control', 'sql/hook_probe--1.0.sql']);

    const system = locatePostgres(15);
    const before = readdirSync(system.pkglibDir).length;
    const overlay = overlayInstallation(system, [build]);
    let pg: RealPostgres | null = null;
    try {
      pg = await RealPostgres.start({
        major: 15, installation: overlay.install, hba: 'host all all 127.0.0.1/32 trust',
        conf: { shared_preload_libraries: 'hook_probe', log_min_messages: 'log' },
        setupSql: 'CREATE EXTENSION hook_probe;', restartAfterSetup: true,
      });
      expect(await pg.sql("SELECT extversion FROM pg_extension WHERE extname = 'hook_probe'")).to.equal('1.0');
      expect(await pg.sql('SELECT hook_probe_version()')).to.equal('probe 1.0');
      expect(await pg.sql('SHOW shared_preload_libraries')).to.equal('hook_probe');
      // Loaded by name from the overlay's $libdir: the probe logged the setup connection's hook call.
      expect(readFileSync(pg.logFile, 'utf8')).to.match(/hook_probe: status=OK ssl=off/);
    } finally {
      await pg?.stop();
      overlay.dispose();
    }
    expect(existsSync(overlay.root)).to.equal(false);
    expect(readdirSync(system.pkglibDir).length).to.equal(before);
    expect(existsSync(path.join('/usr/share/postgresql/15/extension', 'hook_probe.control'))).to.equal(false);
  });
});
