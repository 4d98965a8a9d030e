/**
 * zod, loaded on first use. Loading it costs ~0.1 s of CPU, and a quick-mode run (a URL, no scenario
 * file, no result to validate) never needs it. Every schema of this package goes through this one copy
 * (zod's CommonJS build: a synchronous `require` is what lets a schema be built on demand).
 */
import { createRequire } from 'node:module';

const requireCjs = createRequire(import.meta.url);
let zodModule: typeof import('zod') | null = null;

export function loadZod(): typeof import('zod') {
  return (zodModule ??= requireCjs('zod') as typeof import('zod'));
}
