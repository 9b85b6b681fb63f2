/** Rows of cells as a terminal table, Markdown, CSV or JSON: the formats `matrix` and `conformance` print. */
export type TableFormat = 'table' | 'markdown' | 'csv' | 'json';

export interface Table {
  columns: string[];
  rows: Array<Array<string | number>>;
}

export function renderTable(t: Table, format: TableFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c, r[i]]))), null, 2)}\n`;
    case 'csv':
      return [t.columns, ...t.rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
    case 'markdown': {
      const esc = (v: string | number) => String(v).replace(/\|/g, '\\|').replace(/\n/g, '<br>');
      return [
        `| ${t.columns.map(esc).join(' | ')} |`,
        `|${t.columns.map(() => '---').join('|')}|`,
        ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
      ].join('\n') + '\n';
    }
    case 'table': {
      const cells = [t.columns, ...t.rows].map((r) => r.map((v) => String(v).replace(/\n/g, ' ⏎ ')));
      const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => displayWidth(r[i] ?? ''))));
      const line = (r: string[]) => r.map((v, i) => v + ' '.repeat(widths[i]! - displayWidth(v))).join('  ').trimEnd();
      return [line(cells[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n') + '\n';
    }
  }
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function displayWidth(s: string): number {
  return [...s].length;
}
