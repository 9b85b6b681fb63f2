/**
 * A story as a Mermaid `sequenceDiagram`: renders as-is on GitHub and in Markdown
 * viewers. Server notes sit right of the server, client decisions left of the client,
 * and a note over both marks each new connection and each jump of virtual time.
 */
import type { Story, StoryStep } from '../explain/story.js';
import { fmtMs } from '../explain/story.js';
import { wrap } from './explain-text.js';

export function renderStoryMermaid(story: Story): string {
  const out: string[] = ['sequenceDiagram'];
  out.push(`    participant C as ${esc(story.clientLabel)}`);
  out.push(`    participant S as ${esc(story.serverLabel)}`);
  out.push(`    Note over C,S: ${esc(story.settings.join(' · '))}`);
  let lastT: number | null = null;
  for (const step of story.steps) {
    if (step.t !== lastT && lastT !== null) out.push(`    Note over C,S: t = ${fmtMs(step.t)} ms`);
    lastT = step.t;
    out.push(...lines(step).map((l) => `    ${l}`));
  }
  const s = story.summary;
  out.push(`    Note over C,S: ${esc(`${s.connections} TCP connection${s.connections === 1 ? '' : 's'} · hook calls: ${s.hookCalls.join(' ') || 'none'} · auth_delay ${fmtMs(s.authDelayMs)} ms · ${s.outcome === 'ok' ? 'connected' : 'error'}`)}`);
  return `${out.join('\n')}\n`;
}

function lines(step: StoryStep): string[] {
  switch (step.kind) {
    case 'connection': return [`Note over C,S: ${esc(`connection ${step.connection}: TCP 127.0.0.1:${step.clientPort} → 127.0.0.1:${step.serverPort}`)}`];
    case 'closed': return [`Note over C,S: ${esc(`connection ${step.connection}: ${step.by} ${step.how === 'rst' ? 'resets (RST)' : 'closes (FIN)'}`)}`];
    case 'tls': return [`Note over C,S: ${esc(step.text)}`];
    case 'message': {
      const text = esc(`${step.encrypted ? '[TLS] ' : ''}${step.text}`);
      if (step.from === 'client') return [`C->>S: ${text}`];
      return [`S-${step.error ? '-x' : '->>'}C: ${text}`];
    }
    case 'server': return [`Note right of S: ${multiline(step.text, 48)}`];
    case 'client': return [`Note left of C: ${multiline(`${step.decision}: ${step.text} (${step.source})`, 48)}`];
  }
}

function multiline(s: string, n: number): string {
  return wrap(s, n).map(esc).join('<br/>');
}

/**
 * Text Mermaid's sequence grammar would misread: ';' ends a statement and '#' starts an entity
 * code, and Mermaid 12 garbles entity codes in sequence diagrams, so both become their
 * full-width look-alikes. '<' and '>' pass through (its sanitizer keeps them as text).
 */
export function esc(s: string): string {
  const codes: Record<string, string> = { '#': '＃', ';': '；', '\n': ' ' };
  return s.replace(/[#;\n]/g, (ch) => codes[ch]!);
}
