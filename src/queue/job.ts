/**
 * The job model shared by every queue backend and the worker: a train / draw / blend request with its
 * owner (platform + workspace + user), its arguments, and what happened to it (status, progress, result).
 * Arguments and results are plain structured-cloneable data (bytes as Uint8Array), so a job crosses a
 * worker-thread boundary or a Redis queue unchanged.
 */
import { UserError, type ErrorRecord, type UserErrorKind } from '../errors/user-error.ts';
import { msg, type Message, type Text } from '../i18n/message.ts';

export type JobKind = 'train' | 'draw' | 'blend' | 'stylize';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobOwner {
  /** 'discord' | 'slack' | 'playground' | ... */
  platform: string;
  /** Discord guild id, Slack team id (or a DM scope). */
  workspace: string;
  user: string;
}

/** A style travelling with a job: its registry name and its style-file bytes (see encodeStyle). */
export interface StyleRef {
  name: string;
  bytes: Uint8Array;
}

/** At most this many before/after pairs train one style (what the commands and the CLI accept). */
export const MAX_PAIRS = 4;

export interface TrainArgs {
  /** Image bytes as uploaded (any format sharp reads). */
  content: Uint8Array;
  style: Uint8Array;
  /** Pairs 2..4 of the same style, image bytes as uploaded. */
  extraPairs?: { content: Uint8Array; style: Uint8Array }[];
  /** What each pair is, for the messages ("dog.png → dog-ink.png"), when there are several. */
  pairLabels?: string[];
  name: string;
  subject?: string;
  steps?: number;
  seed?: number;
  /** Prompts drawn unstyled and stylized for the result message. */
  samplePrompts?: string[];
  /** Replace the owner's style of the same name when storing the result. */
  overwrite?: boolean;
  /** Told with the result (e.g. an animated picture's first frame was used; a far-from-square pair was centre-cropped). */
  notices?: string[];
}

/** A variation of a result (the vary button): the same settings, with the noise of `seed` mixed in at `strength` (src/diffusion/variation.ts). */
export interface Variation {
  seed: number;
  /** In (0, 1]: how far from the original picture. */
  strength: number;
}

export interface DrawArgs {
  prompt: string;
  /** Empty: a plain draw. */
  styles: { style: StyleRef; weight: number }[];
  seed: number;
  steps: number;
  cfg: number;
  variation?: Variation;
}

export interface BlendArgs {
  prompt: string;
  a: StyleRef;
  b: StyleRef;
  /** Share of style B from 0 to 1: one image. Absent: a strip of `strip` images from A to B. */
  ratio?: number;
  strength: number;
  strip: number;
  seed: number;
  steps: number;
  cfg: number;
  variation?: Variation;
}

/** A picture the user gave, redrawn in styles (src/pair/stylize.ts). */
export interface StylizeArgs {
  /** Image bytes as uploaded (any format sharp reads). */
  image: Uint8Array;
  /** What the picture was called, for the messages. */
  imageName: string;
  /** Empty: the plain reconstruction only. */
  styles: { style: StyleRef; weight: number }[];
  /** Share of the schedule kept from the picture (the start step), in [0, 1); absent: the engine's default. */
  keep?: number;
  /** Sampler steps; absent: the engine's default. */
  steps?: number;
  /** A variation: stochastic denoising (DDIM eta = strength) with noise of its seed; absent: deterministic. */
  variation?: Variation;
  /** Told with the result (e.g. an animated picture's first frame was used). */
  notices?: string[];
}

export type JobArgs =
  | { kind: 'train'; args: TrainArgs }
  | { kind: 'draw'; args: DrawArgs }
  | { kind: 'blend'; args: BlendArgs }
  | { kind: 'stylize'; args: StylizeArgs };

export interface JobProgress {
  step: number;
  steps: number;
  /** e.g. 'content warm-up', 'training', 'drawing samples', 'drawing'. */
  phase?: string;
  loss?: number;
  /**
   * The job has paused between two steps and lends its device to quick jobs (`phase` says for what):
   * its time limit stands still until a progress without it (src/queue/run-job.ts).
   */
  paused?: boolean;
  /** While paused: the quick jobs (their kinds) the training lends its device to. */
  pausedFor?: readonly JobKind[];
  /** The quick jobs (their kinds) the training has paused for so far; its user is told it resumed. */
  resumedAfter?: readonly JobKind[];
  /**
   * A small PNG of the image being drawn as it looks now (the sampler's x0 estimate), while drawing;
   * only when decoding is cheap (the pixel codec), at most every ~2 s (workers/tasks/bot-jobs.ts).
   */
  preview?: Uint8Array;
}

export interface ResultImage {
  name: string;
  png: Uint8Array;
}

export interface JobResult {
  images: ResultImage[];
  /** Train jobs: the learned style file. */
  style?: { bytes: Uint8Array; info: Record<string, unknown> };
  seconds: number;
  text?: string;
}

/**
 * Where a job's replies go, as plain data an adapter can act on after a restart (a Discord interaction
 * token and channel, a Slack channel, the playground). `platform` names the adapter that reads it.
 */
export interface ReplyRoute {
  platform: string;
  /** The language of the user who asked (src/i18n's locale name), so a job's replies, also after a restart, are in it. */
  locale?: string;
  [key: string]: unknown;
}

