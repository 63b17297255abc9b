/**
 * Follows a queued job for an adapter: the current state at once, then progress at most every
 * `minIntervalMs` (platform rate limits; the 2 s of the design), then the final reply. Updates never
 * overlap: a new one waits for the previous to be delivered, and progress that arrives meanwhile
 * collapses into the latest state. Once the final reply has been sent, the queue is told
 * (`delivered`), so a journaled job is forgotten only after its user got the answer.
 */
import type { Job, JobQueue } from '../src/queue/job.ts';
import { messageIn } from '../src/errors/user-error.ts';
import { t } from '../src/i18n/message.ts';
import { jobLocale, progressReply, unfinishedReply } from './render.ts';
import type { Reply } from './types.ts';

export interface FollowOptions {
  minIntervalMs?: number;
  /** Called with each reply; `final` marks the last one. Errors are passed to onError, never thrown. */
  update(reply: Reply, final: boolean): Promise<void>;
  onError?(e: unknown): void;
}

export function followJob(queue: JobQueue, job: Job, finalize: (job: Job) => Promise<Reply>, opts: FollowOptions): Promise<void> {
  const interval = opts.minIntervalMs ?? 2000;
  let lastSent = 0;
  let sending: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  // The interval is kept between the moments updates actually start (a queued update may wait for
  // the one before it), which is what a platform's rate limit counts. The final reply never waits.
  const send = (reply: Reply, final: boolean) => {
    sending = sending
      .then(async () => {
        const wait = lastSent + interval - Date.now();
        if (!final && wait > 0) await new Promise((r) => setTimeout(r, wait));
        lastSent = Date.now();
        await opts.update(reply, final);
      })
      .catch((e) => opts.onError?.(e));
    return sending;
  };
  const current = () => {
    const mine = queue.jobsOf(job.owner).find((j) => j.job.id === job.id);
    return progressReply(job, mine?.position ?? 0, mine?.etaSeconds, mine?.etaPhaseOnly);
  };
  const schedule = () => {
    if (done || timer) return;
    const wait = Math.max(0, lastSent + interval - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      if (!done) void send(current(), false);
    }, wait);
  };
  return new Promise<void>((resolve) => {
    const off = queue.on((e) => {
      if (e.job.id !== job.id) return;
      if (e.type === 'progress' || e.type === 'started') schedule();
    });
    void send(current(), false);
    void queue.finished(job.id).then(async (j) => {
      done = true;
      off();
      if (timer) clearTimeout(timer);
      let final: Reply;
      try {
        final = j.status === 'done' ? await finalize(j) : unfinishedReply(j);
      } catch (e) {
        opts.onError?.(e);
        final = { text: t(jobLocale(j), 'error.line', { message: messageIn(e, jobLocale(j)) }) };
      }
      await send(final, true);
      // Delivered (or tried once and logged): the journal forgets the job.
      await queue.delivered(job.id);
      resolve();
    });
  });
}
