/**
 * What bot processes and worker processes exchange through Redis when the queue is BullMQ
 * (src/queue/bullmq.ts on the bot side, workers/queue-worker.ts on the worker side): the BullMQ queue
 * name, PairStyle's own keys beside BullMQ's, and how jobs, styles, progress, results and errors are
 * written. BullMQ stores job data, progress and return values as JSON, so every Uint8Array travels as
 * base64 (the journal's encoding, src/queue/journal.ts).
 *
 * Keys (all under `<prefix>:ps:`; BullMQ's own live under `<prefix>:jobs:` and `<prefix>:quick:`):
 *   out:<quick|train>:<owner>  sorted set: a user's admitted, unfinished job ids (score: admission ms)
 *   style:<sha256>             a style file's bytes (base64), content-addressed, 7-day TTL refreshed per use
 *   result:<jobId>             a finished job's JobResult (JSON), 7-day TTL; deleted once delivered
 *   open                       hash jobId -> id of the bot process that follows it (until delivered)
 *   bot:<botId>                a bot process's heartbeat (expires when the process is gone)
 *   cancel:<jobId>             set when a running job is to stop; also published on channel `cancel`
 */
import { createHash } from 'node:crypto';
import { USER_ERROR_KINDS, type ErrorRecord } from '../errors/user-error.ts';
import { isKey, type Message } from '../i18n/message.ts';
import { jobFromJson, jobToJson } from './journal.ts';
import type { Job, JobArgs, JobKind, JobProgress, JobResult, StyleRef } from './job.ts';

/** BullMQ's queue of trainings (its keys: `<prefix>:jobs:*`); a worker runs any job it finds there. */
export const QUEUE_NAME = 'jobs';
/**
 * BullMQ's queue of quick jobs (draw, blend, stylize; keys `<prefix>:quick:*`): each device takes them
 * in a lane of their own, so a quick job never waits for a training to end (workers/queue-worker.ts).
 */
export const QUICK_QUEUE_NAME = 'quick';
export const DEFAULT_PREFIX = 'pairstyle';

export const STYLE_TTL_SECONDS = 7 * 24 * 3600;
export const RESULT_TTL_SECONDS = 7 * 24 * 3600;

export type JobClass = 'quick' | 'train';
export const classOf = (kind: JobKind): JobClass => (kind === 'train' ? 'train' : 'quick');
/** The BullMQ queue a job of this class goes to. */
export const queueNameOf = (cls: JobClass): string => (cls === 'quick' ? QUICK_QUEUE_NAME : QUEUE_NAME);