export type Job = JobArgs & {
  id: string;
  owner: JobOwner;
  status: JobStatus;
  /** Times the job was started (a job interrupted by a crash is started again once). */
  attempts?: number;
  route?: ReplyRoute;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  progress?: JobProgress;
  result?: JobResult;
  /** Why it failed; a user error keeps its kind (src/errors/user-error.ts). */
  error?: ErrorRecord;
};

/** Draw, blend and stylize jobs are short: they run ahead of trainings, and a training pauses for them. */
export const isQuick = (kind: JobKind): boolean => kind !== 'train';

const ownerKeys = new WeakMap<JobOwner, string>();
/** `platform:workspace:user`, URI-encoded parts; memoized per owner object (queue ordering asks often). */
export const ownerKey = (o: JobOwner): string => {
  let k = ownerKeys.get(o);
  if (k === undefined) {
    k = [o.platform, o.workspace, o.user].map(encodeURIComponent).join(':');
    ownerKeys.set(o, k);
  }
  return k;
};

const personKeys = new WeakMap<JobOwner, string>();
/**
 * `platform:user`: the person, whichever server, workspace or DM they write from (Discord and Slack user
 * ids are the same person everywhere on their platform). Per-user caps and limits count by it.
 */
export const personKey = (o: JobOwner): string => {
  let k = personKeys.get(o);
  if (k === undefined) {
    k = [o.platform, o.user].map(encodeURIComponent).join(':');
    personKeys.set(o, k);
  }
  return k;
};

/** Runs one job on one device. Injected into the queue: the worker executor in production, fakes in tests. */
export interface JobExecutor {
  /**
   * It may be given a quick job while it runs a training: the training pauses at its next step, the
   * quick job runs, the training goes on where it was (WorkerExecutor). Absent: one job at a time.
   */
  readonly pausesTrainings?: boolean;
  execute(job: Job, ctx: { signal: AbortSignal; onProgress: (p: JobProgress) => void }): Promise<JobResult>;
  close?(): Promise<void>;
}

/** What a queue tells its listeners. */
export type JobEvent =
  /** `etaSeconds`: until it starts, from measured times (src/queue/estimator.ts); absent before there are any. */
  | { type: 'queued'; job: Job; position: number; etaSeconds?: number }
  | { type: 'started'; job: Job }
  | { type: 'progress'; job: Job; progress: JobProgress }
  | { type: 'done'; job: Job }
  | { type: 'failed'; job: Job }
  | { type: 'cancelled'; job: Job };

/** A user error of the queue (a cap, a queue that cannot take jobs now): the message is meant for the person who asked. */
export class QueueLimitError extends UserError {
  override name = 'QueueLimitError';
  constructor(message: Text, retryAfterSeconds?: number, kind: UserErrorKind = 'limit') {
    super(message, kind, { retryAfterSeconds });
  }
}

/** The per-user cap on trainings in the queue, as both backends refuse it. */
export const trainingsCap = (cap: number): Message =>
  msg('queue.trainings-cap', { trainings: cap === 1 ? msg('queue.a-training') : msg('queue.n-trainings', { count: cap }) });

/** No such job for this user ('not-found'), or not theirs ('not-allowed'). */
export class JobNotFoundError extends UserError {
  override name = 'JobNotFoundError';
  constructor(message: Text, kind: UserErrorKind = 'not-found') {
    super(message, kind);
  }
}

export interface SubmitOptions {
  listener?: (e: JobEvent) => void;
  /** Where the replies go; journaled with the job so they still arrive after a restart. */
  route?: ReplyRoute;
}

/** Called for each job read back from the journal, so its adapter can follow it to the user again. */
export type ResumeJob = (job: Job) => void;

/**
 * Where a job stands: its queue position (0: running) and, once measured (src/queue/estimator.ts), the
 * seconds until it starts (queued) or ends (running); `etaPhaseOnly`: they cover only the running
 * job's current phase, its later phases not being measured yet.
 */
export interface JobStanding {
  job: Job;
  position: number;
  etaSeconds?: number;
  etaPhaseOnly?: boolean;
}

/** The queue interface the commands talk to: InProcessQueue (in-process.ts) and BullMQQueue (bullmq.ts) implement it. */
export interface JobQueue {
  /** Resolves once the job is recorded (journaled when the queue has a journal); rejects with QueueLimitError over a cap. */
  submit(owner: JobOwner, job: JobArgs, opts?: SubmitOptions): Promise<Job>;
  get(id: string): Job | undefined;
  /** Queued and running jobs of a user, with queue position and ETA. */
  jobsOf(owner: JobOwner): JobStanding[];
  cancel(id: string, by?: JobOwner): Job;
  /** Resolves when the job reaches done / failed / cancelled. */
  finished(id: string): Promise<Job>;
  on(listener: (e: JobEvent) => void): () => void;
  /** The job's final reply reached its user: the journal forgets it. */
  delivered(id: string): Promise<void>;
  close(): Promise<void>;
}

/** The engine thread died under a job (native crash, out of memory): the job may be retried once. */
export class EngineCrashError extends Error {
  override name = 'EngineCrashError';
}
