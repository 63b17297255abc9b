/**
 * vitest globalSetup: after a run in which any test recorded reliability rows (test/reliability/report.ts),
 * docs/reliability.md is rewritten from all results (test/reliability/doc.ts). Runs that record nothing
 * leave the report alone.
 */
import { resultsWrittenSince, writeReliabilityDoc } from './doc.ts';

export default function setup(): () => void {
  const started = Date.now();
  return () => {
    if (resultsWrittenSince(started)) writeReliabilityDoc();
  };
}
