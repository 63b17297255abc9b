/**
 * Draws never wait behind a training: through the queue and the engine thread on the tiny model (the
 * in-process queue, and BullMQ on a real redis-server with a queue worker), a draw sent while a
 * training runs starts at the training's next step and finishes first; the training tells its user it
 * paused and resumed, ends with the same weights as without the pause, and a training cancelled while
 * paused ends cleanly.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phaseLine } from '../../commands/render.ts';
import { decodeStyle } from '../../src/pair/style-file.ts';
import { BullmqQueue } from '../../src/queue/bullmq.ts';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import type { DrawArgs, JobArgs, JobEvent, JobExecutor, JobOwner, JobProgress, JobQueue, TrainArgs } from '../../src/queue/job.ts';
import { RedisServer } from '../../testing/redis-server.ts';
import { WorkerExecutor } from '../../workers/executor.ts';
import { startQueueWorkers, type QueueWorkers } from '../../workers/queue-worker.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';

const ann: JobOwner = { platform: 'test', workspace: 'w', user: 'ann' };
const bob: JobOwner = { platform: 'test', workspace: 'w', user: 'bob' };
let modelDir: string;
let queue: InProcessQueue;
let content: Uint8Array;
let style: Uint8Array;
const executor = () => new WorkerExecutor({ model: { dir: modelDir }, sampleSteps: 2 });

/**
 * An executor that records, in `handedAt`, the training's last reported step each time it is handed a
 * quick job. The pause bound is counted from there, not from the step heard when the draw was sent: the
 * draw's way to the executor (the queue's bookkeeping; over BullMQ, redis and the worker's quick lane)
 * takes a time that, on a loaded machine, is several of the tiny model's steps.
 */
function watched(inner: JobExecutor, handedAt: number[]): JobExecutor {
  let trainingStep = -1;
  return {
    pausesTrainings: inner.pausesTrainings,
    execute: (job, ctx) => {
      if (job.kind !== 'train') {
        handedAt.push(trainingStep);
        return inner.execute(job, ctx);
      }
      const onProgress = (p: JobProgress) => {
        if (!p.paused) trainingStep = p.step;
        ctx.onProgress(p);
      };
      return inner.execute(job, { ...ctx, onProgress });
    },
    close: () => inner.close?.() ?? Promise.resolve(),
  };
}
/** The in-process queue's hand-overs of quick jobs (`watched`). */
const handedInProcess: number[] = [];

beforeAll(async () => {
  modelDir = await writeTinyModelFolder();
  queue = new InProcessQueue({ executors: [watched(executor(), handedInProcess)] });
  content = new Uint8Array(
    await sharp({ create: { width: 16, height: 16, channels: 3, background: '#d22' } })
      .png()
      .toBuffer(),
  );
  style = new Uint8Array(
    await sharp({ create: { width: 16, height: 16, channels: 3, background: '#22d' } })
      .png()
      .toBuffer(),
  );
});
afterAll(() => queue.close());

const STEPS = 40;
const training = (name: string, extra: Partial<TrainArgs> = {}): JobArgs => ({
  kind: 'train',
  args: { content, style, name, steps: STEPS, seed: 3, samplePrompts: [], ...extra },
});
const drawing = (prompt: string, steps = 4): JobArgs => ({ kind: 'draw', args: { prompt, styles: [], seed: 1, steps, cfg: 5 } satisfies DrawArgs });

/** One line per event of every job, in the order the main thread heard them. */
type Line = { job: string; type: JobEvent['type']; step?: number; phase?: string };
const line = (name: string, e: JobEvent): Line =>
  e.type === 'progress' ? { job: name, type: e.type, step: e.progress.step, phase: phaseLine(e.progress) } : { job: name, type: e.type };