export function redisKeys(prefix = DEFAULT_PREFIX) {
  const p = `${prefix}:ps:`;
  return {
    outstanding: (cls: JobClass, owner: string) => `${p}out:${cls}:${owner}`,
    style: (sha: string) => `${p}style:${sha}`,
    result: (id: string) => `${p}result:${id}`,
    open: `${p}open`,
    alive: (botId: string) => `${p}bot:${botId}`,
    cancel: (id: string) => `${p}cancel:${id}`,
    cancelChannel: `${p}cancel`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/**
 * BullMQ priorities (lower runs first; equal priorities run in submission order). Quick jobs (draw,
 * blend) always come before trainings; within a class a job's rank is the number of jobs its user
 * already had admitted in that class, so every user's first job runs before anyone's second, and so
 * on (round-robin between users, as far as the per-user caps allow).
 */
export const priorityOf = (kind: JobKind, rank: number): number => (kind === 'train' ? 1000 : 1) + rank;

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A style on the wire: its bytes are in Redis under style:<sha256>. */
interface WireStyleRef {
  name: string;
  sha256: string;
}

/** BullMQ job data: the job without its style bytes (replaced by hashes) and without result/progress. */
export interface WireJobData {
  v: 1;
  job: string;
}

/** The styles a job carries, for uploading (bot) or resolving (worker). */
export function stylesOf(job: JobArgs): StyleRef[] {
  if (job.kind === 'draw' || job.kind === 'stylize') return job.args.styles.map((s) => s.style);
  if (job.kind === 'blend') return [job.args.a, job.args.b];
  return [];
}

const swapStyles = (job: Job, swap: (s: StyleRef) => StyleRef): Job => {
  if (job.kind === 'draw') return { ...job, args: { ...job.args, styles: job.args.styles.map((s) => ({ ...s, style: swap(s.style) })) } };
  if (job.kind === 'stylize') return { ...job, args: { ...job.args, styles: job.args.styles.map((s) => ({ ...s, style: swap(s.style) })) } };
  if (job.kind === 'blend') return { ...job, args: { ...job.args, a: swap(job.args.a), b: swap(job.args.b) } };
  return job;
};

export function encodeJobData(job: Job): WireJobData {
  const { result: _r, progress: _p, ...rest } = job;
  const light = swapStyles(rest as Job, (s) => ({ name: s.name, sha256: sha256Hex(s.bytes) }) as unknown as StyleRef);
  return { v: 1, job: jobToJson(light) };
}

/** The job with its styles as hashes only (`bytes` empty); resolveStyles fills them in. */
export function decodeJobData(data: WireJobData): Job {
  if (!data || data.v !== 1 || typeof data.job !== 'string') throw new Error('not a PairStyle job (unknown data format)');
  return jobFromJson(data.job);
}

/** Puts the style bytes back into a decoded job; `load` returns the bytes of a hash (checked here). */
export async function resolveStyles(job: Job, load: (sha: string) => Promise<Uint8Array | undefined>): Promise<Job> {
  const refs = stylesOf(job) as unknown as WireStyleRef[];
  const bytes = new Map<string, Uint8Array>();
  for (const r of refs) {
    if (bytes.has(r.sha256)) continue;
    const b = await load(r.sha256);
    if (!b)
      throw Object.assign(new Error(`the style '${r.name}' is no longer in the shared store (it expired); run the command again`), {
        name: 'StyleMissingError',
      });
    if (sha256Hex(b) !== r.sha256)
      throw Object.assign(new Error(`the style '${r.name}' is damaged in the shared store (its data does not match its checksum); run the command again`), {
        name: 'CorruptStyleError',
      });
    bytes.set(r.sha256, b);
  }
  return swapStyles(job, (s) => ({ name: s.name, bytes: bytes.get((s as unknown as WireStyleRef).sha256)! }));
}

const B64 = '$b64';
const toWire = (_k: string, v: unknown) => (v instanceof Uint8Array ? { [B64]: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') } : v);
const fromWire = (_k: string, v: unknown) =>
  v && typeof v === 'object' && B64 in v && Object.keys(v).length === 1
    ? new Uint8Array(Buffer.from(String((v as Record<string, unknown>)[B64]), 'base64'))
    : v;

/** JSON with bytes as base64, for results and progress. */
export const encodeBytesJson = (value: unknown): string => JSON.stringify(value, toWire);
export const decodeBytesJson = <T>(text: string): T => JSON.parse(text, fromWire) as T;

/** Progress as BullMQ job progress (a JSON object; the preview PNG as base64). */
export const encodeProgress = (p: JobProgress): Record<string, unknown> => JSON.parse(encodeBytesJson(p)) as Record<string, unknown>;
export const decodeProgress = (data: unknown): JobProgress | undefined =>
  data && typeof data === 'object' && 'step' in data ? decodeBytesJson<JobProgress>(JSON.stringify(data)) : undefined;

export const encodeResult = (r: JobResult): string => encodeBytesJson(r);
export const decodeResult = (text: string): JobResult => decodeBytesJson<JobResult>(text);

/** A job's failure as BullMQ's failedReason: `[ErrorName] message for the user`, or `[ErrorName:kind] …` for a user error. */
/** `[Name:kind:text] message`: the kind of a user error, and its catalogue message as base64url JSON (so it is said in its user's language). */
export const encodeFailure = (e: ErrorRecord): string =>
  `[${e.name}${e.kind ? `:${e.kind}` : ''}${e.kind && e.text ? `:${Buffer.from(JSON.stringify(e.text)).toString('base64url')}` : ''}] ${e.message}`;

/** A catalogue message read back from base64url JSON; undefined when it is not one (then the English message is shown). */
function catalogueMessage(b64: string): Message | undefined {
  try {
    const text = JSON.parse(Buffer.from(b64, 'base64url').toString()) as Message;
    return text && typeof text === 'object' && isKey(text.key) ? text : undefined;
  } catch {
    return undefined;
  }
}

export function decodeFailure(reason: string | undefined): ErrorRecord {
  const m = /^\[([A-Za-z]\w*)(?::([a-z-]+))?(?::([\w-]+))?\] ([\s\S]*)$/.exec(reason ?? '');
  if (m) {
    const kind = USER_ERROR_KINDS.find((k) => k === m[2]);
    const text = kind && m[3] ? catalogueMessage(m[3]) : undefined;
    return kind ? { name: m[1], message: m[4], kind, ...(text ? { text } : {}) } : { name: m[1], message: m[4] };
  }
  // BullMQ's own reasons: a worker vanished under the job too often, or something unexpected.
  if (/stalled/i.test(reason ?? ''))
    return { name: 'InterruptedError', message: 'a worker stopped twice while running this job, so it was not started a third time; please run it again' };
  return { name: 'Error', message: reason || 'the job failed' };
}

/** What a worker returns to BullMQ (the result itself is under result:<id>, not in the event stream). */
export interface WireReturn {
  stored: true;
  seconds: number;
}

/** A Redis URL without its password, for messages. */
export const redactUrl = (url: string): string => url.replace(/\/\/[^@/]*@/, '//***@');
