/**
 * Writing a scenario file: YAML with comments (what `init` found, next to the lines it decided), small
 * maps on one line as people write them by hand. `run` reads the result unchanged (a test reads back
 * every file `init` writes through the loader).
 */
import { createRequire } from 'node:module';
import type { ScenarioFile } from './schema.js';

const requireCjs = createRequire(import.meta.url);
const yaml = (): typeof import('yaml') => requireCjs('yaml') as typeof import('yaml');

export interface KeyComment {
  /** Where the commented key is: ['session', 'loginPath'], ['login']. */
  readonly path: readonly (string | number)[];
  readonly text: string;
}

/** Maps and lists with fewer entries than this and only scalars in them are written on one line. */
const FLOW_MAX_ITEMS = 4;

export function scenarioYaml(file: ScenarioFile, header: readonly string[], comments: readonly KeyComment[]): string {
  const Y = yaml();
  const doc = new Y.Document(file);
  Y.visit(doc, {
    Map(_key, node, path) {
      const parent = path[path.length - 1];
      const pair = [...path].reverse().find((n) => Y.isPair(n));
      const key = pair !== undefined && Y.isPair(pair) && Y.isScalar(pair.key) ? pair.key.value : null;
      // Steps and the session stay in block style; a user entry, a form, an expectation go on one line.
      if (node === doc.contents || key === 'session' || (Y.isSeq(parent) && key !== 'users')) return;
      if (node.items.length <= FLOW_MAX_ITEMS && node.items.every((p) => Y.isScalar(p.value))) node.flow = true;
    },
    Seq(_key, node) {
      if (node.items.length <= FLOW_MAX_ITEMS && node.items.every((i) => Y.isScalar(i))) node.flow = true;
    },
  });
  for (const c of comments) {
    const parent = c.path.length === 1 ? doc.contents : doc.getIn(c.path.slice(0, -1), true);
    if (!Y.isMap(parent)) continue;
    const pair = parent.items.find((p) => Y.isScalar(p.key) && p.key.value === c.path[c.path.length - 1]);
    if (pair !== undefined && Y.isScalar(pair.key)) pair.key.commentBefore = c.text.split('\n').map((l) => ` ${l}`).join('\n');
  }
  doc.commentBefore = header.map((l) => ` ${l}`).join('\n');
  return doc.toString({ lineWidth: 0 });
}
