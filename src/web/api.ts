/**
 * What the explorer asks the simulator: one scenario (story, SVG, Mermaid, text, log) or
 * the matrix of every client × sslmode × password for the current files. Everything runs
 * in this process on virtual time; the page only draws the answers.
 */
import { MATRIX_CLIENTS } from '../matrix/clients.js';
import { runMatrix, SSLMODES, PASSWORD_KINDS, type MatrixSslMode } from '../matrix/matrix.js';
import { StartupError } from '../server/datadir.js';
import { formatLogRecord } from '../log/index.js';
import type { PgErrorFields } from '../errors.js';
import type { SslMode } from '../clients/conninfo.js';
import { runScenario } from '../explain/run.js';
import { buildStory, type Story } from '../explain/story.js';
import { withQuickChanges, withDataDirectory, PASSWORD_CHOICES, type PasswordChoice, type Scenario, type ServerFiles } from '../explain/scenario.js';
import { renderStorySvg } from '../views/explain-svg.js';
import { renderStoryMermaid } from '../views/explain-mermaid.js';
import { renderStoryText } from '../views/explain-text.js';

/** The form as the page sends it. */
export interface ExplainRequest {
  files: ServerFiles;
  pgVersion?: string;
  ssl?: boolean;
  authDelayMs?: number;
  client: string;
  sslmode: SslMode | null;
  password: PasswordChoice;
  user?: string;
  options?: Record<string, string>;
}

export type ExplainResponse =
  | { ok: true; story: Story; svg: string; mermaid: string; text: string; wallMs: number }
  /** The server would not start: PostgreSQL's log lines, as it prints them. */
  | { ok: false; startupLog: string };

export function scenarioOf(req: ExplainRequest): Scenario {
  if (!MATRIX_CLIENTS[req.client]) throw new RequestError(`unknown client "${req.client}"`);
  if (req.sslmode !== null && !(SSLMODES as readonly string[]).includes(req.sslmode)) throw new RequestError(`invalid sslmode "${req.sslmode}"`);
  if (!PASSWORD_CHOICES.includes(req.password)) throw new RequestError(`invalid password choice "${req.password}"`);
  const files = withQuickChanges(req.files, {
    ...(req.ssl !== undefined ? { ssl: req.ssl } : {}),
    ...(req.authDelayMs !== undefined ? { authDelayMs: req.authDelayMs } : {}),
  });
  const options = Object.fromEntries(Object.entries(req.options ?? {}).filter(([, v]) => v !== ''));
  return {
    files, origin: 'web explorer', client: req.client, sslmode: req.sslmode, password: req.password,
    ...(req.pgVersion ? { pgVersion: req.pgVersion } : {}),
    ...(req.user ? { user: req.user } : {}),
    ...(Object.keys(options).length ? { options } : {}),
  };
}

export class RequestError extends Error {}

export async function explain(req: ExplainRequest): Promise<ExplainResponse> {
  const r = await runScenario(scenarioOf(req));
  if (!r.ok) return { ok: false, startupLog: startupLog(r.messages, r.fatal) };
  const story = buildStory(r.run);
  return { ok: true, story, svg: renderStorySvg(story), mermaid: renderStoryMermaid(story), text: renderStoryText(story), wallMs: Math.round(r.run.wallMs) };
}

/** PostgreSQL's startup complaints with a bare prefix, the temporary directory shown as $PGDATA. */
function startupLog(messages: ReadonlyArray<{ severity: string; message: string }>, fatal: PgErrorFields): string {
  const text = [...messages, fatal].map((m) => formatLogRecord('', m as PgErrorFields)).join('');
  return text.replace(/\/[^"\s]*pg-authsim-(explain|web)-[^/"\s]+/g, '$PGDATA');
}

export interface MatrixCell { client: string; sslmode: MatrixSslMode; password: string; connections: number; hookCalls: string[]; authDelayMs: number; outcome: 'ok' | 'error' }

export type MatrixResponse = { ok: true; clients: string[]; cells: MatrixCell[]; wallMs: number } | { ok: false; startupLog: string };

/** Every client × sslmode × password for the user, on the request's files. */
export async function matrix(req: ExplainRequest): Promise<MatrixResponse> {
  const s = scenarioOf(req);
  const t0 = performance.now();
  return withDataDirectory(s.files, async (dir): Promise<MatrixResponse> => {
    const cells: MatrixCell[] = [];
    for (const [name, client] of Object.entries(MATRIX_CLIENTS)) {
      const r = await runMatrix({
        dataDirectory: dir, client, passwords: PASSWORD_KINDS,
        ...(s.user ? { users: [s.user] } : {}),
        ...(s.pgVersion ? { overrides: { server_version: s.pgVersion } } : {}),
      });
      const users = new Set(r.rows.map((x) => x.user));
      const user = s.user ?? [...users][0];
      for (const row of r.rows) {
        if (row.user !== user) continue;
        cells.push({ client: name, sslmode: row.sslmode, password: row.password, connections: row.tcpConnections, hookCalls: row.hookCalls, authDelayMs: row.authDelayMs, outcome: row.outcome });
      }
    }
    return { ok: true, clients: Object.keys(MATRIX_CLIENTS), cells, wallMs: Math.round(performance.now() - t0) };
  }).catch((err: unknown) => {
    if (err instanceof StartupError) return { ok: false, startupLog: startupLog(err.messages, err.fatal.fields) };
    throw err;
  });
}

/** The lists the form offers. */
export function choices(): { clients: Array<{ name: string; describe: string }>; sslmodes: readonly string[]; passwords: readonly string[]; versions: string[] } {
  return {
    clients: Object.entries(MATRIX_CLIENTS).map(([name, c]) => ({ name, describe: c.describe })),
    sslmodes: SSLMODES, passwords: PASSWORD_CHOICES, versions: ['15', '16', '17', '18'],
  };
}
