/**
 * The README's test command sets itself up: on a machine whose python3 has no psycopg or
 * asyncpg (an empty venv first on PATH, as on a fresh machine), scripts/test-setup.sh installs
 * exactly the pinned drivers into the project's own venv, leaves the user's python alone, and a
 * second run changes nothing.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../support/fixtures.js';
import { PSYCOPG_VERSION } from '../../src/clients/psycopg.js';
import { DRIVER_PROFILES } from '../../src/clients/drivers/index.js';

const SCRIPT = path.join(ROOT, 'scripts/test-setup.sh');
const REQUIREMENTS = path.join(ROOT, 'scripts/requirements-test.txt');

function pins(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(REQUIREMENTS, 'utf8').split('\n')) {
    const m = /^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)/.exec(line.split('#')[0]!.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe('test setup on a machine without the Python drivers', function () {
  this.timeout(180_000);
  let work: string;
  let env: NodeJS.ProcessEnv;
  const userPython = () => path.join(work, 'user-venv/bin/python3');
  const ourPython = () => path.join(work, 'project-venv/bin/python3');
  const importable = (python: string, mod: string) => spawnSync(python, ['-c', `import ${mod}`], { env }).status === 0;

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'pg-authsim-setup-'));
    // The user's python3: an empty venv, first on PATH, with nothing the specs need.
    execFileSync('python3', ['-m', 'venv', path.join(work, 'user-venv')]);
    env = { ...process.env, PATH: `${path.join(work, 'user-venv/bin')}${path.delimiter}${process.env.PATH}`, PG_AUTHSIM_TEST_VENV: path.join(work, 'project-venv') };
    delete env.VIRTUAL_ENV;
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('pins the versions the client profiles assert', () => {
    expect(pins()).to.deep.equal({ psycopg: PSYCOPG_VERSION, asyncpg: /asyncpg (\S+)/.exec(DRIVER_PROFILES.asyncpg!.version)![1] });
  });

  it('starts from a python3 that has neither driver', () => {
    expect(execFileSync('python3', ['-c', 'import sys; print(sys.prefix)'], { env, encoding: 'utf8' }).trim()).to.equal(path.join(work, 'user-venv'));
    expect(importable(userPython(), 'psycopg')).to.equal(false);
    expect(importable(userPython(), 'asyncpg')).to.equal(false);
  });

  it('installs exactly the pinned drivers into the project venv, and leaves the user\'s python alone', () => {
    const r = spawnSync('bash', [SCRIPT, '--only', 'python'], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const versions = execFileSync(ourPython(), ['-c', 'import json, psycopg, asyncpg; print(json.dumps({"psycopg": psycopg.__version__, "asyncpg": asyncpg.__version__, "impl": psycopg.pq.__impl__}))'], { env, encoding: 'utf8' });
    expect(JSON.parse(versions)).to.deep.equal({ ...pins(), impl: 'binary' });
    expect(importable(userPython(), 'psycopg')).to.equal(false);
  });

  it('is idempotent: a second run installs nothing', () => {
    const r = spawnSync('bash', [SCRIPT, '--only', 'python'], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/python drivers present in /);
  });
});
