/**
 * A missing role's mock SCRAM salt comes from a per-cluster secret that
 * survives restarts (PostgreSQL keeps it in pg_control). pg-authsim keeps it
 * in the data directory: created on the first start, read on every later
 * one, repeatable with a seed, and ignored by git.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startFromDataDirectory, type Started } from '../../src/server/start.js';
import { MOCK_NONCE_FILE } from '../../src/server/mock-nonce.js';
import { StartupError } from '../../src/server/datadir.js';
import { CryptoRandom, SeededRandom, type Random } from '../../src/random.js';
import { VirtualClock } from '../../src/clock.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import { WireClient } from '../support/wire-client.js';
import { startupMessage } from '../support/raw-login.js';
import { ROOT } from '../support/fixtures.js';

function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-nonce-'));
  writeFileSync(path.join(dir, 'postgresql.conf'), '');
  writeFileSync(path.join(dir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 scram-sha-256\n');
  writeFileSync(path.join(dir, 'roles.sql'), "CREATE ROLE test LOGIN PASSWORD 'secret';\n");
  return dir;
}

/** The salt the server offers a role that does not exist (a mock exchange). */
async function mockSalt(dir: string, random: Random): Promise<string> {
  const started: Started = await startFromDataDirectory(dir, { clock: new VirtualClock(), random });
  try {
    const c = WireClient.memory(started.server);
    c.send(startupMessage('nobody'));
    await c.next();
    c.send(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: Buffer.from('n,,n=,r=abcdefghijklmnop') }));
    const first = await c.next();
    c.destroy();
    return /s=([^,]+)/.exec(String(first?.data ?? ''))![1]!;
  } finally {
    await started.server.close();
  }
}

describe('the mock authentication nonce survives restarts', () => {
  const dirs: string[] = [];
  const fresh = () => { const d = dataDir(); dirs.push(d); return d; };
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  it('a missing role gets the same salt after a restart, without a seed', async () => {
    const dir = fresh();
    const first = await mockSalt(dir, new CryptoRandom());
    const stored = readFileSync(path.join(dir, MOCK_NONCE_FILE), 'utf8');
    expect(stored).to.match(/^[0-9a-f]{64}\n$/);
    expect(statSync(path.join(dir, MOCK_NONCE_FILE)).mode & 0o777).to.equal(0o600);
    expect(await mockSalt(dir, new CryptoRandom())).to.equal(first);
    expect(readFileSync(path.join(dir, MOCK_NONCE_FILE), 'utf8')).to.equal(stored);
  });

  it('another cluster has another secret; the same seed makes the same one', async () => {
    const a = fresh();
    const b = fresh();
    const c = fresh();
    expect(await mockSalt(a, new SeededRandom(5))).to.equal(await mockSalt(b, new SeededRandom(5)));
    expect(await mockSalt(c, new SeededRandom(6))).to.not.equal(await mockSalt(a, new SeededRandom(5)));
  });

  it('a damaged nonce file stops the start, as a damaged pg_control would', async () => {
    const dir = fresh();
    writeFileSync(path.join(dir, MOCK_NONCE_FILE), 'not hex\n');
    let err: unknown;
    try { await startFromDataDirectory(dir, { clock: new VirtualClock(), random: new SeededRandom(1) }); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(StartupError);
    expect((err as StartupError).fatal.message).to.equal(`invalid mock authentication nonce in file "${path.join(dir, MOCK_NONCE_FILE)}"`);
  });

  it('git ignores the file, so serving examples/seed leaves the checkout clean', () => {
    const scratch = mkdtempSync(path.join(ROOT, 'examples', '.nonce-check-'));
    dirs.push(scratch);
    cpSync(path.join(ROOT, 'examples', 'seed'), scratch, { recursive: true });
    writeFileSync(path.join(scratch, MOCK_NONCE_FILE), '00'.repeat(32));
    const ignored = execFileSync('git', ['-C', ROOT, 'check-ignore', '-q', path.join(scratch, MOCK_NONCE_FILE)], { stdio: 'ignore' });
    expect(ignored).to.equal(null);
  });
});
