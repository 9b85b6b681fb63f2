/**
 * A story drawn as a self-contained SVG sequence diagram: no browser, no fonts to fetch,
 * a monospace font so text widths are known in advance and the output is the same
 * byte for byte on every machine.
 */
import type { Story, StoryStep } from '../explain/story.js';
import { fmtMs } from '../explain/story.js';
import { wrap } from './explain-text.js';

const W = 1200;
const FONT = 13;
const CHAR = 7.9; // advance of a 13px monospace glyph, generously rounded up
const LINE = 17;
const TIME_X = 64;
const CLIENT_X = 200;
const SERVER_X = 760;
const NOTE_X = 775;
const NOTE_W = W - NOTE_X - 12;

const COLORS = {
  client: '#0b6e99', server: '#8a5a00', error: '#c0262d', decision: '#1d7a3a', note: '#6b4e00', hook: '#6b3fa0',
  tls: '#7b2d8e', conn: '#34495e', muted: '#5f6b76', bgNote: '#fff6d6', bgDecision: '#e6f4ea', bgTls: '#f3e8f7', bgLog: '#fde8e8',
};

export function renderStorySvg(story: Story): string {
  const body: string[] = [];
  let y = 20;
  body.push(text(16, y + 4, story.title, { size: 15, weight: 'bold' }));
  y += 22;
  body.push(text(16, y, story.settings.join(' · '), { fill: COLORS.muted }));
  y += 24;
  body.push(box(CLIENT_X - 150, y, 300, 30, '#eef4f8', COLORS.client), text(CLIENT_X, y + 20, story.clientLabel, { anchor: 'middle', weight: 'bold', fill: COLORS.client }));
  body.push(box(SERVER_X - 150, y, 300, 30, '#f8f2e6', COLORS.server), text(SERVER_X, y + 20, story.serverLabel, { anchor: 'middle', weight: 'bold', fill: COLORS.server }));
  y += 44;
  const lifelineTop = y - 14;
  let lastT: number | null = null;
  for (const step of story.steps) {
    const drawn = drawStep(step, y);
    if (step.t !== lastT) body.push(text(TIME_X + 6, y + 13, `${fmtMs(step.t)} ms`, { anchor: 'end', fill: COLORS.muted }));
    lastT = step.t;
    body.push(...drawn.parts);
    y += drawn.height;
  }
  const lifelineBottom = y + 4;
  const lifelines = [
    `<line x1="${CLIENT_X}" y1="${lifelineTop}" x2="${CLIENT_X}" y2="${lifelineBottom}" stroke="${COLORS.client}" stroke-width="1.5" stroke-dasharray="5 4"/>`,
    `<line x1="${SERVER_X}" y1="${lifelineTop}" x2="${SERVER_X}" y2="${lifelineBottom}" stroke="${COLORS.server}" stroke-width="1.5" stroke-dasharray="5 4"/>`,
  ];
  y += 18;
  const s = story.summary;
  const summary = [
    `${s.connections} TCP connection${s.connections === 1 ? '' : 's'} · hook calls: ${s.hookCalls.join(' ') || 'none'} · auth_delay ${fmtMs(s.authDelayMs)} ms · virtual time ${fmtMs(s.virtualMs)} ms · ${s.outcome === 'ok' ? 'connected' : 'error'}`,
    ...s.clientMessage.split('\n').filter(Boolean),
  ];
  body.push(`<line x1="16" y1="${y - 10}" x2="${W - 16}" y2="${y - 10}" stroke="#c8d0d8"/>`);
  summary.forEach((l, i) => {
    for (const part of wrap(l, Math.floor((W - 32) / CHAR))) {
      body.push(text(16, y + 8, part, i === 0 ? { weight: 'bold' } : { fill: COLORS.error }));
      y += LINE;
    }
  });
  const height = Math.ceil(y + 12);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" role="img" aria-label="${attr(story.title)}">`,
    `<title>${xml(story.title)}</title>`,
    '<defs>',
    `<marker id="arrow-c" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${COLORS.client}"/></marker>`,
    `<marker id="arrow-s" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${COLORS.server}"/></marker>`,
    `<marker id="arrow-e" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${COLORS.error}"/></marker>`,
    '</defs>',
    `<rect width="${W}" height="${height}" fill="#ffffff"/>`,
    `<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="${FONT}">`,
    ...lifelines,
    ...body,
    '</g>',
    '</svg>',
  ].join('\n') + '\n';
}

