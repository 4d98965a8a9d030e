import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and child processes; keep the 2-core machine unsaturated.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
