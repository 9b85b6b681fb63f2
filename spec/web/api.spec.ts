/** The explorer's HTTP API without a browser: answers, refusals, loopback only. */
import { expect } from 'chai';
import { startWeb, type WebServer } from '../../src/web/server.js';
import { presets } from '../../src/web/presets.js';

describe('web explorer API', function () {
  this.timeout(30000);
  let web: WebServer;
  before(async () => { web = await startWeb(); });
  after(() => web.close());

  const post = (path: string, body: string) => fetch(new URL(path, web.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('listens on loopback and serves the page, its assets and the presets', async () => {
    expect(web.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(web.url);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.include('<script src="assets/app.js"></script>');
    expect((await fetch(new URL('assets/app.css', web.url))).status).to.equal(200);
    expect((await fetch(new URL('assets/../../package.json', web.url))).status).to.equal(404);
    const list = (await (await fetch(new URL('api/presets', web.url))).json()) as Array<{ id: string }>;
    expect(list.map((p) => p.id)).to.deep.equal(presets().map((p) => p.id));
  });

  it('every preset runs and says what its lesson says', async () => {
    const expected: Record<string, { hooks: string[]; outcome: string }> = {
      'double-auth-delay': { hooks: ['ERROR/ssl', 'ERROR/plain'], outcome: 'error' },
      'hostssl-retry': { hooks: ['ERROR/ssl'], outcome: 'error' },
      'psql-prompt': { hooks: ['EOF/ssl', 'ERROR/ssl', 'ERROR/plain'], outcome: 'error' },
      'libpq17-allow': { hooks: ['ERROR/plain'], outcome: 'error' },
      'direct-ssl': { hooks: ['OK/ssl'], outcome: 'ok' },
      'channel-binding': { hooks: ['OK/ssl'], outcome: 'ok' },
    };
    for (const p of presets()) {
      const s = p.scenario;
      const r = await post('api/explain', JSON.stringify({ files: s.files, client: s.client, sslmode: s.sslmode, password: s.password, pgVersion: s.pgVersion, options: s.options }));
      const body = (await r.json()) as { ok: boolean; story: { summary: { hookCalls: string[]; outcome: string }; steps: Array<{ kind: string; text: string }> } };
      expect(body.ok, p.id).to.equal(true);
      expect(body.story.summary.hookCalls, p.id).to.deep.equal(expected[p.id]!.hooks);
      expect(body.story.summary.outcome, p.id).to.equal(expected[p.id]!.outcome);
      if (p.id === 'channel-binding') expect(body.story.steps.some((x) => x.kind === 'message' && x.text.startsWith('SASLInitialResponse SCRAM-SHA-256-PLUS'))).to.equal(true);
    }
  });

  it('refuses what it cannot run: not JSON, an unknown client, too large', async () => {
    expect((await post('api/explain', 'not json')).status).to.equal(400);
    const bad = await post('api/explain', JSON.stringify({ files: { postgresqlConf: '', hba: '', roles: '' }, client: 'nope', sslmode: 'prefer', password: 'wrong' }));
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { error: string }).error).to.equal('unknown client "nope"');
    const huge = await post('api/explain', JSON.stringify({ pad: 'x'.repeat(300 * 1024) })).catch(() => null);
    expect(huge === null || huge.status === 400).to.equal(true);
    // Still serving afterwards.
    expect((await fetch(new URL('api/choices', web.url))).status).to.equal(200);
  });
});
