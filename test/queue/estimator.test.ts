/** The duration estimator on a hand-driven clock: measured phase rates, no estimate before a rate, waits from measured durations. */
import { describe, expect, it } from 'vitest';
import { DurationEstimator, phaseOf } from '../../src/queue/estimator.ts';
import type { Job, JobKind, JobProgress } from '../../src/queue/job.ts';

let ids = 0;
function job(kind: JobKind, steps?: number): Job {
  const owner = { platform: 't', workspace: 'w', user: 'u' };
  const base = { id: `j${ids++}`, owner, status: 'running' as const, createdAt: 0 };
  if (kind === 'train') return { ...base, kind, args: { content: new Uint8Array(), style: new Uint8Array(), name: 's', ...(steps ? { steps } : {}) } };
  if (kind === 'draw') return { ...base, kind, args: { prompt: 'p', styles: [], seed: 0, steps: steps ?? 25, cfg: 5 } };
  if (kind === 'blend') {
    const ref = { name: 'a', bytes: new Uint8Array() };
    return { ...base, kind, args: { prompt: 'p', a: ref, b: ref, strength: 3, strip: 5, seed: 0, steps: steps ?? 25, cfg: 5 } };
  }
  return { ...base, kind, args: { image: new Uint8Array(), imageName: 'x.png', styles: [], ...(steps ? { steps } : {}) } };
}

/** An estimator on a clock the test moves, with the events a queue would emit. */
function harness() {
  let ms = 0;
  const est = new DurationEstimator('model-a', () => ms);
  return {
    est,
    at: (seconds: number) => {
      ms = seconds * 1000;
    },
    start: (j: Job) => est.observe({ type: 'started', job: j }),
    step: (j: Job, p: JobProgress) => est.observe({ type: 'progress', job: j, progress: p }),
    done: (j: Job) => est.observe({ type: 'done', job: j }),
  };
}

/** A training as the engine reports it: start-up, warm-up then training on one counter, three sample drawings side by side, a tail. */
function runTraining(
  h: ReturnType<typeof harness>,
  j: Job,
  t0: number,
  o = { startup: 10, perStep: 0.1, steps: 300, sampleGap: 2, samplePerStep: 0.05, tail: 1 },
) {
  h.at(t0);
  h.start(j);
  let t = t0 + o.startup;
  for (let i = 1; i <= o.steps; i++) {
    h.at(t);
    h.step(j, { step: i, steps: o.steps, phase: i <= o.steps / 3 ? 'content warm-up' : 'training' });
    t += o.perStep;
  }
  t += o.sampleGap - o.perStep;
  for (let i = 0; i < 25; i++) {
    for (let k = 1; k <= 3; k++) {
      h.at(t);
      h.step(j, { step: i, steps: 25, phase: `drawing sample ${k}/3` });
      t += o.samplePerStep;
    }
  }
  t += o.tail - o.samplePerStep;
  h.at(t);
  h.done(j);
  return t;
}

describe('phaseOf', () => {
  it('takes a trailing k/n as a lane of one phase', () => {
    expect(phaseOf('drawing sample 2/3')).toEqual({ key: 'drawing sample', lanes: 3 });
    expect(phaseOf('training')).toEqual({ key: 'training', lanes: 1 });
    expect(phaseOf(undefined)).toEqual({ key: '', lanes: 1 });
    expect(phaseOf('step 4/3')).toEqual({ key: 'step 4/3', lanes: 1 });
  });
});

