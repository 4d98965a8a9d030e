import { createRequire } from 'node:module';

/** The package version (src/common/ and dist/common/ both sit two levels below package.json). */
export const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
