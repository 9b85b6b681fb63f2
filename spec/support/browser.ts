/**
 * One headless Chromium for every browser spec: Debian's /usr/bin/chromium driven by
 * playwright-core (which downloads nothing). Launched on first use, closed by a root-level
 * hook after the whole run. Screenshots go to spec-artifacts/screenshots (gitignored).
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../spec-artifacts/screenshots');

let shared: Promise<Browser> | null = null;

export function browser(): Promise<Browser> {
  // playwright-core gives each launch a fresh temporary profile (--user-data-dir).
  shared ??= chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return shared;
}

after(async () => {
  if (!shared) return;
  const b = await shared;
  shared = null;
  await b.close();
});

/** A page that may only reach the given origins (or file:// when null): anything else is refused and recorded. */
export async function offlinePage(allowedOrigin: string | null, viewport = { width: 1440, height: 1000 }): Promise<{ page: Page; refused: string[]; errors: string[] }> {
  const b = await browser();
  const context = await b.newContext({ viewport });
  const page = await context.newPage();
  const refused: string[] = [];
  const errors: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    const ok = url.startsWith('data:') || (allowedOrigin === null ? url.startsWith('file://') : url.startsWith(allowedOrigin));
    if (ok) return route.continue();
    refused.push(url);
    return route.abort();
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return { page, refused, errors };
}

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, `${name}.png`);
}
