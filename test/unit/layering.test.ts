/** The layers of src/ (see README "Where things are"): imports point one way, packages stay with their owner. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importCycles, importsOf, layeringViolations, readSources } from '../helpers/layers.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

describe('layering of src/', () => {
  const sources = readSources(SRC);

  it('reads the import lines of every source file', () => {
    expect(sources.size).toBeGreaterThan(40);
    const runner = importsOf('engine/runner.ts', sources.get('engine/runner.ts')!);
    expect(runner.map((i) => i.to)).toContain('metrics/collector.ts');
  });

  it('has no import that runs against the layers', () => {
    expect(layeringViolations(sources)).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(importCycles(sources)).toEqual([]);
  });

  it('catches a planted wrong import (the engine formatting output, the lab using the tester)', () => {
    const planted = new Map(sources);
    planted.set('engine/vu.ts', `${sources.get('engine/vu.ts')!}\nimport { formatMs } from '../reporters/format.js';\n`);
    planted.set('lab/lab.ts', `import {\n  run,\n} from '../engine/runner.js';\n${sources.get('lab/lab.ts')!}`);
    planted.set('reporters/terminal.ts', `${sources.get('reporters/terminal.ts')!}\nimport { Collector } from '../metrics/collector.js';\n`);
    planted.set('metrics/summary.ts', `${sources.get('metrics/summary.ts')!}\nimport { CookieJar } from 'tough-cookie';\n`);
    const found = layeringViolations(planted);
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(/^src\/engine\/vu\.ts:\d+ \(engine\) imports reporters\/format\.ts \(reporters\)/);
    expect(found.join('\n')).toMatch(/src\/lab\/lab\.ts:1 \(lab\) imports engine\/runner\.ts/);
    expect(found.join('\n')).toMatch(/reporters\/terminal\.ts:\d+ \(reporters\) imports metrics\/collector\.ts/);
    expect(found.join('\n')).toMatch(/metrics\/summary\.ts:\d+ imports tough-cookie, which only engine\/cookies\.ts may import/);
  });

  it('catches a planted cycle', () => {
    const planted = new Map(sources);
    planted.set('engine/workers.ts', `${sources.get('engine/workers.ts')!}\nimport { run } from './runner.js';\n`);
    expect(importCycles(planted).map((c) => c.join(' -> '))).toContain('engine/runner.ts -> engine/workers.ts -> engine/runner.ts');
  });
});
