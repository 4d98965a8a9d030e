/**
 * Files that run in their own thread or process (worker threads, lab replicas) must be compiled
 * JavaScript. When the caller itself runs from TypeScript sources (the tests), this points at the
 * same file under dist/ instead.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Path of the compiled JS for `relative` (e.g. `lab/replica-process.js`, relative to src/ or dist/).
 * @param callerUrl `import.meta.url` of a module directly in src/ (or dist/).
 */
export function compiledEntry(relative: string, callerUrl: string): string {
  const here = fileURLToPath(callerUrl);
  const root = path.resolve(path.dirname(here), '..');
  const entry = here.endsWith('.ts') ? path.join(root, 'dist', relative) : path.join(path.dirname(here), relative);
  if (!existsSync(entry)) {
    throw new Error(`${entry} not found; run \`npm run build\` first (it runs as compiled JavaScript).`);
  }
  return entry;
}
