import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // onnxruntime sessions use native threads; forks isolate them per file.
    pool: 'forks',
    maxWorkers: 2,
    // Rewrites docs/reliability.md after a run whose tests recorded reliability rows (test/reliability/report.ts).
    globalSetup: ['test/reliability/global-setup.ts'],
  },
});
