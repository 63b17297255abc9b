import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // onnxruntime sessions use native threads; forks isolate them per file.
    pool: 'forks',
    maxWorkers: 2,
  },
});
