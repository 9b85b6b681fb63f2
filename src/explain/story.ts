/**
 * A run told as a story: one ordered list of steps in two lanes (client, server), with
 * the protocol messages decoded from the bytes, the server's notes in place (hba line,
 * hook calls, auth_delay, log-only errors) and the client's decisions with their reasons.
 * Every renderer (text, Mermaid, SVG, JSON, the web explorer) draws this list.
 */
import type { ClientDecision, SourceRef } from '../clients/trace.js';
import type { Side } from '../capture/streams.js';
import { decodeConnection } from './decode.js';
import type { ExplainRun } from './run.js';

interface At { order: number; /** ms since the client started */ t: number; connection: number }

export type StoryStep =
  | (At & { kind: 'connection'; clientPort: number; serverPort: number })
  | (At & { kind: 'message'; from: Side; name: string; text: string; encrypted: boolean; error: boolean })
  | (At & { kind: 'tls'; text: string })
  | (At & { kind: 'server'; text: string; tone: 'hba' | 'hook' | 'delay' | 'log' | 'info' })
  | (At & { kind: 'client'; decision: ClientDecision; text: string; source: string; /** A stable name of the rule, for comparisons. */ rule?: string })
  | (At & { kind: 'closed'; by: Side; how: 'fin' | 'rst' });

export interface StorySummary {
  connections: number;
  /** Outermost ClientAuthentication_hook calls, `STATUS/ssl|plain`. */
  hookCalls: string[];
  authDelayMs: number;
  /** Virtual time from the client's start to the last event. */
  virtualMs: number;
  outcome: 'ok' | 'error';
  /** What the client printed or raised. */
  clientMessage: string;
}

export interface Story {
  title: string;
  /** The client and server as the lanes are headed. */
  clientLabel: string;
  serverLabel: string;
  /** One line each: sslmode, password, options. */
  settings: string[];
  steps: StoryStep[];
  summary: StorySummary;
  serverLog: string;
}

/** `fe-connect.c:3551 PQconnectPoll (libpq 15.20)`: where a client rule lives. */
export function sourceLabel(s: SourceRef): string {
  const file = s.file.split('/').pop() ?? s.file;
  return `${file}${s.line !== undefined ? `:${s.line}` : ''}${s.function ? ` ${s.function}` : ''} (${s.version})`;
}

