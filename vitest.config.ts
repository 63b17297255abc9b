import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // onnxruntime sessions use native threads; forks isolate them per file.
    pool: 'forks',
    maxWorkers: 2,
    // Reliability tests record their cases in .cache/reliability/; docs/reliability.md is written from
    // them by `npm run report:reliability`, never by a test run.
  },
});
