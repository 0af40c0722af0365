// The layers of docs/ARCHITECTURE.md, held to the code: every file of src belongs to one entry of
// the table, every entry holds files, an import goes only to its own entry or to a lower layer,
// and no files import each other in a cycle. Type-only imports count: they are arrows too.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.join(import.meta.dirname, '..');

interface Entry {
  layer: number;
  /** A directory or a file, relative to the repository: `src/cri-api/gen`. */
  prefix: string;
}

/** The rows of the table under "## Layers": `| 3 | \`src/content\`, \`src/network\` | … |`. */
function layerTable(): Entry[] {
  const doc = readFileSync(path.join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('Layers'));
  assert.ok(section, 'docs/ARCHITECTURE.md has a "## Layers" section');
  const entries: Entry[] = [];
  for (const line of section.split('\n')) {
    const row = /^\|\s*(\d+)\s*\|([^|]+)\|/.exec(line);
    if (!row) continue;
    for (const m of row[2]!.matchAll(/`([^`]+)`/g)) entries.push({ layer: Number(row[1]), prefix: m[1]!.replace(/\/$/, '') });
  }
  assert.ok(entries.length > 0, 'the layer table has rows');
  return entries;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return /\.(ts|js|mjs)$/.test(e.name) ? [rel] : [];
  });
}

/** The file's entry: the longest prefix that holds it. */
function entryOf(file: string, entries: Entry[]): Entry | undefined {
  let best: Entry | undefined;
  for (const e of entries) {
    const holds = file === e.prefix || file.startsWith(`${e.prefix}/`);
    if (holds && (best === undefined || e.prefix.length > best.prefix.length)) best = e;
  }
  return best;
}

/** Relative specifiers of static imports and re-exports, `import()` and `require()`. */
function relativeImports(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const p of patterns) for (const m of source.matchAll(p)) specs.push(m[1]!);
  return specs.filter((s) => s.startsWith('.'));
}

/** Each file's imports of other files of src; `missing`: imports of files that are not there. */
function importGraph(files: string[]): { graph: Map<string, string[]>; missing: string[] } {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  const missing: string[] = [];
  for (const file of files) {
    const targets = relativeImports(readFileSync(path.join(ROOT, file), 'utf8')).map((spec) =>
      path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)),
    );
    // Unit tests may use the support code under test/; inside src, every import must resolve.
    for (const t of targets) if (t.startsWith('src/') && !known.has(t)) missing.push(`${file} imports ${t}`);
    graph.set(
      file,
      targets.filter((t) => known.has(t)),
    );
  }
  return { graph, missing };
}

const entries = layerTable();
const files = sourceFiles('src');
const { graph, missing } = importGraph(files);

test('every relative import names a file of src', () => {
  assert.deepEqual(missing, []);
});

test('every file of src belongs to an entry of the layer table, and every entry holds files', () => {
  const homeless = files.filter((f) => entryOf(f, entries) === undefined);
  assert.deepEqual(homeless, [], 'files outside every entry of the table');
  const prefixes = entries.map((e) => e.prefix);
  assert.equal(new Set(prefixes).size, prefixes.length, 'no entry is listed twice');
  const empty = entries.filter((e) => !files.some((f) => entryOf(f, entries) === e));
  assert.deepEqual(empty, [], 'entries that hold no file');
});

test('imports go only to the same entry or to a lower layer', () => {
  const upward: string[] = [];
  for (const [file, targets] of graph) {
    const from = entryOf(file, entries)!;
    for (const target of targets) {
      const to = entryOf(target, entries)!;
      if (to !== from && to.layer >= from.layer) {
        upward.push(`${file} (${from.prefix}, layer ${from.layer}) imports ${target} (${to.prefix}, layer ${to.layer})`);
      }
    }
  }
  assert.deepEqual(upward, []);
});

test('no import cycle among the files of src', () => {
  // Tarjan's strongly connected components; a component of more than one file is a cycle.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  assert.deepEqual(cycles, []);
});

test('the import reader sees every form of import', () => {
  const source = [
    "import a from './a.ts';",
    "import type { B } from '../b.ts';",
    'import {',
    '  c,',
    "} from './c.ts';",
    "export { d } from './d.ts';",
    "export * from './e.ts';",
    "import './f.ts';",
    // Split, so that this file itself imports nothing.
    'const g = await import' + "('./g.ts');",
    "import h from 'node:fs';",
  ].join('\n');
  assert.deepEqual(relativeImports(source).sort(), ['../b.ts', './a.ts', './c.ts', './d.ts', './e.ts', './f.ts', './g.ts']);
});
