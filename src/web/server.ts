/**
 * `pg-authsim web`: a local HTTP server (loopback only) for the explorer page and its
 * JSON API. Simulations run here, one at a time, in-process on virtual time.
 */
import * as http from 'node:http';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { choices, explain, matrix, RequestError, type ExplainRequest } from './api.js';
import { presets } from './presets.js';

/** The page, its script and stylesheet: shipped with the package (package.json "files"). */
export const ASSETS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/web/assets');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
const MAX_BODY = 256 * 1024;

export interface WebServer { url: string; port: number; close(): Promise<void> }

export async function startWeb(opts: { host?: string; port?: number } = {}): Promise<WebServer> {
  const host = opts.host ?? '127.0.0.1';
  const assets = new Set(readdirSync(ASSETS_DIR));
  // One simulation at a time: each has its own virtual clock, but they share the event loop.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => {});
    return p;
  };
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      const status = err instanceof RequestError ? 400 : 500;
      send(res, status, 'application/json', JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
    });
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET') {
      if (url.pathname === '/' || url.pathname === '/index.html') return send(res, 200, TYPES['.html']!, readFileSync(path.join(ASSETS_DIR, 'index.html')));
      if (url.pathname === '/data.js') return send(res, 200, TYPES['.js']!, 'window.PG_AUTHSIM_DATA = null;\n');
      const m = /^\/assets\/([\w.-]+)$/.exec(url.pathname);
      if (m && assets.has(m[1]!)) return send(res, 200, TYPES[path.extname(m[1]!)] ?? 'application/octet-stream', readFileSync(path.join(ASSETS_DIR, m[1]!)));
      if (url.pathname === '/api/choices') return json(res, choices());
      if (url.pathname === '/api/presets') return json(res, presets());
      return send(res, 404, 'text/plain', 'not found\n');
    }
    if (req.method === 'POST' && (url.pathname === '/api/explain' || url.pathname === '/api/matrix')) {
      const body = await readBody(req);
      let parsed: ExplainRequest;
      try { parsed = JSON.parse(body) as ExplainRequest; } catch { throw new RequestError('the body is not JSON'); }
      const result = await serial<unknown>(() => (url.pathname === '/api/explain' ? explain(parsed) : matrix(parsed)));
      return json(res, result);
    }
    return send(res, 405, 'text/plain', 'method not allowed\n');
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

function json(res: http.ServerResponse, value: unknown): void {
  send(res, 200, 'application/json', JSON.stringify(value));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new RequestError('request too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * `web --out DIR`: the page with every preset already run, as static files anyone can host
 * (or open from disk): index.html, assets/, and data.js holding the answers.
 */
export async function exportStatic(dir: string): Promise<string[]> {
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  const written: string[] = [];
  const write = (name: string, content: string | Buffer) => { writeFileSync(path.join(dir, name), content); written.push(name); };
  write('index.html', readFileSync(path.join(ASSETS_DIR, 'index.html')));
  for (const a of readdirSync(ASSETS_DIR)) if (a !== 'index.html') write(`assets/${a}`, readFileSync(path.join(ASSETS_DIR, a)));
  const list = presets();
  const results: Record<string, unknown> = {};
  for (const p of list) {
    const s = p.scenario;
    results[p.id] = await explain({ files: s.files, client: s.client, sslmode: s.sslmode, password: s.password, ...(s.pgVersion ? { pgVersion: s.pgVersion } : {}), ...(s.options ? { options: s.options } : {}) });
  }
  write('data.js', `window.PG_AUTHSIM_DATA = ${JSON.stringify({ choices: choices(), presets: list, results })};\n`);
  return written;
}
