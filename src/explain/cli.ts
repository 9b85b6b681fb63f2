/** `pg-authsim explain`: one scenario told as a story (text, Mermaid, SVG or JSON), or two side by side. */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { MATRIX_CLIENTS } from '../matrix/clients.js';
import { SSLMODES } from '../matrix/matrix.js';
import type { SslMode } from '../clients/conninfo.js';
import { formatLogRecord, renderLogLinePrefix } from '../log/index.js';
import type { PgErrorFields } from '../errors.js';
import { readServerFiles, withQuickChanges, SEED_DIR, PASSWORD_CHOICES, type PasswordChoice, type Scenario } from './scenario.js';
import { runScenario, type ExplainRun } from './run.js';
import { buildStory } from './story.js';
import { compareStories, renderComparisonText } from './compare.js';
import { renderStoryText } from '../views/explain-text.js';
import { renderStoryMermaid } from '../views/explain-mermaid.js';
import { renderStorySvg } from '../views/explain-svg.js';
import { renderStoryJson } from '../views/explain-json.js';
import { writePcap, writeKeylog } from '../capture/pcap.js';

export const EXPLAIN_HELP = `Usage:
  pg-authsim explain [-D DIR | --hba LINE --ssl on|off --role NAME --auth-delay MS]
                     [--client NAME] [--pg-version N] [--sslmode M|unset] [--password right|wrong|none|prompt]
                     [--user U] [--gssencmode M] [--sslnegotiation M] [--channel-binding M] [--require-auth M]
                     [--option NAME=VALUE]... [--format text|mermaid|svg|json] [--compare A B]
                     [--pcap FILE] [--keylog FILE] [--seed S]

Runs one connection attempt in-process on virtual time (fixed seed: the same output every run)
and tells it as a story: every protocol message decoded from the bytes, the server's notes
(pg_hba.conf line, ClientAuthentication_hook calls, auth_delay), and each decision of the client
with its reason and where that rule lives in the driver's source.

  -D DIR             the data directory (default: examples/seed); --hba, --ssl, --role and
                     --auth-delay change its files for this run (--hba replaces pg_hba.conf; \\n
                     separates lines)
  --client NAME      ${Object.keys(MATRIX_CLIENTS).join(', ')} (default psql)
  --sslmode M        disable, allow, prefer, require, verify-ca, verify-full, or unset (the
                     client's default; default prefer)
  --password P       right (the roles file's PASSWORD), wrong, none, or prompt (psql asks and the
                     user types a wrong password)
  --format F         text (default; colour on a terminal unless NO_COLOR is set), mermaid
                     (a sequenceDiagram for Markdown), svg (drawn by pg-authsim), json (the events)
  --compare A B      run twice, changing one thing, and mark where the runs diverge: two client
                     names, two sslmodes, or two server versions (15-18)
  --pcap FILE        write every connection as a pcap (TCP/IPv4 on loopback, port 5432)
  --keylog FILE      the TLS secrets in NSS key log format, for Wireshark/tshark to decrypt

Examples:
  pg-authsim explain --sslmode prefer --password wrong
  pg-authsim explain --hba 'hostssl all all 127.0.0.1/32 scram-sha-256' --format mermaid
  pg-authsim explain --compare psql-libpq16 psql-libpq17 --ssl off --sslmode allow --password wrong
  pg-authsim explain --pcap seed.pcap --keylog seed.keys && tshark -r seed.pcap -o tls.keylog_file:seed.keys -Y pgsql
`;

type Format = 'text' | 'mermaid' | 'svg' | 'json';

