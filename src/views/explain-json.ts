/** A story and its events as JSON, for tools: byte-for-byte the same for the same scenario and seed. */
import type { Story } from '../explain/story.js';
import type { ExplainRun } from '../explain/run.js';

export function storyJson(story: Story, run: ExplainRun): object {
  const s = run.scenario;
  return {
    scenario: {
      origin: s.origin, client: s.client, clientDescribe: run.clientDescribe, serverVersion: run.serverVersion, user: run.user,
      sslmode: s.sslmode, password: s.password, options: s.options ?? {}, seed: s.seed ?? 1,
    },
    summary: story.summary,
    steps: story.steps,
    // TLS records and key material are random by nature: they go to --pcap/--keylog, not here.
    events: run.timeline.flatMap((t): object[] => {
      if (t.kind === 'client') return [{ side: 'client', ...t.event }];
      if (t.event.type === 'wire' || t.event.type === 'tls-keylog') return [];
      return [{ side: 'server', ...t.event }];
    }),
    serverLog: story.serverLog,
  };
}

export function renderStoryJson(story: Story, run: ExplainRun): string {
  return `${JSON.stringify(storyJson(story, run), (_k, v: unknown) => (isBufferJson(v) ? Buffer.from(v.data).toString('hex') : v), 2)}\n`;
}

function isBufferJson(v: unknown): v is { type: 'Buffer'; data: number[] } {
  return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data);
}
