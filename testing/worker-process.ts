/**
 * A queue worker as its own process, for tests that kill it (kill -9): `node --import tsx
 * testing/worker-process.ts '<json>'` with { env, overrides } (see workers/main.ts startWorker).
 * Prints `READY {}` once consuming, then one `EVENT {...}` line per job start / done / failure;
 * SIGTERM stops it cleanly.
 */
import { loadWorkerConfig } from '../config/worker.ts';
import { startWorker, type WorkerOverrides } from '../workers/main.ts';

const { env, overrides } = JSON.parse(process.argv[2] ?? '{}') as { env: NodeJS.ProcessEnv; overrides: WorkerOverrides };
const worker = await startWorker(loadWorkerConfig(env), {
  ...overrides,
  onEvent: (e) => process.stdout.write(`EVENT ${JSON.stringify({ ...e, pid: process.pid })}\n`),
});
process.stdout.write(`READY ${JSON.stringify({ pid: process.pid })}\n`);
process.once('SIGTERM', () => void worker.close(5000).then(() => process.exit(0)));
