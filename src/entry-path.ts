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
 * @param callerUrl `import.meta.url` of the caller, a module `depth` folders below src/ (or dist/).
 * @throws Error telling to run `npm run build` when the file is missing.
 */
export function compiledEntry(relative: string, callerUrl: string, depth = 0): string {
  const here = fileURLToPath(callerUrl);
  // src/ or dist/: the caller's folder, `depth` levels up.
  const top = path.resolve(path.dirname(here), ...Array<string>(depth).fill('..'));
  const base = here.endsWith('.ts') ? path.join(path.dirname(top), 'dist') : top;
  const entry = path.join(base, relative);
  if (!existsSync(entry)) {
    throw new Error(`${entry} not found; run \`npm run build\` first (it runs as compiled JavaScript).`);
  }
  return entry;
}
