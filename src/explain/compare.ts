/**
 * Two stories side by side: steps aligned by what they mean (the message, the note, the
 * decision; not nonces or ports), so the first row where they differ is where the two
 * runs diverge.
 */
import type { Story, StoryStep } from './story.js';
import { fmtMs } from './story.js';

export interface ComparisonRow {
  /** null where one run has no counterpart. */
  a: string | null;
  b: string | null;
  same: boolean;
}

export interface Comparison {
  a: { label: string; settings: string[]; summary: Story['summary'] };
  b: { label: string; settings: string[]; summary: Story['summary'] };
  rows: ComparisonRow[];
  /** Index of the first row that differs, or null when the runs agree. */
  divergesAt: number | null;
}

export function stepLabel(s: StoryStep): string {
  switch (s.kind) {
    case 'connection': return `── connection ${s.connection} ──`;
    case 'closed': return `── connection ${s.connection}: ${s.by} ${s.how === 'rst' ? 'RST' : 'FIN'} ──`;
    case 'tls': return s.text;
    case 'message': return `${s.from === 'client' ? '→' : '←'} ${s.encrypted ? '🔒 ' : ''}${s.text}`;
    case 'server': return `⚙ ${s.text}`;
    case 'client': return `◆ ${s.decision}: ${s.text}`;
  }
}

/** What must match for two steps to count as the same: no nonces, salts or ports. */
function key(s: StoryStep): string {
  switch (s.kind) {
    case 'message':
      return s.name === 'ErrorResponse' || s.name === 'StartupMessage' || s.name === 'EncryptionResponse' || s.name.startsWith('Authentication') && s.name !== 'AuthenticationSASLContinue' && s.name !== 'AuthenticationSASLFinal'
        ? `m ${s.from} ${s.encrypted} ${s.text.replace(/ application_name=\S+/, '')}`
        : `m ${s.from} ${s.encrypted} ${s.name}`;
    case 'client': return `c ${s.rule ?? s.decision}`;
    default: return stepLabel(s);
  }
}

export function compareStories(a: Story, b: Story): Comparison {
  const ka = a.steps.map(key);
  const kb = b.steps.map(key);
  // Longest common subsequence, then walk it to align the two lists.
  const n = ka.length;
  const m = kb.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = ka[i] === kb[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const rows: ComparisonRow[] = [];
  let i = 0;
  let j = 0;
  const at = (s: StoryStep) => `${fmtMs(s.t).padStart(5)}  ${stepLabel(s)}`;
  while (i < n || j < m) {
    if (i < n && j < m && ka[i] === kb[j]) {
      rows.push({ a: at(a.steps[i]!), b: at(b.steps[j]!), same: true });
      i++; j++;
    } else if (j >= m || (i < n && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      rows.push({ a: at(a.steps[i]!), b: null, same: false });
      i++;
    } else {
      rows.push({ a: null, b: at(b.steps[j]!), same: false });
      j++;
    }
  }
  const first = rows.findIndex((r) => !r.same);
  const side = (s: Story) => ({ label: s.title, settings: s.settings, summary: s.summary });
  return { a: side(a), b: side(b), rows, divergesAt: first < 0 ? null : first };
}

export function renderComparisonText(c: Comparison, opts: { color?: boolean } = {}): string {
  const COL = 70;
  const paint = (code: string, s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const cell = (s: string | null) => {
    const t = s ?? '';
    const chars = [...t];
    return chars.length > COL ? `${chars.slice(0, COL - 1).join('')}…` : t + ' '.repeat(COL - chars.length);
  };
  const out: string[] = [];
  out.push(`A: ${c.a.label}`, `   ${c.a.settings.join(' · ')}`, `B: ${c.b.label}`, `   ${c.b.settings.join(' · ')}`, '');
  out.push(paint('1', `  ${cell('A')} │ B`));
  out.push(`  ${'─'.repeat(COL)}─┼─${'─'.repeat(COL)}`);
  c.rows.forEach((r, idx) => {
    const mark = idx === c.divergesAt ? '▶' : r.same ? ' ' : '≠';
    const line = `${mark} ${cell(r.a)} │ ${r.b ?? ''}`.trimEnd();
    out.push(r.same ? line : paint(idx === c.divergesAt ? '1;31' : '33', line));
  });
  out.push('');
  out.push(c.divergesAt === null ? 'The two runs agree step for step.' : `The runs diverge at row ${c.divergesAt + 1} (▶); rows marked ≠ happen in one run only.`);
  const sum = (s: Story['summary']) => [String(s.connections), s.hookCalls.join(' ') || 'none', `${fmtMs(s.authDelayMs)} ms`, s.outcome];
  const sa = sum(c.a.summary);
  const sb = sum(c.b.summary);
  const names = ['TCP connections', 'hook calls', 'auth_delay', 'outcome'];
  out.push('');
  names.forEach((nm, k) => out.push(`  ${nm.padEnd(16)} A: ${sa[k]!.padEnd(28)} B: ${sb[k]}${sa[k] === sb[k] ? '' : '   ≠'}`));
  return `${out.join('\n')}\n`;
}
