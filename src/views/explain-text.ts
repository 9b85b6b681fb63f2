/**
 * A story as a two-lane terminal sequence: virtual time on the left, client messages
 * as arrows to the right, server messages as arrows to the left, server notes in the
 * server's column, client decisions with their reason and source under the client.
 * Colour only when asked (the CLI asks on a TTY without NO_COLOR).
 */
import type { Story, StoryStep } from '../explain/story.js';
import { fmtMs } from '../explain/story.js';

const LANE = 72;
const WRAP = 100;

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', blue: '\x1b[34m', magenta: '\x1b[35m', cyan: '\x1b[36m' } as const;
type Paint = keyof typeof ANSI;

export function renderStoryText(story: Story, opts: { color?: boolean } = {}): string {
  const c = (style: Paint[], s: string) => (opts.color && s ? `${style.map((k) => ANSI[k]).join('')}${s}${ANSI.reset}` : s);
  const lines: string[] = [];
  lines.push(c(['bold'], story.title));
  lines.push(story.settings.join(' · '));
  lines.push('');
  const head = `${'ms'.padStart(7)}  ${pad(story.clientLabel, LANE - story.serverLabel.length)}${story.serverLabel}`;
  lines.push(c(['bold'], head));
  lines.push(`${'─'.repeat(7)}  ${'─'.repeat(LANE)}`);
  let lastT: number | null = null;
  for (const step of story.steps) {
    const time = step.t === lastT ? '' : fmtMs(step.t);
    lastT = step.t;
    for (const l of stepLines(step, c)) {
      lines.push(`${(l.first ? time : '').padStart(7)}  ${l.text}`.trimEnd());
    }
  }
  lines.push('');
  const s = story.summary;
  lines.push(c(['bold'], 'Summary'));
  lines.push(`  TCP connections   ${s.connections}`);
  lines.push(`  hook calls        ${s.hookCalls.length ? s.hookCalls.join(' ') : 'none'}`);
  lines.push(`  auth_delay        ${fmtMs(s.authDelayMs)} ms`);
  lines.push(`  virtual time      ${fmtMs(s.virtualMs)} ms`);
  lines.push(`  outcome           ${s.outcome === 'ok' ? c(['green'], 'connected') : c(['red'], 'error')}`);
  for (const m of s.clientMessage.split('\n').filter(Boolean)) lines.push(`    ${c(['red'], m)}`);
  return `${lines.join('\n')}\n`;
}

type Painter = (style: Paint[], s: string) => string;
interface Line { text: string; first: boolean }

function stepLines(step: StoryStep, c: Painter): Line[] {
  const one = (text: string): Line[] => [{ text, first: true }];
  switch (step.kind) {
    case 'connection':
      return one(c(['bold', 'blue'], `┌─ connection ${step.connection}: 127.0.0.1:${step.clientPort} → 127.0.0.1:${step.serverPort} (TCP handshake)`));
    case 'closed':
      return one(c(['blue'], `└─ connection ${step.connection}: ${step.by} ${step.how === 'rst' ? 'resets (RST)' : 'closes (FIN)'}`));
    case 'tls':
      return one(c(['magenta'], `══ ${step.text} ══`));
    case 'message': {
      const lock = step.encrypted ? '🔒 ' : '';
      const text = `${lock}${step.text}`;
      const style: Paint[] = step.error ? ['red', 'bold'] : step.from === 'client' ? ['cyan'] : ['yellow'];
      // Long texts run past the lane rather than lose the words that matter (an error's message).
      if (step.from === 'client') return one(c(style, `${text} ${'─'.repeat(Math.max(2, LANE - width(text) - 2))}▶`));
      return one(c(style, `◀${'─'.repeat(Math.max(2, LANE - width(text) - 2))} ${text}`));
    }
    case 'server': {
      const style: Paint[] = step.tone === 'log' ? ['red'] : step.tone === 'delay' ? ['yellow', 'bold'] : step.tone === 'hook' ? ['bold'] : ['dim'];
      return wrap(`⚙ ${step.text}`, WRAP - 9 - 16).map((t, i) => ({ text: `${' '.repeat(16)}${c(style, i === 0 ? t : `  ${t}`)}`, first: i === 0 }));
    }
    case 'client': {
      const first = wrap(`◆ ${step.decision}: ${step.text}`, WRAP - 9);
      return [
        ...first.map((t, i) => ({ text: c(['green', ...(i === 0 ? ['bold' as const] : [])], i === 0 ? t : `  ${t}`), first: i === 0 })),
        { text: c(['dim'], `  ↳ ${step.source}`), first: false },
      ];
    }
  }
}

function width(s: string): number {
  return [...s].length;
}

function pad(s: string, n: number): string {
  return s + ' '.repeat(Math.max(1, n - width(s)));
}

/** Greedy word wrap at `n` characters (words longer than a line stay whole). */
export function wrap(s: string, n: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of s.split(' ')) {
    if (line && width(line) + 1 + width(word) > n) { out.push(line); line = word; }
    else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
