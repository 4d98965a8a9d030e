/**
 * Files that run in their own thread or process (worker threads, lab replicas) must be compiled
 * JavaScript. When the caller itself runs from TypeScript sources (the tests), this points at the
 * same file under dist/ instead.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/ (or dist/): the folder above this module's own. */
const PACKAGE_CODE_ROOT = new URL('..', import.meta.url).href;

/**
 * Path of the compiled JS for `relative` (e.g. `lab/replica-process.js`, relative to src/ or dist/).
 * @param rootUrl URL of src/ or dist/ (tests point it elsewhere); default: where this module lives.
 * @throws Error telling to run `npm run build` when the file is missing.
 */
export function compiledEntry(relative: string, rootUrl: string = PACKAGE_CODE_ROOT): string {
  const root = fileURLToPath(rootUrl);
  // Running from TypeScript sources (src/): the compiled twin lives in dist/ beside src/.
  const base = path.basename(root) === 'src' ? path.join(path.dirname(root), 'dist') : root;
  const entry = path.join(base, relative);
  if (!existsSync(entry)) {
    throw new Error(`${entry} not found; run \`npm run build\` first (it runs as compiled JavaScript).`);
  }
  return entry;
}
