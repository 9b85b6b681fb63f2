/**
 * Import cycles in src/: every strongly connected component of the module
 * graph with more than one file. Type-only imports count (they tie files
 * together as much as any other: a change to one file's types re-checks the
 * rest); `--runtime` leaves them out to show what Node itself would load.
 *
 *   node dist/scripts/import-cycles.js [--runtime] [dir]
 *
 * Exit status 1 when a cycle exists, so it can guard a layout in CI.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

export interface ImportGraph { files: string[]; edges: Map<string, Set<string>> }

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** `import … from 'x'`, `export … from 'x'`, `import 'x'`, `import('x')`; `type` marks type-only ones. */
const IMPORT_RE = /(?:^|[;\n])\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function isTypeOnlyClause(statement: string): boolean {
  const braces = /^[;\n]?\s*import\s*\{([^}]*)\}\s*from/.exec(statement);
  if (!braces) return false;
  const names = braces[1]!.split(',').map((n) => n.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => n.startsWith('type '));
}

export function importGraph(root: string, opts: { runtime?: boolean } = {}): ImportGraph {
  const files = listTs(root).sort();
  const known = new Set(files);
  const edges = new Map<string, Set<string>>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const deps = new Set<string>();
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[3] ?? m[4];
      if (!spec || !spec.startsWith('.')) continue;
      if (opts.runtime && m[2]) continue;
      // `import { type A, type B } from` is type-only too.
      if (opts.runtime && isTypeOnlyClause(m[0])) continue;
      const target = path.resolve(path.dirname(f), spec.replace(/\.js$/, '.ts'));
      if (known.has(target)) deps.add(target);
    }
    edges.set(f, deps);
  }
  return { files, edges };
}

/** Tarjan's strongly connected components, largest first; singletons left out. */
export function cycles(g: ImportGraph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of g.edges.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) { onStack.delete(w); scc.push(w); if (w === v) break; }
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const f of g.files) if (!idx.has(f)) visit(f);
  return out.sort((a, b) => b.length - a.length);
}

const isMain = process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('scripts', 'import-cycles.js'));
if (isMain) {
  const args = process.argv.slice(2);
  const runtime = args.includes('--runtime');
  const root = path.resolve(args.find((a) => !a.startsWith('--')) ?? 'src');
  const found = cycles(importGraph(root, { runtime }));
  for (const c of found) {
    console.log(`cycle of ${c.length} files:`);
    for (const f of c) console.log(`  ${path.relative(process.cwd(), f)}`);
  }
  console.log(found.length === 0 ? 'no import cycles' : `${found.length} cycle(s), ${found.reduce((n, c) => n + c.length, 0)} files in cycles`);
  process.exitCode = found.length === 0 ? 0 : 1;
}
