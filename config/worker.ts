/**
 * Worker-process configuration (npm run worker) from the environment, validated at start:
 *
 *   REDIS_URL                  the Redis of the BullMQ queue (required), as for the bots
 *   PAIRSTYLE_QUEUE_PREFIX     key prefix shared with the bots (default 'pairstyle')
 *   PAIRSTYLE_MODEL            a model folder, a diffusers Stable Diffusion folder or a .safetensors
 *                              checkpoint (default: the embedded emoji-mini model); the same as the bots';
 *                              PAIRSTYLE_TOKENIZER: a single file's tokenizer folder (config/model.ts)
 *   PAIRSTYLE_DEVICE           'cpu' (default) or 'cuda' (onnxruntime-node installed with
 *                              --onnxruntime-node-install=cuda12; checked at start)
 *   PAIRSTYLE_PRECISION        'fp32' (default) or 'fp16' (half-precision compute, for GPUs)
 *   PAIRSTYLE_DEVICES          engine threads in this process, one job each (default 1: one per GPU)
 *   PAIRSTYLE_LOCK_SECONDS     a job's lock: a worker silent this long is presumed dead and its job is
 *                              run by another worker (default 30)
 *   PAIRSTYLE_STALLED_CHECK_SECONDS  how often this worker looks for such jobs (default: half the lock)
 */
import { ConfigError, int, queueConfig } from './bot.ts';
import { modelConfig, type ModelConfig } from './model.ts';

export interface WorkerConfig {
  redisUrl: string;
  prefix: string;
  model: ModelConfig;
  devices: number;
  lockMs: number;
  stalledIntervalMs: number;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const problems: string[] = [];
  if (!env.REDIS_URL?.trim())
    problems.push('REDIS_URL is missing: the worker takes its jobs from BullMQ on that Redis (the same URL as the bots), e.g. redis://127.0.0.1:6379');
  const queue = queueConfig({ ...env, PAIRSTYLE_QUEUE: 'bullmq' }, env.REDIS_URL?.trim() ? problems : []);
  const lockSeconds = int(env, 'PAIRSTYLE_LOCK_SECONDS', 30, 2, 3600, problems);
  const cfg: WorkerConfig = {
    redisUrl: queue.backend === 'bullmq' ? queue.redisUrl : '',
    prefix: queue.backend === 'bullmq' ? queue.prefix : 'pairstyle',
    model: modelConfig(env, problems),
    devices: int(env, 'PAIRSTYLE_DEVICES', 1, 1, 16, problems),
    lockMs: lockSeconds * 1000,
    stalledIntervalMs: int(env, 'PAIRSTYLE_STALLED_CHECK_SECONDS', Math.max(1, Math.round(lockSeconds / 2)), 1, 3600, problems) * 1000,
  };
  if (problems.length) throw new ConfigError(`the worker cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return cfg;
}
