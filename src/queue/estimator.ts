/**
 * Time estimates from measured rates, one for both queue backends (in-process.ts, bullmq.ts): how long
 * a running job still needs, how long a job not started yet takes, and so how long a queued job waits.
 * Nothing is assumed: without a measurement there is no estimate (the reply says "estimating…").
 *
 * A job runs as a sequence of phases, as its progress names them ('content warm-up', 'training',
 * 'drawing sample 1/3', 'drawing' ...): from the start (or the previous phase's last progress) to a
 * phase's first progress is its start-up (loading the model, compiling a graph, the first step), then
 * its steps, then, after the last phase, the tail (the result's pictures). Labels that differ only by a
 * trailing "k/n" are lanes of one phase (the sample drawings run side by side): the phase's work is the
 * sum of its lanes' steps.
 *
 * - A running job's current phase: its rate measured in this run (seconds per step, from its first
 *   progress to its latest). When the last finished job of the same kind and model measured the phase
 *   too, that rate, at this run's pace in its earlier phases, counts as PRIOR_STEPS steps beside this
 *   run's: a phase with no rate of its own yet (just begun) takes it, and the first few steps' noise is
 *   damped.
 * - The phases after it, and the tail: as the last finished job of the same kind and model measured
 *   them (its start-ups and rates, its steps scaled to this job's). Before any job of the kind has
 *   finished, only the current phase is estimated, and the estimate says so (`phaseOnly`).
 * - A job not started yet: the last finished job of its kind and model, scaled to its steps.
 */
import { msg } from '../i18n/message.ts';
import { QueueLimitError, type Job, type JobEvent, type JobKind, type JobProgress, type JobStanding } from './job.ts';

/** Seconds left, and whether they cover only the current phase (the later ones are not measured yet). */
export interface TimeEstimate {
  seconds: number;
  phaseOnly: boolean;
}

/** A phase of a finished job, as measured. */
interface PhaseRecord {
  key: string;
  /** Seconds from the phase's begin to its first progress event. */
  startup: number;
  /** Seconds per step (of one lane), between its first and last progress event; undefined with one event. */
  perStep: number | undefined;
  /** Where its counter stood at its first and its last progress event (steps of all lanes), and the counter's size (steps × lanes). */
  from: number;
  to: number;
  total: number;
}

/** What a finished job measured: its phases and its tail. */
interface RunRecord {
  phases: PhaseRecord[];
  tail: number;
  /** The job's steps argument (undefined: the engine's default). */
  steps: number | undefined;
}

/** A phase of a running job, as it goes. */
interface PhaseTrack {
  key: string;
  /** Lane label → its latest step. */
  lanes: Map<string, number>;
  laneCount: number;
  steps: number;
  /** Milliseconds: the phase's begin, its first and its latest progress event, and the work done at those. */
  begin: number;
  firstAt: number;
  firstDone: number;
  lastAt: number;
  lastDone: number;
  /** Milliseconds between firstAt and lastAt that the job spent paused for quick jobs (not its own work). */
  pausedMs: number;
  /** While the job is paused: since when. */
  pausedSince?: number;
}

interface Track {
  startedAt: number;
  phases: PhaseTrack[];
}

/** 'drawing sample 2/3' → the phase 'drawing sample', lane 2 of 3. */
export function phaseOf(label: string | undefined): { key: string; lanes: number } {
  const text = label ?? '';
  const m = /^(.*?)\s*\b(\d+)\/(\d+)$/.exec(text);
  if (m && Number(m[2]) >= 1 && Number(m[2]) <= Number(m[3])) return { key: m[1], lanes: Number(m[3]) };
  return { key: text, lanes: 1 };
}

/** The steps argument of a job (undefined where the engine's default applies). */
const stepsOf = (job: Job): number | undefined => job.args.steps;

const done = (p: PhaseTrack) => [...p.lanes.values()].reduce((s, v) => s + v, 0);

/** Seconds per step of a phase so far (undefined before two progress events that moved its counter). */
const rateOf = (p: PhaseTrack): number | undefined =>
  p.lastDone > p.firstDone ? (p.lastAt - p.firstAt - p.pausedMs) / 1000 / (p.lastDone - p.firstDone) : undefined;

/** Slowest and fastest pace believed against the last run (a busier or a quieter machine). */
const PACE_LIMITS = [1 / 3, 3] as const;

/** The weight, in steps, of the last finished job's rate for a phase beside this run's own steps. */
const PRIOR_STEPS = 5;