/** Submits a training, and `quick` jobs once it has reported `atStep` steps; resolves with every event heard. */
async function trainWithDrawsAt(atStep: number, quick: { owner: JobOwner; args: JobArgs }[], q: JobQueue = queue) {
  const lines: Line[] = [];
  let sentAt = -1;
  const sent: Promise<string>[] = [];
  const t = await q.submit(ann, training('ink'), {
    listener: (e) => {
      lines.push(line('train', e));
      if (e.type === 'progress' && e.progress.phase !== undefined && !e.progress.paused && e.progress.step >= atStep && sentAt < 0) {
        sentAt = e.progress.step;
        quick.forEach((job, i) => sent.push(q.submit(job.owner, job.args, { listener: (d) => lines.push(line(`quick${i}`, d)) }).then((j) => j.id)));
      }
    },
  });
  return { t, lines, sentAt: () => sentAt, sent };
}

/**
 * The training paused for the draw at most two steps after `cameAt`, the last step it had reported when
 * the draw came (the step running then, whose report may still have been on its way), resumed, and ran
 * all its steps.
 */
function expectPausedOnceAndResumed(run: Awaited<ReturnType<typeof trainWithDrawsAt>>, cameAt = run.sentAt()): void {
  const trainLines = run.lines.filter((l) => l.job === 'train' && l.type === 'progress');
  const paused = trainLines.find((l) => l.phase === 'paused for 1 draw');
  expect(paused).toBeDefined();
  expect(cameAt).toBeGreaterThanOrEqual(0);
  expect(paused!.step! - cameAt).toBeLessThanOrEqual(2);
  const after = trainLines.slice(trainLines.indexOf(paused!) + 1);
  expect(after[0].phase).toMatch(/; resumed after 1 draw$/);
  expect(after.at(-1)!.step).toBe(STEPS);
}

describe('a training pauses for quick jobs', () => {
  it('a draw sent during a training starts within one training step, finishes before the training, and the training says it paused and resumed', async () => {
    const handedBefore = handedInProcess.length;
    const run = await trainWithDrawsAt(2, [{ owner: bob, args: drawing('cat face') }]);
    const trained = await queue.finished(run.t.id);
    const [drawId] = await Promise.all(run.sent);
    const drawn = queue.get(drawId)!;
    expect(trained.status).toBe('done');
    expect(drawn.status).toBe('done');
    expect(drawn.finishedAt!).toBeLessThan(trained.finishedAt!);
    const { lines } = run;
    // The training steps heard between the draw's hand-over to the executor and its first sampler step:
    // the step that was running when it came (its report may still have been on its way), and not one more.
    expect(handedInProcess.length).toBe(handedBefore + 1);
    const handedAt = handedInProcess[handedBefore];
    expect(handedAt).toBeGreaterThanOrEqual(run.sentAt());
    const firstDrawStep = lines.findIndex((l) => l.job === 'quick0' && l.type === 'progress');
    const stepsBefore = lines
      .slice(0, firstDrawStep)
      .filter((l) => l.job === 'train' && l.type === 'progress' && l.step! > handedAt && !l.phase!.startsWith('paused'));
    expect(stepsBefore.length).toBeLessThanOrEqual(2);
    // The training's user: paused for the draw, then resumed (and the training ran all its steps).
    const paused = lines.find((l) => l.job === 'train' && l.phase === 'paused for 1 draw');
    expect(paused).toBeDefined();
    expect(lines.indexOf(paused!)).toBeLessThan(firstDrawStep);
    expectPausedOnceAndResumed(run, handedAt);
  });

  it('a training paused for draws and a stylize ends with exactly the weights of the same training left alone', async () => {
    const alone = await queue.finished((await queue.submit(ann, training('ink'))).id);
    const run = await trainWithDrawsAt(5, [
      { owner: bob, args: drawing('cat face') },
      { owner: bob, args: drawing('red apple', 6) },
      { owner: { ...bob, user: 'cy' }, args: { kind: 'stylize', args: { image: content, imageName: 'red.png', styles: [], keep: 0.5, steps: 4 } } },
    ]);
    const paused = await queue.finished(run.t.id);
    const quick = await Promise.all((await Promise.all(run.sent)).map((id) => queue.finished(id)));
    expect(quick.map((j) => j.status)).toEqual(['done', 'done', 'done']);
    expect(run.lines.some((l) => l.job === 'train' && l.phase?.startsWith('paused for'))).toBe(true);
    expect(run.lines.filter((l) => l.job === 'train' && l.type === 'progress').at(-1)!.phase).toMatch(/resumed after 2 draws and 1 stylize$/);
    expect(paused.status).toBe('done');
    const a = decodeStyle(alone.result!.style!.bytes);
    const b = decodeStyle(paused.result!.style!.bytes);
    expect(b.modules.length).toBeGreaterThan(0);
    expect(b.modules).toEqual(a.modules);
    expect(paused.result!.style!.info.finalLoss).toBe(alone.result!.style!.info.finalLoss);
  });

  it('a training cancelled while paused ends cancelled once the draw is done; the draw is delivered and the engine keeps serving', async () => {
    const lines: Line[] = [];
    let drawId: Promise<string> | undefined;
    const t = await queue.submit(ann, training('gone'), {
      listener: (e) => {
        lines.push(line('train', e));
        if (e.type === 'progress' && e.progress.step >= 2 && !drawId) drawId = queue.submit(bob, drawing('rocket', 20)).then((j) => j.id);
        if (e.type === 'progress' && phaseLine(e.progress) === 'paused for 1 draw') queue.cancel(t.id, ann);
      },
    });
    const cancelled = await queue.finished(t.id);
    const drawn = await queue.finished(await drawId!);
    expect(cancelled.status).toBe('cancelled');
    expect(drawn.status).toBe('done');
    expect(lines.filter((l) => l.type === 'progress').at(-1)!.step).toBeLessThan(STEPS);
    // Its slot is free and the engine is whole: the same user trains again, to the end.
    const again = await queue.finished((await queue.submit(ann, training('again', { steps: 4 }))).id);
    expect(again.status).toBe('done');
  });
});