function drawStep(step: StoryStep, y: number): { parts: string[]; height: number } {
  switch (step.kind) {
    case 'connection':
    case 'closed': {
      const label = step.kind === 'connection'
        ? `connection ${step.connection}: TCP 127.0.0.1:${step.clientPort} → 127.0.0.1:${step.serverPort}`
        : `connection ${step.connection}: ${step.by} ${step.how === 'rst' ? 'resets (RST)' : 'closes (FIN)'}`;
      return {
        parts: [
          `<line x1="${CLIENT_X - 80}" y1="${y + 9}" x2="${SERVER_X + 80}" y2="${y + 9}" stroke="${COLORS.conn}" stroke-width="${step.kind === 'connection' ? 1.5 : 1}" stroke-dasharray="${step.kind === 'connection' ? '' : '2 3'}"/>`,
          `<rect x="${(CLIENT_X + SERVER_X) / 2 - (label.length * CHAR) / 2 - 8}" y="${y}" width="${label.length * CHAR + 16}" height="${LINE + 1}" fill="#ffffff"/>`,
          text((CLIENT_X + SERVER_X) / 2, y + 13, label, { anchor: 'middle', fill: COLORS.conn, weight: step.kind === 'connection' ? 'bold' : 'normal' }),
        ],
        height: LINE + 10,
      };
    }
    case 'tls': {
      const label = step.text;
      return {
        parts: [box(CLIENT_X, y, SERVER_X - CLIENT_X, LINE + 6, COLORS.bgTls, COLORS.tls), text((CLIENT_X + SERVER_X) / 2, y + 16, label, { anchor: 'middle', fill: COLORS.tls })],
        height: LINE + 14,
      };
    }
    case 'message': {
      const color = step.error ? COLORS.error : step.from === 'client' ? COLORS.client : COLORS.server;
      const marker = step.error ? 'arrow-e' : step.from === 'client' ? 'arrow-c' : 'arrow-s';
      const label = wrap(`${step.encrypted ? '[TLS] ' : ''}${step.text}`, Math.floor((SERVER_X - CLIENT_X - 20) / CHAR));
      const parts = label.map((l, i) => text((CLIENT_X + SERVER_X) / 2, y + 13 + i * LINE, l, { anchor: 'middle', fill: color, weight: step.error ? 'bold' : 'normal' }));
      const ay = y + label.length * LINE + 5;
      const [x1, x2] = step.from === 'client' ? [CLIENT_X, SERVER_X] : [SERVER_X, CLIENT_X];
      parts.push(`<line x1="${x1}" y1="${ay}" x2="${x2}" y2="${ay}" stroke="${color}" stroke-width="1.6"${step.from === 'server' && !step.error ? ' stroke-dasharray="7 4"' : ''} marker-end="url(#${marker})"/>`);
      return { parts, height: label.length * LINE + 14 };
    }
    case 'server': {
      const fill = step.tone === 'log' ? COLORS.bgLog : COLORS.bgNote;
      const color = step.tone === 'log' ? COLORS.error : step.tone === 'hook' || step.tone === 'delay' ? COLORS.hook : COLORS.note;
      const lines = wrap(step.text, Math.floor((NOTE_W - 16) / CHAR));
      return {
        parts: [box(NOTE_X, y, NOTE_W, lines.length * LINE + 8, fill, color), ...lines.map((l, i) => text(NOTE_X + 8, y + 16 + i * LINE, l, { fill: color, weight: step.tone === 'hook' || step.tone === 'delay' ? 'bold' : 'normal' }))],
        height: lines.length * LINE + 14,
      };
    }
    case 'client': {
      const x = TIME_X + 12;
      const w = SERVER_X - 12 - x;
      const chars = Math.floor((w - 16) / CHAR);
      const lines = [...wrap(`◆ ${step.decision}: ${step.text}`, chars), ...wrap(`↳ ${step.source}`, chars)];
      return {
        parts: [
          box(x, y, w, lines.length * LINE + 8, COLORS.bgDecision, COLORS.decision),
          ...lines.map((l, i) => text(x + 8, y + 16 + i * LINE, l, { fill: i === lines.length - 1 ? COLORS.muted : COLORS.decision, weight: i === 0 ? 'bold' : 'normal' })),
        ],
        height: lines.length * LINE + 14,
      };
    }
  }
}

function box(x: number, y: number, w: number, h: number, fill: string, stroke: string): string {
  return `<rect x="${r(x)}" y="${r(y)}" width="${r(w)}" height="${r(h)}" rx="4" fill="${fill}" stroke="${stroke}" stroke-width="1"/>`;
}

function text(x: number, y: number, s: string, o: { anchor?: 'middle' | 'end'; fill?: string; weight?: 'bold' | 'normal'; size?: number } = {}): string {
  const a = [`x="${r(x)}"`, `y="${r(y)}"`];
  if (o.anchor) a.push(`text-anchor="${o.anchor}"`);
  if (o.fill) a.push(`fill="${o.fill}"`);
  if (o.weight === 'bold') a.push('font-weight="bold"');
  if (o.size) a.push(`font-size="${o.size}"`);
  return `<text ${a.join(' ')} xml:space="preserve">${xml(s)}</text>`;
}

function r(n: number): string {
  return String(Math.round(n * 10) / 10);
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attr(s: string): string {
  return xml(s).replace(/"/g, '&quot;');
}
