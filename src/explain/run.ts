/**
 * Run one scenario in-process on virtual time with a fixed seed and record everything:
 * the server's events, the client's decisions and the bytes of every connection, in one
 * order. Stories, diagrams, pcaps and the web explorer are views of the result.
 */
import * as path from 'node:path';
import { VirtualClock } from '../clock.js';
import { SeededRandom } from '../random.js';
import { startFromDataDirectory } from '../server/start.js';
import { StartupError, DEV_CERTS_DIR, type StartupMessage } from '../server/datadir.js';
import type { ServerEvent } from '../events.js';
import type { ClientTraceEvent } from '../clients/trace.js';
import type { PgErrorFields } from '../errors.js';
import { MATRIX_CLIENTS } from '../matrix/clients.js';
import { renderServerLog } from '../views/server-log.js';
import { WireRecorder } from '../capture/recorder.js';
import { counter, type ConnectionBytes } from '../capture/streams.js';
import { WRONG_PASSWORD, withDataDirectory, type Scenario } from './scenario.js';

export type TimelineEntry =
  | { order: number; kind: 'server'; event: ServerEvent }
  | { order: number; kind: 'client'; event: ClientTraceEvent };

export interface ExplainRun {
  scenario: Scenario;
  /** e.g. 'psql 15 with libpq 15 (model)'. */
  clientDescribe: string;
  serverVersion: string;
  user: string;
  /** The clock when the client started. */
  startedAt: number;
  timeline: TimelineEntry[];
  connections: ConnectionBytes[];
  outcome: { ok: boolean; message: string };
  /** The server log PostgreSQL would have written. */
  serverLog: string;
  /** Wall-clock milliseconds the simulation took. */
  wallMs: number;
}

export type ExplainResult =
  | { ok: true; run: ExplainRun }
  /** The server did not start: PostgreSQL's messages (LOG lines, then the FATAL). */
  | { ok: false; messages: Array<StartupMessage | PgErrorFields>; fatal: PgErrorFields };

export async function runScenario(s: Scenario): Promise<ExplainResult> {
  const client = MATRIX_CLIENTS[s.client];
  if (!client) throw new Error(`unknown client "${s.client}"; known clients: ${Object.keys(MATRIX_CLIENTS).join(', ')}`);
  const wallStart = performance.now();
  return withDataDirectory(s.files, async (dir): Promise<ExplainResult> => {
    const clock = new VirtualClock();
    const seed = s.seed ?? 1;
    const next = counter();
    const timeline: TimelineEntry[] = [];
    const recorder = new WireRecorder({}, next);
    // Closed once the run is over: the story is what happened up to then, the same every time.
    let recording = true;
    let started;
    try {
      started = await startFromDataDirectory(dir, {
        clock, random: new SeededRandom(seed),
        onEvent: (event) => {
          if (!recording) return;
          timeline.push({ order: next(), kind: 'server', event });
          recorder.handle(event);
        },
        ...(s.pgVersion ? { overrides: { server_version: s.pgVersion } } : {}),
      });
    } catch (err) {
      if (!(err instanceof StartupError)) throw err;
      return { ok: false, messages: err.messages, fatal: err.fatal.fields };
    }
    const server = started.server;
    server.captureWire = true;
    const user = s.user ?? server.roles.userRoles().find((r) => r.canLogin)?.name ?? 'postgres';
    const role = server.roles.get(user);
    const password = s.password === 'right' ? (role?.plaintextPassword ?? 'secret') : s.password === 'wrong' ? WRONG_PASSWORD : null;
    const startedAt = clock.now();
    let outcome;
    try {
      outcome = await client.login({
        // The client's own random stream (nonces), apart from the server's (salts, PIDs), as TestCluster does.
        server, clock, seed: seed + 1000, user, password,
        sslmode: s.sslmode,
        sslrootcert: path.join(DEV_CERTS_DIR, 'ca.crt'),
        ...(s.options ? { options: s.options } : {}),
        ...(s.password === 'prompt' ? { prompt: async () => WRONG_PASSWORD } : {}),
        trace: (event) => { timeline.push({ order: next(), kind: 'client', event }); },
      });
      await server.idle();
      // The server's FIN is reported once its socket has finished closing, a few turns after the backend exits.
      const serverClosed = () => recorder.streams.all().every((c) => c.teardown.some((t) => t.by === 'server' || t.kind === 'rst'));
      for (let i = 0; i < 1000 && !serverClosed(); i++) await new Promise((r) => setImmediate(r));
    } finally {
      recording = false;
      await server.close();
    }
    const events = timeline.flatMap((t) => (t.kind === 'server' ? [t.event] : []));
    return {
      ok: true,
      run: {
        scenario: s, clientDescribe: client.describe, serverVersion: server.settings.serverVersion, user, startedAt,
        timeline, connections: recorder.streams.all(), outcome,
        serverLog: renderServerLog(events.filter((e) => e.type !== 'server-stopped'), { ...server.settings }),
        wallMs: performance.now() - wallStart,
      },
    };
  });
}