export async function explainMain(argv: string[], io: { stdout: (s: string) => void; stderr: (s: string) => void; isTTY: boolean; env: NodeJS.ProcessEnv } = {
  stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), isTTY: process.stdout.isTTY === true, env: process.env,
}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true,
      options: {
        pgdata: { type: 'string', short: 'D' }, hba: { type: 'string' }, ssl: { type: 'string' }, role: { type: 'string' }, 'auth-delay': { type: 'string' },
        client: { type: 'string' }, 'pg-version': { type: 'string' }, sslmode: { type: 'string' }, password: { type: 'string' }, user: { type: 'string' },
        gssencmode: { type: 'string' }, sslnegotiation: { type: 'string' }, 'channel-binding': { type: 'string' }, 'require-auth': { type: 'string' },
        option: { type: 'string', multiple: true }, format: { type: 'string' }, compare: { type: 'string' },
        pcap: { type: 'string' }, keylog: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean' },
      },
    });
  } catch (err) {
    io.stderr(`pg-authsim explain: ${(err as Error).message}\nTry "pg-authsim explain --help".\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) { io.stdout(EXPLAIN_HELP); return 0; }
  const fail = (msg: string) => { io.stderr(`pg-authsim explain: ${msg}\n`); return 2; };
  const format = (v.format ?? 'text') as Format;
  if (!['text', 'mermaid', 'svg', 'json'].includes(format)) return fail(`unknown format "${v.format}" (text, mermaid, svg or json)`);
  const client = v.client ?? 'psql';
  if (!MATRIX_CLIENTS[client]) return fail(`unknown client "${client}"; known clients: ${Object.keys(MATRIX_CLIENTS).join(', ')}`);
  const sslmode = (v.sslmode === undefined ? 'prefer' : v.sslmode === 'unset' ? null : v.sslmode) as SslMode | null;
  if (sslmode !== null && !(SSLMODES as readonly string[]).includes(sslmode)) return fail(`invalid sslmode value: "${v.sslmode}"`);
  const password = (v.password ?? 'wrong') as PasswordChoice;
  if (!PASSWORD_CHOICES.includes(password)) return fail(`--password must be right, wrong, none or prompt, not "${v.password}"`);
  if (v.ssl !== undefined && !['on', 'off'].includes(v.ssl)) return fail('--ssl must be on or off');
  const options: Record<string, string> = {};
  for (const [flag, key] of [['gssencmode', 'gssencmode'], ['sslnegotiation', 'sslnegotiation'], ['channel-binding', 'channel_binding'], ['require-auth', 'require_auth']] as const) {
    if (v[flag] !== undefined) options[key] = v[flag]!;
  }
  for (const kv of v.option ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) return fail(`--option needs NAME=VALUE, got "${kv}"`);
    options[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const dir = v.pgdata ?? SEED_DIR;
  const files = withQuickChanges(readServerFiles(dir), {
    ...(v.hba !== undefined ? { hba: v.hba } : {}), ...(v.ssl !== undefined ? { ssl: v.ssl === 'on' } : {}),
    ...(v.role !== undefined ? { role: v.role } : {}), ...(v['auth-delay'] !== undefined ? { authDelayMs: Number(v['auth-delay']) } : {}),
  });
  const base: Scenario = {
    files, origin: v.pgdata ?? 'examples/seed', client, sslmode, password,
    ...(v['pg-version'] !== undefined ? { pgVersion: v['pg-version'] } : {}),
    ...(v.user !== undefined ? { user: v.user } : {}),
    ...(Object.keys(options).length ? { options } : {}),
    ...(v.seed !== undefined ? { seed: Number(v.seed) || 1 } : {}),
  };

  const run = async (s: Scenario): Promise<ExplainRun | null> => {
    const r = await runScenario(s);
    if (r.ok) return r.run;
    printStartupFailure(r.messages, r.fatal, io.stderr);
    return null;
  };
  const color = format === 'text' && io.isTTY && !io.env.NO_COLOR;

  if (v.compare !== undefined) {
    const other = positionals[0];
    if (other === undefined) return fail('--compare needs two values: --compare A B');
    const variants = compareVariants(base, v.compare, other);
    if (typeof variants === 'string') return fail(variants);
    const a = await run(variants[0]);
    const b = a && await run(variants[1]);
    if (!a || !b) return 1;
    const cmp = compareStories(buildStory(a), buildStory(b));
    if (format === 'json') io.stdout(`${JSON.stringify(cmp, null, 2)}\n`);
    else if (format === 'text') io.stdout(renderComparisonText(cmp, { color }));
    else return fail('--compare prints text or json');
    await writeCaptures(v.pcap, v.keylog, [...a.connections, ...b.connections]);
    return 0;
  }
  if (positionals.length) return fail(`unexpected argument "${positionals[0]}"`);
  const r = await run(base);
  if (!r) return 1;
  const story = buildStory(r);
  switch (format) {
    case 'text': io.stdout(renderStoryText(story, { color })); break;
    case 'mermaid': io.stdout(renderStoryMermaid(story)); break;
    case 'svg': io.stdout(renderStorySvg(story)); break;
    case 'json': io.stdout(renderStoryJson(story, r)); break;
  }
  await writeCaptures(v.pcap, v.keylog, r.connections);
  return 0;
}

async function writeCaptures(pcap: string | undefined, keylog: string | undefined, connections: ExplainRun['connections']): Promise<void> {
  if (pcap) writeFileSync(pcap, writePcap(connections));
  if (keylog) writeFileSync(keylog, writeKeylog(connections), { mode: 0o600 });
}

/** What `--compare A B` varies: a client, an sslmode or a server version. */
export function compareVariants(base: Scenario, a: string, b: string): [Scenario, Scenario] | string {
  const kind = (x: string) => (MATRIX_CLIENTS[x] ? 'client' : (SSLMODES as readonly string[]).includes(x) ? 'sslmode' : /^1[5-8]$/.test(x) ? 'version' : null);
  const ka = kind(a);
  if (!ka || ka !== kind(b)) return `--compare takes two clients, two sslmodes or two server versions (15-18); got "${a}" and "${b}"`;
  const apply = (x: string): Scenario => (ka === 'client' ? { ...base, client: x } : ka === 'sslmode' ? { ...base, sslmode: x as SslMode } : { ...base, pgVersion: x });
  return [apply(a), apply(b)];
}

export function printStartupFailure(messages: ReadonlyArray<{ severity: string; message: string }>, fatal: PgErrorFields, write: (s: string) => void): void {
  const prefix = renderLogLinePrefix('%m [%p] ', { pid: process.pid, sessionStart: Date.now(), now: Date.now(), backendType: 'postmaster', lineNumber: 1, isSessionProcess: false });
  for (const m of messages) write(formatLogRecord(prefix, m as PgErrorFields));
  write(formatLogRecord(prefix, fatal));
}
