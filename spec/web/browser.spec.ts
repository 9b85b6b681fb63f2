/**
 * In real headless Chromium (Debian's, via playwright-core): the Mermaid output renders with
 * the npm `mermaid` package served from this machine, and the web explorer works end to end
 * (presets, prefer + wrong password, a hostssl line, a broken pg_hba.conf, the keyboard, the
 * static export opened from disk), with no request leaving the machine. Screenshots go to
 * spec-artifacts/screenshots.
 */
import { expect } from 'chai';
import * as http from 'node:http';
import { readFileSync, existsSync, copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { offlinePage, screenshotPath } from '../support/browser.js';
import { tempDir } from '../support/temp.js';
import { startWeb, exportStatic, type WebServer } from '../../src/web/server.js';
import { runScenario } from '../../src/explain/run.js';
import { buildStory } from '../../src/explain/story.js';
import { renderStoryMermaid } from '../../src/views/explain-mermaid.js';
import { SEED_CASES } from '../support/explain-cases.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MERMAID_JS = path.join(ROOT, 'node_modules/mermaid/dist/mermaid.min.js');

describe('in headless Chromium', function () {
  this.timeout(90000);

  describe('the Mermaid output', () => {
    let server: http.Server;
    let origin: string;
    before(async () => {
      server = http.createServer((req, res) => {
        if (req.url === '/mermaid.min.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(readFileSync(MERMAID_JS)); return; }
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><html><body><div id="out"></div><script src="/mermaid.min.js"></script></body></html>');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    for (const [name, scenario] of Object.entries(SEED_CASES)) {
      it(`${name} renders with mermaid ${JSON.parse(readFileSync(path.join(ROOT, 'node_modules/mermaid/package.json'), 'utf8')).version as string}, served locally`, async () => {
        const r = await runScenario(scenario);
        if (!r.ok) throw new Error(r.fatal.message);
        const source = renderStoryMermaid(buildStory(r.run));
        const { page, refused, errors } = await offlinePage(origin, { width: 1400, height: 1000 });
        try {
          await page.goto(`${origin}/`);
          const result = await page.evaluate(async (src: string) => {
            const m = (window as unknown as { mermaid: { initialize(o: object): void; parse(s: string): Promise<unknown>; render(id: string, s: string): Promise<{ svg: string }> } }).mermaid;
            m.initialize({ startOnLoad: false, securityLevel: 'strict' });
            try {
              await m.parse(src);
              const { svg } = await m.render('diagram', src);
              document.getElementById('out')!.innerHTML = svg;
              return { ok: true, svg, text: document.getElementById('out')!.textContent ?? '' };
            } catch (e) {
              return { ok: false, error: String((e as Error).message ?? e), svg: '', text: '' };
            }
          }, source);
          expect(result.ok, result.error).to.equal(true);
          expect(result.svg).to.not.match(/Syntax error/i);
          expect(result.text).to.include('SSLRequest');
          expect(result.text).to.include('password authentication failed for user "test"');
          expect(result.text).to.include('auth_delay sleeps 2000 ms');
          // Escaped characters come out as themselves.
          expect(result.text).to.include('p=<proof>');
          if (name.startsWith('hostssl')) expect(result.text).to.include('no encryption');
          await page.screenshot({ path: screenshotPath(`mermaid-${name}`), fullPage: true });
          expect(refused).to.deep.equal([]);
          expect(errors).to.deep.equal([]);
        } finally {
          await page.context().close();
        }
      });
    }
  });

  describe('the web explorer', () => {
    let web: WebServer;
    before(async () => { web = await startWeb(); });
    after(() => web.close());

    const settled = async (page: Page) => {
      await page.waitForFunction(() => {
        const s = document.getElementById('status')?.textContent ?? '';
        return s !== '' && !s.startsWith('Running') && !s.startsWith('Loading');
      }, undefined, { timeout: 30000 });
    };
    const text = (page: Page, sel: string) => page.textContent(sel).then((t) => (t ?? '').trim());

    it('prefer + wrong password: two attempts and 4000 ms; a hostssl line: the rejection; a broken pg_hba.conf: PostgreSQL\'s error', async () => {
      const { page, refused, errors } = await offlinePage(web.url.replace(/\/$/, ''));
      try {
        await page.goto(web.url);
        await settled(page);
        // Start from "your own" settings rather than the preset that already shows this.
        await page.selectOption('#client', 'psql');
        await page.selectOption('#sslmode', 'disable');
        await page.click('#run');
        await settled(page);
        expect(await text(page, '#sum-connections')).to.equal('1');
        await page.selectOption('#sslmode', 'prefer');
        await page.check('input[name=password][value=wrong]');
        await page.click('#run');
        await page.waitForFunction(() => document.getElementById('sum-connections')?.textContent === '2');
        await settled(page);
        expect(await text(page, '#sum-connections')).to.equal('2');
        expect(await text(page, '#sum-delay')).to.equal('4000 ms');
        expect(await text(page, '#sum-virtual')).to.equal('4000 ms');
        expect(await text(page, '#sum-hooks')).to.equal('2 (ERROR/ssl ERROR/plain)');
        expect(await page.textContent('#diagram svg')).to.include('auth_delay sleeps 2000 ms');
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: screenshotPath('web-prefer-wrong') });

        await page.fill('#hba', 'hostssl all all 0.0.0.0/0 scram-sha-256\n');
        await page.waitForFunction(() => document.getElementById('sum-hooks')?.textContent === '1 (ERROR/ssl)', undefined, { timeout: 30000 });
        expect(await text(page, '#sum-connections')).to.equal('2');
        expect(await text(page, '#sum-delay')).to.equal('2000 ms');
        expect(await text(page, '#client-message')).to.include('no pg_hba.conf entry for host "127.0.0.1", user "test", database "postgres", no encryption');
        expect(await page.textContent('#diagram svg')).to.include('no pg_hba.conf line matches');
        await page.screenshot({ path: screenshotPath('web-hostssl') });

        await page.fill('#hba', 'hostssl all all 0.0.0.0/0 scram-sha-256\nhost all all 0.0.0.0/0 scram-sha-257\n');
        await page.waitForSelector('#startup-error:not([hidden])', { timeout: 30000 });
        const log = await text(page, '#startup-log');
        expect(log).to.include('LOG:  invalid authentication method "scram-sha-257"');
        expect(log).to.include('CONTEXT:  line 2 of configuration file "$PGDATA/pg_hba.conf"');
        expect(log).to.include('FATAL:  could not load pg_hba.conf');
        expect(await page.isHidden('#summary')).to.equal(true);
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: screenshotPath('web-broken-hba') });
        expect(refused).to.deep.equal([]);
        expect(errors).to.deep.equal([]);
      } finally {
        await page.context().close();
      }
    });

    it('is usable from the keyboard: presets, tabs, Ctrl+Enter, matrix cells', async () => {
      const { page, errors } = await offlinePage(web.url.replace(/\/$/, ''), { width: 1920, height: 1080 });
      try {
        await page.goto(web.url);
        await settled(page);
        // Tab from the top reaches the skip link, then the preset list.
        await page.keyboard.press('Tab');
        expect(await page.evaluate(() => document.activeElement?.className)).to.equal('skip');
        await page.keyboard.press('Tab');
        expect(await page.evaluate(() => document.activeElement?.id)).to.equal('preset');
        await page.selectOption('#preset', 'psql-prompt');
        await page.waitForFunction(() => document.getElementById('sum-hooks')?.textContent?.startsWith('3 '), undefined, { timeout: 30000 });
        expect(await text(page, '#sum-hooks')).to.equal('3 (EOF/ssl ERROR/ssl ERROR/plain)');
        expect(await text(page, '#lesson')).to.include('three hook calls');
        await page.focus('#tab-diagram');
        await page.keyboard.press('ArrowRight');
        expect(await page.evaluate(() => document.activeElement?.id)).to.equal('tab-story');
        expect(await page.isVisible('#panel-story')).to.equal(true);
        expect(await text(page, '#story')).to.include('Summary');
        await page.keyboard.press('End');
        expect(await page.evaluate(() => document.activeElement?.id)).to.equal('tab-matrix');
        await page.keyboard.press('Tab');
        await page.keyboard.press('Tab');
        expect(await page.evaluate(() => document.activeElement?.id)).to.equal('run-matrix');
        await page.keyboard.press('Enter');
        await page.waitForSelector('table.matrix', { timeout: 60000 });
        const cell = page.locator('table.matrix button[aria-label^="pgjdbc, sslmode prefer, wrong password"]');
        expect(await cell.textContent()).to.equal('1');
        const psqlCell = page.locator('table.matrix button[aria-label^="psql, sslmode prefer, wrong password"]');
        expect(await psqlCell.textContent()).to.equal('2');
        await page.screenshot({ path: screenshotPath('web-matrix-1080p') });
        await psqlCell.focus();
        await page.keyboard.press('Enter');
        await page.waitForFunction(() => document.getElementById('sum-hooks')?.textContent === '2 (ERROR/ssl ERROR/plain)', undefined, { timeout: 30000 });
        expect(await page.isVisible('#panel-diagram')).to.equal(true);
        // Ctrl+Enter runs from anywhere in the form.
        await page.focus('#authDelayMs');
        await page.uncheck('#auto');
        await page.fill('#authDelayMs', '500');
        await page.keyboard.press('Control+Enter');
        await page.waitForFunction(() => document.getElementById('sum-delay')?.textContent === '1000 ms', undefined, { timeout: 30000 });
        expect(errors).to.deep.equal([]);
      } finally {
        await page.context().close();
      }
    });

    it('readable on a projector: 1280x720 without horizontal scrolling, large type', async () => {
      const { page } = await offlinePage(web.url.replace(/\/$/, ''), { width: 1280, height: 720 });
      try {
        await page.goto(web.url);
        await settled(page);
        const m = await page.evaluate(() => ({
          overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          body: parseFloat(getComputedStyle(document.body).fontSize),
          summary: parseFloat(getComputedStyle(document.getElementById('sum-connections')!).fontSize),
        }));
        expect(m.overflow).to.be.at.most(0);
        expect(m.body).to.be.at.least(16);
        expect(m.summary).to.be.at.least(20);
        await page.screenshot({ path: screenshotPath('web-projector-720p') });
      } finally {
        await page.context().close();
      }
    });
  });

  describe('web --out', () => {
    it('exports the presets as a static site that works from disk with no server', async () => {
      const dir = tempDir('pg-authsim-web-out-');
      const files = await exportStatic(dir);
      expect(files).to.include.members(['index.html', 'data.js', 'assets/app.js', 'assets/app.css']);
      const { page, refused, errors } = await offlinePage(null);
      try {
        await page.goto(pathToFileURL(path.join(dir, 'index.html')).href);
        await page.waitForFunction(() => document.getElementById('sum-connections')?.textContent === '2');
        expect(await page.isDisabled('#hba')).to.equal(true);
        await page.selectOption('#preset', 'hostssl-retry');
        await page.waitForFunction(() => document.getElementById('sum-hooks')?.textContent === '1 (ERROR/ssl)');
        await page.selectOption('#preset', 'direct-ssl');
        await page.waitForFunction(() => document.getElementById('sum-outcome')?.textContent === 'connected');
        expect(await page.textContent('#diagram svg')).to.include('direct SSL');
        await page.screenshot({ path: screenshotPath('web-static-export') });
        expect(refused).to.deep.equal([]);
        expect(errors).to.deep.equal([]);
      } finally {
        await page.context().close();
      }
    });
  });
});

// The README's picture of the explorer, refreshed by hand: UPDATE_README_SCREENSHOT=1.
after(() => {
  const shot = screenshotPath('web-prefer-wrong');
  if (process.env.UPDATE_README_SCREENSHOT && existsSync(shot)) {
    mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
    copyFileSync(shot, path.join(ROOT, 'docs/explorer.png'));
  }
});
