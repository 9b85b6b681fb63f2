/** `pg-authsim web`: serve the explorer on loopback, or export the presets as a static site. */
import { parseArgs } from 'node:util';
import { exportStatic, startWeb } from './server.js';

export const WEB_HELP = `Usage:
  pg-authsim web [--port N] [--host ADDR]
  pg-authsim web --out DIR

Starts the explorer on http://127.0.0.1:PORT (a free port unless --port) and prints the URL.
Pick a preset or change the server version, ssl, pg_hba.conf, roles, auth_delay, the client and its
options: the page shows the sequence diagram, hook calls, virtual and wall time, the server log and
the matrix of every client x sslmode x password. Everything runs in this process; the page needs
no network. --out DIR writes the presets, already run, as a static site (open DIR/index.html).
`;

export async function webMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { port: { type: 'string', short: 'p' }, host: { type: 'string', short: 'h' }, out: { type: 'string' }, help: { type: 'boolean' } } }));
  } catch (err) {
    process.stderr.write(`pg-authsim web: ${(err as Error).message}\n`);
    return 2;
  }
  if (values.help) { process.stdout.write(WEB_HELP); return 0; }
  if (values.out) {
    const files = await exportStatic(values.out);
    process.stdout.write(`pg-authsim web: wrote ${files.length} files to ${values.out} (open ${values.out}/index.html)\n`);
    return 0;
  }
  const host = values.host ?? '127.0.0.1';
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) {
    process.stderr.write(`pg-authsim web: listens on loopback only, not "${host}"\n`);
    return 2;
  }
  const port = values.port !== undefined ? Number(values.port) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) { process.stderr.write(`pg-authsim web: invalid port "${values.port}"\n`); return 2; }
  const web = await startWeb({ host, port });
  process.stdout.write(`pg-authsim web: explorer at ${web.url} (Ctrl-C stops it)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await web.close();
  return 0;
}
