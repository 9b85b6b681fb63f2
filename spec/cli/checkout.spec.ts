/**
 * The command line as the README runs it from a checkout: `npx pg-authsim` after npm install in
 * the repository (npm resolves the package's own bin, dist/src/cli.js).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { ROOT } from '../support/fixtures.js';

describe('npx pg-authsim from the repository', () => {
  const npx = (args: string[]) => execFileSync('npx', ['--no-install', 'pg-authsim', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });

  it('--help names every command', () => {
    const help = npx(['--help']);
    for (const command of ['matrix', 'serve', 'conformance']) expect(help).to.contain(`pg-authsim ${command}`);
  });

  it('matrix on examples/seed: prefer with a wrong password runs the hook twice', () => {
    const rows = JSON.parse(npx(['matrix', '-D', 'examples/seed', '--user', 'test', '--sslmode', 'prefer', '--password', 'wrong', '--format', 'json'])) as Array<Record<string, unknown>>;
    expect(rows).to.deep.equal([{
      user: 'test', sslmode: 'prefer', password: 'wrong', connections: 2, 'hook calls': 'ERROR/ssl ERROR/plain', 'auth_delay ms': 4000, outcome: 'error',
      'client error': 'psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "test"\nconnection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "test"',
    }]);
  });
});