/**
 * How fast this run went against the recorded one before its current phase: the latest earlier phase
 * measured in both, this run's rate over the record's (1 when none is), within PACE_LIMITS. A phase
 * that just began takes the record's rate at this pace (a machine that got busier since the last job
 * draws its samples slower too).
 */
function paceOf(track: Track, record: RunRecord): number {
  for (let i = track.phases.length - 2; i >= 0; i--) {
    const rate = rateOf(track.phases[i]);
    const past = record.phases.find((r) => r.key === track.phases[i].key)?.perStep;
    if (rate !== undefined && past) return Math.min(PACE_LIMITS[1], Math.max(PACE_LIMITS[0], rate / past));
  }
  return 1;
}

export class DurationEstimator {
  private readonly tracks = new Map<string, Track>();
  private readonly records = new Map<string, RunRecord>();

  /**
   * @param model names the model the jobs run on: measurements are kept per job kind and model.
   * @param now the clock, in milliseconds.
   */
  constructor(
    private readonly model = '',
    private readonly now: () => number = Date.now,
  ) {}

  /** Feeds one queue event: a start, a progress, an end (a done job's measurements are kept for its kind). */
  observe(e: JobEvent): void {
    const id = e.job.id;
    switch (e.type) {
      case 'started':
        this.tracks.set(id, { startedAt: this.now(), phases: [] });
        return;
      case 'progress':
        this.progress(e.job, e.progress);
        return;
      case 'done': {
        const track = this.tracks.get(id);
        this.tracks.delete(id);
        if (track?.phases.length) this.records.set(this.keyOf(e.job.kind), this.recordOf(e.job, track));
        return;
      }
      default:
        this.tracks.delete(id);
    }
  }

  /** Seconds the running job still needs; undefined until a rate is measured. */
  remaining(job: Job): TimeEstimate | undefined {
    const track = this.tracks.get(job.id);
    const record = this.records.get(this.keyOf(job.kind));
    const now = this.now();
    if (!track?.phases.length) {
      // Not yet at its first progress: the last finished job's start-up, less the time already spent.
      const whole = this.duration(job);
      if (whole === undefined || !record) return undefined;
      const startup = record.phases[0].startup;
      const elapsed = track ? (now - track.startedAt) / 1000 : 0;
      return { seconds: Math.max(0, startup - elapsed) + whole - startup, phaseOnly: false };
    }
    const phase = track.phases[track.phases.length - 1];
    const at = record?.phases.findIndex((r) => r.key === phase.key) ?? -1;
    const past = record && at >= 0 ? record.phases[at] : undefined;
    const own = rateOf(phase);
    const prior = past?.perStep === undefined || !record ? undefined : past.perStep * paceOf(track, record);
    const steps = phase.lastDone - phase.firstDone;
    const rate = prior === undefined ? own : own === undefined ? prior : (steps * own + PRIOR_STEPS * prior) / (steps + PRIOR_STEPS);
    if (rate === undefined) return undefined;
    const total = phase.laneCount * phase.steps;
    // Where this phase ends on its counter: where the last job's did (as a share of its counter), else at the counter's end.
    const end = past ? Math.min(total, Math.max(phase.lastDone, Math.round((past.to / past.total) * total))) : total;
    // Time since the last step counts as work done on the next one, except while paused for quick jobs.
    const working = (phase.pausedSince ?? now) - phase.lastAt;
    const here = Math.max(0, rate * (end - phase.lastDone) - Math.max(0, working) / 1000);
    if (!record || !past) return { seconds: here, phaseOnly: true };
    // Later phases on this phase's counter (the warm-up, then the training) scale with it.
    return { seconds: here + this.later(record.phases.slice(at + 1), record, total / past.total, past.total), phaseOnly: false };
  }

  /** Seconds a job takes from its start, as the last finished job of its kind and model did (scaled to its steps); undefined before one. */
  duration(job: Job): number | undefined {
    const record = this.records.get(this.keyOf(job.kind));
    if (!record) return undefined;
    const scale = this.scaleOf(job, record);
    return this.later(record.phases, record, scale, record.steps);
  }

  /**
   * Seconds until a job starts that waits behind `running` and then `ahead` (in order), on `devices`
   * devices; `unknownAhead` more jobs ahead that this process does not know are counted as draws.
   * Undefined when any of them has no measured time.
   */
  wait(running: readonly Job[], ahead: readonly Job[], devices: number, unknownAhead = 0): number | undefined {
    let work = 0;
    for (const job of running) {
      const r = this.remaining(job);
      if (!r || r.phaseOnly) return undefined;
      work += r.seconds;
    }
    for (const job of ahead) {
      const d = this.duration(job);
      if (d === undefined) return undefined;
      work += d;
    }
    if (unknownAhead > 0) {
      const draw = this.kindDuration('draw');
      if (draw === undefined) return undefined;
      work += unknownAhead * draw;
    }
    return work / Math.max(1, devices);
  }

