/**
 * npm run bench:scale [-- --quick] [--jobs N] [--steps S] [--workers 1,2,3]: jobs/s of the BullMQ
 * backend with 1, 2 and 3 worker processes on loopback, and the ratio to 1 worker. A throwaway
 * redis-server (127.0.0.1, random port, no persistence) per run; the jobs are plain draws on the
 * embedded model (PAIRSTYLE_MODEL for another) submitted by a bot-side queue in this process, from
 * distinct users so the per-user caps never hold them back. Each worker first draws once untimed
 * (model load, session compile), then the timed batch runs.
 *
 * On this 2-core machine the speed-up is capped by the cores: every worker's engine thread competes
 * for the same 2 cores, so 3 workers cannot beat ~2x (less with onnxruntime's own intra-op threads).
 * On a host with one GPU per worker, the draws run on separate devices and jobs/s grows nearly
 * linearly with the workers until Redis or the bots' event loops become the limit (far above this).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { modelDir } from '../config/model.ts';
import { BullmqQueue } from '../src/queue/bullmq.ts';
import type { JobArgs } from '../src/queue/job.ts';
import { RedisServer } from '../testing/redis-server.ts';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
};
const quick = flag('quick');
const JOBS = Number(value('jobs', quick ? '4' : '24'));
const STEPS = Number(value('steps', quick ? '2' : '25'));
const WORKERS = value('workers', quick ? '1,2' : '1,2,3')
  .split(',')
  .map(Number);

function startWorker(redisUrl: string): { p: ChildProcess; ready: Promise<void>; done: { count: number } } {
  const arg = JSON.stringify({ env: { REDIS_URL: redisUrl, PAIRSTYLE_MODEL: modelDir(), PAIRSTYLE_QUEUE_PREFIX: 'bench' }, overrides: {} });
  const p = spawn(process.execPath, ['--import', 'tsx', 'testing/worker-process.ts', arg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const done = { count: 0 };
  const ready = new Promise<void>((resolve, reject) => {
    p.once('exit', (code) => reject(new Error(`worker exited (${code}): ${err}`)));
    createInterface({ input: p.stdout! }).on('line', (l) => {
      if (l.startsWith('READY ')) resolve();
      else if (l.startsWith('EVENT ') && (JSON.parse(l.slice(6)) as { type: string }).type === 'done') done.count++;
    });
  });
  ready.catch(() => undefined);
  return { p, ready, done };
}

const drawJob = (seed: number): JobArgs => ({ kind: 'draw', args: { prompt: 'cat face', styles: [], seed, steps: STEPS, cfg: 5 } });

async function runWith(workers: number): Promise<{ seconds: number; jobsPerSecond: number }> {
  const redis = await new RedisServer().start();
  const procs: ChildProcess[] = [];
  let queue: BullmqQueue | undefined;
  try {
    const started = Array.from({ length: workers }, () => startWorker(redis.url));
    procs.push(...started.map((s) => s.p));
    await Promise.all(started.map((s) => s.ready));
    queue = await BullmqQueue.open({ redisUrl: redis.url, prefix: 'bench', limits: { maxQueued: 10_000 }, log: () => undefined });
    const q = queue;
    const batch = async (count: number, tag: string) => {
      const jobs = await Promise.all(Array.from({ length: count }, (_, i) => q.submit({ platform: 'bench', workspace: 'w', user: `${tag}${i}` }, drawJob(i))));
      const done = await Promise.all(jobs.map((j) => q.finished(j.id)));
      const bad = done.filter((j) => j.status !== 'done');
      if (bad.length) throw new Error(`${bad.length} draws did not finish: ${bad[0].error?.message ?? bad[0].status}`);
    };
    // Warm-up until every worker has drawn (model load + session compile), then the timed batch.
    for (let round = 0; round < 20 && started.some((s) => s.done.count === 0); round++) await batch(workers, `warm${round}-`);
    const t0 = performance.now();
    await batch(JOBS, 'u');
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, jobsPerSecond: JOBS / seconds };
  } finally {
    await queue?.close();
    for (const p of procs) {
      if (p.exitCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await redis.stop();
  }
}

console.log(
  `bench:scale: ${JOBS} plain draws of ${STEPS} steps on ${modelDir()} per run, workers ${WORKERS.join(', ')}${quick ? ' (--quick: a smoke run, not a measurement)' : ''}`,
);
const rows: { workers: number; seconds: number; jobsPerSecond: number }[] = [];
for (const w of WORKERS) {
  const r = await runWith(w);
  rows.push({ workers: w, ...r });
  console.log(`  ${w} worker(s): ${r.seconds.toFixed(2)} s, ${r.jobsPerSecond.toFixed(2)} jobs/s`);
}
const base = rows.find((r) => r.workers === 1)?.jobsPerSecond ?? rows[0].jobsPerSecond;
console.log('\n| workers | jobs/s | vs 1 worker |\n|---|---|---|');
for (const r of rows) console.log(`| ${r.workers} | ${r.jobsPerSecond.toFixed(2)} | ${(r.jobsPerSecond / base).toFixed(2)}x |`);
console.log(
  `\nThis machine has ${(await import('node:os')).availableParallelism()} cores: the workers share them, so the speed-up is capped by the cores, not by the queue. With one GPU per worker, expect close to linear scaling.`,
);
for (const r of rows) console.log(`bench_scale_jobs_per_s_${r.workers}=${r.jobsPerSecond.toFixed(3)}`);