describe('DurationEstimator', () => {
  it('has no estimate before a rate is measured, and none from a single progress event', () => {
    const h = harness();
    const j = job('train', 300);
    h.at(0);
    h.start(j);
    expect(h.est.remaining(j)).toBeUndefined();
    h.at(10);
    h.step(j, { step: 1, steps: 300, phase: 'content warm-up' });
    expect(h.est.remaining(j)).toBeUndefined();
    h.at(10.1);
    h.step(j, { step: 2, steps: 300, phase: 'content warm-up' });
    const r = h.est.remaining(j);
    expect(r?.phaseOnly).toBe(true);
    // 298 steps at the measured 0.1 s, the 10 s start-up not counted as steps (elapsed/step would say 10.1/2*298 = 1505 s).
    expect(r?.seconds).toBeCloseTo(29.8, 5);
  });

  it('counts the time since the last progress against the current phase', () => {
    const h = harness();
    const j = job('draw', 10);
    h.at(0);
    h.start(j);
    for (let i = 0; i < 3; i++) {
      h.at(5 + i);
      h.step(j, { step: i, steps: 10, phase: 'drawing' });
    }
    expect(h.est.remaining(j)?.seconds).toBeCloseTo(8, 5);
    h.at(7.5);
    expect(h.est.remaining(j)?.seconds).toBeCloseTo(7.5, 5);
  });

  it('after a finished training, estimates the whole of the next one: later phases and the tail from the measured run, scaled to its steps', () => {
    const h = harness();
    const first = job('train', 300);
    const end = runTraining(h, first, 0);
    // start-up 10 + 299 intervals of 0.1 + gap 2 + 74 intervals of 0.05 + tail 1
    expect(end).toBeCloseTo(10 + 29.9 + 2 + 3.7 + 1, 5);
    const next = job('train', 150);
    expect(h.est.duration(next)).toBeCloseTo(10 + 14.95 + 2 + 3.7 + 1, 1);
    // Started, before its first progress: the measured start-up, less the time spent.
    h.at(100);
    h.start(next);
    h.at(104);
    expect(h.est.remaining(next)?.seconds).toBeCloseTo(6 + 14.95 + 2 + 3.7 + 1, 1);
    // At 10% of its steps, at the last run's pace: its own rate for the rest of the warm-up, then the training, the samples and the tail as measured.
    for (let i = 1; i <= 15; i++) {
      h.at(110 + (i - 1) * 0.1);
      h.step(next, { step: i, steps: 150, phase: 'content warm-up' });
    }
    const r = h.est.remaining(next)!;
    expect(r.phaseOnly).toBe(false);
    // warm-up to step 50 (35 steps = 3.5 s), the training's 100 steps (0.1 s start-up + 9.95 s), samples (2 + 3.7 s), tail (1 s)
    expect(r.seconds).toBeCloseTo(3.5 + 0.1 + 9.95 + 2 + 3.7 + 1, 1);
  });

  it("a run slower than the last one (a busier machine): its own rate counts more as its steps add up; a phase just begun takes the last run's rate at this run's pace", () => {
    const h = harness();
    runTraining(h, job('train', 300), 0);
    const next = job('train', 300);
    h.at(100);
    h.start(next);
    for (let i = 1; i <= 30; i++) {
      h.at(110 + (i - 1) * 0.2);
      h.step(next, { step: i, steps: 300, phase: 'content warm-up' });
    }
    // 70 warm-up steps at its 0.2 s over 29 steps beside the last run's 0.1 s as 5 steps, then the last run's training (0.1 + 19.9 s), samples (2 + 3.7 s) and tail (1 s)
    expect(h.est.remaining(next)?.seconds).toBeCloseTo((70 * (29 * 0.2 + 5 * 0.1)) / 34 + (0.1 + 19.9 + 2 + 3.7 + 1), 1);
    // At the change to the samples, with no rate of their own yet: the last run's, at this run's pace in the training (twice as slow).
    for (let i = 31; i <= 300; i++) {
      h.at(110 + (i - 1) * 0.2);
      h.step(next, { step: i, steps: 300, phase: i <= 100 ? 'content warm-up' : 'training' });
    }
    h.at(110 + 299 * 0.2 + 4);
    h.step(next, { step: 0, steps: 25, phase: 'drawing sample 1/3' });
    // 72 lane-steps at twice the last run's rate (2 × 3.7 s), then the tail as measured (1 s).
    expect(h.est.remaining(next)?.seconds).toBeCloseTo(2 * 3.7 + 1, 1);
  });

  it('at the change to the sample drawings: the measured rate of the samples, not elapsed time over one step', () => {
    const h = harness();
    runTraining(h, job('train', 300), 0);
    const next = job('train', 300);
    h.at(1000);
    h.start(next);
    for (let i = 1; i <= 300; i++) {
      h.at(1010 + (i - 1) * 0.1);
      h.step(next, { step: i, steps: 300, phase: i <= 100 ? 'content warm-up' : 'training' });
    }
    h.at(1010 + 29.9 + 2);
    h.step(next, { step: 0, steps: 25, phase: 'drawing sample 1/3' });
    // The samples' 74 steps left at the last run's 0.05 s, then the tail; the truth is 3.7 + 1.
    expect(h.est.remaining(next)?.seconds).toBeCloseTo(3.7 + 1, 1);
  });

  it('without a finished job of the kind, the first sample-drawing event gives no estimate, and the lanes together give the rate', () => {
    const h = harness();
    const j = job('train', 30);
    h.at(0);
    h.start(j);
    for (let i = 1; i <= 30; i++) {
      h.at(1 + i);
      h.step(j, { step: i, steps: 30, phase: 'training' });
    }
    h.at(40);
    h.step(j, { step: 0, steps: 25, phase: 'drawing sample 1/3' });
    expect(h.est.remaining(j)).toBeUndefined();
    h.at(40.1);
    h.step(j, { step: 0, steps: 25, phase: 'drawing sample 2/3' });
    h.at(40.2);
    h.step(j, { step: 0, steps: 25, phase: 'drawing sample 3/3' });
    h.at(40.3);
    h.step(j, { step: 1, steps: 25, phase: 'drawing sample 1/3' });
    // 0.3 s for one lane step, 74 lane-steps to go
    expect(h.est.remaining(j)?.seconds).toBeCloseTo(0.3 * 74, 5);
    expect(h.est.remaining(j)?.phaseOnly).toBe(true);
  });

  it('keeps measurements per kind, and only of jobs that finished', () => {
    const h = harness();
    const d = job('draw', 20);
    h.at(0);
    h.start(d);
    for (let i = 0; i < 20; i++) {
      h.at(3 + i * 0.5);
      h.step(d, { step: i, steps: 20, phase: 'drawing' });
    }
    const cancelled = job('blend', 20);
    h.start(cancelled);
    h.step(cancelled, { step: 0, steps: 20, phase: 'blending' });
    h.at(20);
    h.step(cancelled, { step: 1, steps: 20, phase: 'blending' });
    h.est.observe({ type: 'cancelled', job: cancelled });
    h.at(3 + 19 * 0.5 + 0.5);
    h.done(d);
    expect(h.est.duration(job('draw', 20))).toBeCloseTo(3 + 9.5 + 0.5, 5);
    expect(h.est.duration(job('draw', 40))).toBeCloseTo(3 + 19 + 0.5, 5);
    expect(h.est.duration(job('blend', 20))).toBeUndefined();
    expect(h.est.duration(job('train'))).toBeUndefined();
    expect(h.est.durations()).toEqual({ draw: 13 });
    // A new estimator (another model) knows nothing.
    expect(new DurationEstimator('model-b').duration(job('draw', 20))).toBeUndefined();
  });

  it('waits: the running jobs left plus the measured durations of the jobs ahead, over the devices; unknown when any is unmeasured', () => {
    const h = harness();
    const d = job('draw', 10);
    h.at(0);
    h.start(d);
    for (let i = 0; i < 10; i++) {
      h.at(2 + i);
      h.step(d, { step: i, steps: 10, phase: 'drawing' });
    }
    h.at(12);
    h.done(d);
    // A draw takes 2 + 9 + 1 = 12 s.
    const running = job('draw', 10);
    h.at(100);
    h.start(running);
    h.at(101);
    const ahead = [job('draw', 10), job('draw', 20)];
    // running: 1 s of start-up left + 10 s; ahead: 12 + 21
    expect(h.est.wait([running], ahead, 1)).toBeCloseTo(11 + 12 + 21, 5);
    expect(h.est.wait([running], ahead, 2)).toBeCloseTo((11 + 12 + 21) / 2, 5);
    expect(h.est.wait([running], [], 1, 2)).toBeCloseTo(11 + 24, 5);
    expect(h.est.wait([running], [job('train')], 1)).toBeUndefined();
    expect(h.est.wait([], [], 1)).toBe(0);
  });

  it('does not count the time a training spends paused for quick jobs: not in its rate, not against its time left, not in its measured duration', () => {
    const h = harness();
    const t = job('train', 100);
    h.at(0);
    h.start(t);
    const at = (i: number) => 10 + (i - 1) * 0.1;
    for (let i = 1; i <= 50; i++) {
      h.at(at(i));
      h.step(t, { step: i, steps: 100, phase: 'training' });
    }
    // Paused right after step 50 for 30 s (a draw runs; workers/tasks/training-pauses.ts says so, then says it
    // resumed at the same step); the estimate stands still meanwhile.
    h.step(t, { step: 50, steps: 100, phase: 'training', paused: true, pausedFor: ['draw'] });
    h.at(at(50) + 15);
    expect(h.est.remaining(t)?.seconds).toBeCloseTo(50 * 0.1, 5);
    h.at(at(50) + 30);
    h.step(t, { step: 50, steps: 100, phase: 'training', resumedAfter: ['draw'] });
    for (let i = 51; i <= 100; i++) {
      h.at(at(i) + 30);
      h.step(t, { step: i, steps: 100, phase: 'training', resumedAfter: ['draw'] });
      if (i === 60) expect(h.est.remaining(t)?.seconds).toBeCloseTo(40 * 0.1, 5);
    }
    h.at(at(100) + 30 + 1);
    h.done(t);
    // The next training of the kind is expected to take the work, not the pause: 10 s start-up, 99 steps, 1 s tail.
    expect(h.est.duration(job('train', 100))).toBeCloseTo(10 + 99 * 0.1 + 1, 5);
  });
});
