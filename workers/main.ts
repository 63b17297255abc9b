/**
 * npm run worker: a PairStyle worker process for the BullMQ queue (config/worker.ts): takes train /
 * draw / blend / stylize jobs from Redis, one at a time per device (a quick one also while the device
 * trains: the training pauses for it, see queue-worker.ts), and runs them in engine threads on the
 * configured model. Run one per GPU, on as many machines as needed; the bots (npm run bot with the same
 * REDIS_URL) enqueue. SIGINT / SIGTERM: finishes the running job (up to 30 s), then stops.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config/bot.ts';
import { loadWorkerConfig, type WorkerConfig } from '../config/worker.ts';
import { checkDevice, DeviceUnavailableError } from '../src/graph/providers.ts';
import { redactUrl } from '../src/queue/bullmq-wire.ts';
import { WorkerExecutor } from './executor.ts';
import { startQueueWorkers, type QueueWorkerOptions, type QueueWorkers } from './queue-worker.ts';
import type { TaskOptions } from './tasks/bot-jobs.ts';

/** Test seams: faster engine settings, job lifecycle lines. */
export interface WorkerOverrides {
  task?: Omit<TaskOptions, 'model'>;
  onEvent?: QueueWorkerOptions['onEvent'];
  progressEveryMs?: number;
}

export async function startWorker(cfg: WorkerConfig, o: WorkerOverrides = {}): Promise<QueueWorkers> {
  return startQueueWorkers({
    redisUrl: cfg.redisUrl,
    prefix: cfg.prefix,
    executors: Array.from({ length: cfg.devices }, () => new WorkerExecutor({ ...o.task, model: { config: cfg.model } })),
    lockMs: cfg.lockMs,
    stalledIntervalMs: cfg.stalledIntervalMs,
    progressEveryMs: o.progressEveryMs,
    onEvent: o.onEvent,
  });
}

async function main() {
  let cfg: WorkerConfig;
  try {
    cfg = loadWorkerConfig();
    // A GPU host without the CUDA provider fails now, with the cure, not on its first job.
    checkDevice(cfg.model.device);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof DeviceUnavailableError) {
      console.error(`pairstyle worker: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const worker = await startWorker(cfg, {
    onEvent: (e) => console.log(`${e.type} ${e.kind} ${e.id} (device ${e.device}, attempt ${e.attempt})${e.reason ? `: ${e.reason}` : ''}`),
  });
  console.log(
    `worker: ${cfg.devices} device(s) on ${redactUrl(cfg.redisUrl)} (prefix ${cfg.prefix}), model ${cfg.model.path} on ${cfg.model.device} (${cfg.model.precision})`,
  );
  const stop = async () => {
    console.log('stopping: finishing the running job…');
    await worker.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