export function buildStory(run: ExplainRun): Story {
  const t0 = run.startedAt;
  const steps: StoryStep[] = [];
  const at = (order: number, time: number, connection: number): At => ({ order, t: Math.round((time - t0) * 1000) / 1000, connection });

  for (const c of run.connections) {
    steps.push({ ...at(c.openOrder, c.openedAt, c.connection), kind: 'connection', clientPort: c.clientPort, serverPort: c.serverPort });
    for (const m of decodeConnection(c)) {
      steps.push({ ...at(m.order, m.time, c.connection), kind: 'message', from: m.from, name: m.name, text: m.text, encrypted: m.encrypted, error: m.name === 'ErrorResponse' || m.name === 'undecodable' });
    }
    for (const td of c.teardown) steps.push({ ...at(td.order, td.time, c.connection), kind: 'closed', by: td.by, how: td.kind });
  }

  // Per connection: when each extension's hook was entered, to tell how long it took.
  const hookEntered = new Map<string, number>();
  const outermost = new Set<number>();
  const hookCalls: string[] = [];
  let authDelayMs = 0;
  let lastTime = t0;
  const autoDelay = new Map<string, { order: number; time: number; connection: number }>();
  let attemptBase = 0;
  let lastAttempt = 0;
  let connectionOfAttempt = 0;

  for (const entry of run.timeline) {
    if (entry.kind === 'client') {
      const e = entry.event;
      // Attempts restart at 1 on each connect() call (psql's reconnect after the prompt).
      if (e.attempt < lastAttempt) attemptBase = connectionOfAttempt;
      lastAttempt = e.attempt;
      connectionOfAttempt = attemptBase + e.attempt;
      lastTime = Math.max(lastTime, e.time);
      steps.push({ ...at(entry.order, e.time, connectionOfAttempt), kind: 'client', decision: e.decision, text: e.reason, source: sourceLabel(e.source), ...(e.rule ? { rule: e.rule } : {}) });
      continue;
    }
    const e = entry.event;
    if (e.type !== 'server-stopped') lastTime = Math.max(lastTime, e.time);
    const here = at(entry.order, e.time, e.connection);
    switch (e.type) {
      case 'tls-established': {
        const cert = e.peerCertificate ? `, client certificate ${e.peerCertificate.subject}${e.peerCertificate.verified ? '' : ' (not verified)'}` : '';
        steps.push({ ...here, kind: 'tls', text: `TLS handshake done: ${e.protocol} ${e.cipher}${cert}` });
        break;
      }
      case 'direct-ssl':
        steps.push({ ...here, kind: 'server', tone: 'info', text: 'direct SSL: TLS without SSLRequest (ALPN "postgresql")' });
        break;
      case 'hba-matched':
        steps.push({ ...here, kind: 'server', tone: 'hba', text: `pg_hba.conf line ${e.lineNumber}: ${e.rawLine.trim().replace(/\s+/g, ' ')}` });
        break;
      case 'hba-no-match':
        steps.push({ ...here, kind: 'server', tone: 'hba', text: 'no pg_hba.conf line matches (rejected before any hook)' });
        break;
      case 'hook-invoked': {
        hookEntered.set(`${e.connection}/${e.hook}`, e.time);
        autoDelay.set(`${e.connection}/${e.hook}`, { order: entry.order, time: e.time, connection: e.connection });
        if (!outermost.has(e.connection)) {
          outermost.add(e.connection);
          hookCalls.push(`${e.status}/${e.sslInUse ? 'ssl' : 'plain'}`);
          steps.push({ ...here, kind: 'server', tone: 'hook', text: `ClientAuthentication_hook(port, STATUS_${e.status}) ${e.sslInUse ? 'over TLS' : 'in plaintext'}` });
        }
        break;
      }
      case 'hook-returned': {
        const key = `${e.connection}/${e.hook}`;
        const entered = hookEntered.get(key);
        const from = autoDelay.get(key);
        hookEntered.delete(key);
        if (entered !== undefined && from && e.time > entered) {
          const ms = e.time - entered;
          if (e.hook === 'auth_delay') authDelayMs += ms;
          steps.push({ ...at(from.order, from.time, from.connection), kind: 'server', tone: 'delay', text: e.hook === 'auth_delay' ? `auth_delay sleeps ${fmtMs(ms)} ms` : `${e.hook}'s hook takes ${fmtMs(ms)} ms` });
        }
        break;
      }
      case 'error':
        // Errors the client receives appear as their ErrorResponse; the others only in the log.
        if (!e.toClient && e.toLog) steps.push({ ...here, kind: 'server', tone: 'log', text: `log only: ${e.error.severity}: ${e.error.message}` });
        break;
      case 'connection-authorized':
        steps.push({ ...here, kind: 'server', tone: 'info', text: `connection authorized: user=${e.user} database=${e.database}${e.ssl ? ` (${e.ssl.protocol})` : ''}` });
        break;
      default:
        break;
    }
  }
  steps.sort((a, b) => a.order - b.order);

  const s = run.scenario;
  const settings = [
    `sslmode=${s.sslmode ?? `(unset: ${clientDefaultSslmode(s.client)})`}`,
    `password: ${s.password === 'prompt' ? 'none given; psql prompts and the user types a wrong one' : s.password}`,
    ...Object.entries(s.options ?? {}).map(([k, v]) => `${k}=${v}`),
  ];
  const major = /^(\d+)/.exec(run.serverVersion)?.[1] ?? '';
  return {
    title: `${run.clientDescribe} → PostgreSQL ${run.serverVersion} (simulated), ${s.origin}`,
    clientLabel: run.clientDescribe.replace(/ \(model\)$/, ''),
    serverLabel: `PostgreSQL ${major} (simulated)`,
    settings,
    steps,
    summary: {
      connections: run.connections.length,
      hookCalls,
      authDelayMs,
      virtualMs: Math.round((lastTime - t0) * 1000) / 1000,
      outcome: run.outcome.ok ? 'ok' : 'error',
      clientMessage: run.outcome.message,
    },
    serverLog: run.serverLog,
  };
}

function clientDefaultSslmode(client: string): string {
  return client.startsWith('psql') || client === 'psycopg' ? 'prefer' : "the driver's default";
}

export function fmtMs(ms: number): string {
  return Number.isInteger(ms) ? String(ms) : ms.toFixed(3);
}
