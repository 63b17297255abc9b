import { defineConfig } from 'vitest/config';

/**
 * Tests that compare the product's own time estimates with the same run's measured times: they need the
 * machine's speed to stay the same across the run, so they run alone, after every other file (a file
 * running beside them on the 2 cores changes a training's speed between its measured rate and its end).
 */
const ALONE = ['test/queue/estimator-run.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // onnxruntime sessions use native threads; forks isolate them per file.
    pool: 'forks',
    maxWorkers: 2,
    // Reliability tests record their cases in .cache/reliability/; docs/reliability.md is written from
    // them by `npm run report:reliability`, never by a test run.
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ALONE, sequence: { groupOrder: 0 } } },
      // groupOrder 1: starts when every 'shared' file has finished; one file, so nothing runs beside it.
      { extends: true, test: { name: 'alone', include: ALONE, sequence: { groupOrder: 1 } } },
    ],
  },
});