  /** The measured duration of each kind's last finished job (seconds), for stats. */
  durations(): Partial<Record<JobKind, number>> {
    const out: Partial<Record<JobKind, number>> = {};
    for (const kind of ['train', 'draw', 'blend', 'stylize'] as const) {
      const d = this.kindDuration(kind);
      if (d !== undefined) out[kind] = d;
    }
    return out;
  }

  private kindDuration(kind: JobKind): number | undefined {
    const record = this.records.get(this.keyOf(kind));
    return record ? this.later(record.phases, record, 1) : undefined;
  }

  private keyOf(kind: JobKind): string {
    return `${this.model}\u0000${kind}`;
  }

  /** How much more (or less) work a job's steps are than the recorded job's. */
  private scaleOf(job: Job, record: RunRecord): number {
    const steps = stepsOf(job);
    return steps !== undefined && record.steps !== undefined && record.steps > 0 ? steps / record.steps : 1;
  }

  /** Seconds of `phases` and the tail; phases on a counter of size `scaled` have their work scaled by `scale`. */
  private later(phases: readonly PhaseRecord[], record: RunRecord, scale: number, scaled?: number): number {
    let s = record.tail;
    for (const p of phases) s += p.startup + (p.perStep ?? 0) * (p.to - p.from) * (scaled !== undefined && p.total === scaled ? scale : 1);
    return s;
  }

  private progress(job: Job, p: JobProgress): void {
    const now = this.now();
    let track = this.tracks.get(job.id);
    if (!track) {
      // Started before this process followed it (an adopted BullMQ job): measured from here on.
      track = { startedAt: now, phases: [] };
      this.tracks.set(job.id, track);
    }
    let phase = track.phases[track.phases.length - 1];
    // A training paused for quick jobs: that time is not its own work (neither its rate nor the next phase's start-up).
    if (p.paused) {
      if (phase && phase.pausedSince === undefined) phase.pausedSince = now;
      return;
    }
    let resumedAfter = 0;
    if (phase?.pausedSince !== undefined) {
      resumedAfter = now - phase.pausedSince;
      phase.pausedSince = undefined;
    }
    const { key, lanes } = phaseOf(p.phase);
    if (!phase || phase.key !== key || phase.steps !== p.steps) {
      phase = {
        key,
        lanes: new Map(),
        laneCount: lanes,
        steps: p.steps,
        begin: phase ? phase.lastAt + resumedAfter : track.startedAt,
        firstAt: now,
        firstDone: 0,
        lastAt: now,
        lastDone: 0,
        pausedMs: 0,
      };
      phase.lanes.set(p.phase ?? '', p.step);
      phase.firstDone = phase.lastDone = done(phase);
      track.phases.push(phase);
      return;
    }
    phase.pausedMs += resumedAfter;
    phase.lanes.set(p.phase ?? '', p.step);
    phase.lastAt = now;
    phase.lastDone = done(phase);
  }

  private recordOf(job: Job, track: Track): RunRecord {
    const end = this.now();
    const phases = track.phases.map((p) => ({
      key: p.key,
      startup: (p.firstAt - p.begin) / 1000,
      perStep: rateOf(p),
      from: p.firstDone,
      to: p.lastDone,
      total: p.laneCount * p.steps,
    }));
    return { phases, tail: (end - track.phases[track.phases.length - 1].lastAt) / 1000, steps: stepsOf(job) };
  }
}

/** A running job's time left as JobQueue.jobsOf tells it. */
export const standingOf = (t: TimeEstimate | undefined): Pick<JobStanding, 'etaSeconds' | 'etaPhaseOnly'> =>
  t === undefined ? {} : { etaSeconds: Math.round(t.seconds), ...(t.phaseOnly ? { etaPhaseOnly: true } : {}) };

/** The refusal over the global cap: with the measured wait in minutes, or without a figure before one is measured. */
export function busyError(waiting: number, waitSeconds: number | undefined): QueueLimitError {
  if (waitSeconds === undefined) return new QueueLimitError(msg('queue.busy-unmeasured', { count: waiting }), 60);
  const minutes = Math.max(1, Math.ceil(waitSeconds / 60));
  return new QueueLimitError(msg('queue.busy', { count: waiting, minutes }), minutes * 60);
}
