/**
 * The layering of src/, as rules over import lines: each top-level folder of src/ is a layer, and a layer
 * may import only the layers listed for it. Read from the source text, so that the test needs no build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Which layers each layer may import (itself included). `index.ts` (the public API) may import any. */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  common: ['common'],
  result: ['result', 'common'],
  metrics: ['metrics', 'result', 'common'],
  // The scenario language names thresholds, whose grammar is the metrics layer's (metrics/thresholds.ts).
  scenario: ['scenario', 'metrics/thresholds', 'common'],
  engine: ['engine', 'scenario', 'metrics', 'result', 'common'],
  reporters: ['reporters', 'result', 'common'],
  lab: ['lab', 'common'],
  // init's discovery: probes through the engine's HTTP layer, writes a scenario.
  discover: ['discover', 'scenario', 'engine', 'common'],
  cli: ['cli', 'discover', 'scenario', 'engine', 'metrics', 'result', 'reporters', 'lab', 'common'],
};

/** Packages owned by one place: nothing else may import them (type-only imports excepted). */
export const PACKAGE_OWNERS: Readonly<Record<string, readonly string[]>> = {
  'hdr-histogram-js': ['metrics/histogram.ts'],
  'tough-cookie': ['engine/cookies.ts'],
  undici: ['engine/http/'],
  commander: ['cli/'],
  chalk: ['reporters/style.ts'],
  'cli-table3': ['reporters/'],
  redis: ['lab/'],
  // Loaded on first use through require (a run that needs neither never loads them); type imports anywhere.
  zod: ['common/zod.ts'],
  yaml: ['scenario/load.ts', 'scenario/write.ts'],
  // Read (uplot) or required (junit-report-builder) by one reporter each.
  uplot: ['reporters/html.ts'],
  'junit-report-builder': ['reporters/junit.ts'],
  'prom-client': ['cli/prometheus.ts'],
};

export interface Import {
  /** The importing file, relative to src/ (`engine/vu.ts`). */
  from: string;
  /** The imported module: a path relative to src/ (`scenario/types.ts`) or a package name. */
  to: string;
  typeOnly: boolean;
  line: number;
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The import lines of one file. */
export function importsOf(from: string, text: string): Import[] {
  const out: Import[] = [];
  // Multi-line import lists are folded onto their first line.
  const folded = text.replace(/\{[^}]*\}/g, (m) => m.replace(/\n/g, ' '));
  folded.split('\n').forEach((l, i) => {
    const m = IMPORT.exec(l);
    if (m && (m[1] === 'import' || /\sfrom\s/.test(l))) out.push(resolve(from, m[3]!, m[2] !== undefined, i + 1));
    for (const d of l.matchAll(DYNAMIC)) out.push(resolve(from, d[1]!, false, i + 1));
  });
  return out;
}

function resolve(from: string, spec: string, typeOnly: boolean, line: number): Import {
  if (!spec.startsWith('.')) return { from, to: spec.startsWith('node:') ? spec : spec.split('/')[0]!.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!, typeOnly, line };
  const to = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)).replace(/\.js$/, '.ts');
  return { from, to, typeOnly, line };
}

const layerOf = (file: string): string => (file.includes('/') ? file.split('/')[0]! : file);

/** Every import that runs against the layers, or against a package's owner, as readable lines. */
export function layeringViolations(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [from, text] of files) {
    for (const imp of importsOf(from, text)) {
      if (imp.to.startsWith('node:')) continue;
      const where = `src/${from}:${imp.line}`;
      if (!imp.to.endsWith('.ts')) {
        const owners = PACKAGE_OWNERS[imp.to];
        if (owners && !imp.typeOnly && !owners.some((o) => from === o || (o.endsWith('/') && from.startsWith(o)))) {
          out.push(`${where} imports ${imp.to}, which only ${owners.join(', ')} may import`);
        }
        continue;
      }
      if (imp.to.startsWith('..')) {
        out.push(`${where} imports ${imp.to}, outside src/`);
        continue;
      }
      if (from === 'index.ts') continue;
      const allowed = ALLOWED[layerOf(from)];
      if (allowed === undefined) {
        out.push(`src/${from} is not in a layer (a folder of src/ named in ALLOWED)`);
        continue;
      }
      const ok = allowed.some((a) => layerOf(imp.to) === a || imp.to === `${a}.ts` || imp.to.startsWith(`${a}/`) && a.includes('/'));
      if (!ok) out.push(`${where} (${layerOf(from)}) imports ${imp.to} (${layerOf(imp.to)}): ${layerOf(from)} may import only ${allowed.join(', ')}`);
    }
  }
  return out;
}

/** Import cycles between modules (type-only imports excepted: they vanish at run time). */
export function importCycles(files: ReadonlyMap<string, string>): string[][] {
  const edges = new Map<string, string[]>();
  for (const [from, text] of files) {
    edges.set(from, importsOf(from, text).filter((i) => !i.typeOnly && i.to.endsWith('.ts') && files.has(i.to)).map((i) => i.to));
  }
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of edges.keys()) if (!state.has(n)) visit(n);
  return cycles;
}

/** Every .ts file under `srcDir`, by path relative to it. */
export function readSources(srcDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.set(path.relative(srcDir, p).split(path.sep).join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(srcDir);
  return out;
}