describe('a training pauses for quick jobs (BullMQ: a bot queue and a queue worker on a real redis-server)', () => {
  const redis = new RedisServer();
  let bot: BullmqQueue;
  let worker: QueueWorkers;
  /**
   * The training's last reported step each time the queue worker handed the executor a quick job. The
   * bound is counted from there, not from the step the bot heard when it sent the draw: the draw's way
   * through redis to the worker's quick lane takes a time that, on a loaded machine, is several of the
   * tiny model's steps.
   */
  const handedAt: number[] = [];
  beforeAll(async () => {
    await redis.start();
    bot = await BullmqQueue.open({ redisUrl: redis.url, prefix: 'preempt', sweepMs: 300, heartbeatMs: 300, log: () => undefined });
    worker = await startQueueWorkers({
      redisUrl: redis.url,
      prefix: 'preempt',
      executors: [watched(executor(), handedAt)],
      progressEveryMs: 0,
      log: () => undefined,
    });
  }, 30_000);
  afterAll(async () => {
    await bot?.close();
    await worker?.close(2000);
    await redis.stop();
  });

  it("a draw sent during a training runs in the quick lane at the training's next step and finishes first; the training says it paused and resumed", async () => {
    const run = await trainWithDrawsAt(2, [{ owner: bob, args: drawing('cat face') }], bot);
    const trained = await bot.finished(run.t.id);
    const drawn = await bot.finished(await run.sent[0]);
    expect(trained.status).toBe('done');
    expect(drawn.status).toBe('done');
    expect(drawn.finishedAt!).toBeLessThan(trained.finishedAt!);
    expect(handedAt).toHaveLength(1);
    expectPausedOnceAndResumed(run, handedAt[0]);
  });
});
