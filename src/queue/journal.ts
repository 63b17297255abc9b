/**
 * The job journal: every job is written to durable storage (the same Keyv store as the style
 * registries, under its own namespace) before the user hears that it was queued, and stays there until
 * its final reply has been delivered. After a crash or a restart the queue reads the journal back:
 * queued jobs run, a job that was running is retried once (or reported after its second interruption),
 * and a job that finished but whose reply never went out is delivered without running again.
 *
 * Keys (namespace `pairstyle-jobs`):
 *   job:<id>  -> the job as JSON (bytes as base64), with its status, attempts and reply route
 *   open      -> ids of journaled jobs, oldest first
 * Writes go through one promise chain, so they land in the order they were made.
 */
import type Keyv from 'keyv';
import type { Job } from './job.ts';

const BYTES = '$bytes';

/** JSON with Uint8Array values (image and style bytes) as base64; progress is not kept. */
export function jobToJson(job: Job): string {
  // Progress (with its preview image) is for the live message only; a resumed job starts afresh.
  const { progress: _progress, ...kept } = job;
  return JSON.stringify(kept, (_k, v: unknown) =>
    v instanceof Uint8Array ? { [BYTES]: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') } : v,
  );
}

export function jobFromJson(text: string): Job {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && BYTES in v && Object.keys(v).length === 1)
      return new Uint8Array(Buffer.from(String((v as Record<string, unknown>)[BYTES]), 'base64'));
    return v;
  }) as Job;
}

export class JobJournal {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly keyv: Keyv) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async ids(): Promise<string[]> {
    return ((await this.keyv.get('open')) as string[] | undefined) ?? [];
  }

  /** Writes a new job and adds it to the open list. */
  record(job: Job): Promise<void> {
    const text = jobToJson(job);
    return this.serial(async () => {
      await this.keyv.set(`job:${job.id}`, text);
      const ids = await this.ids();
      if (!ids.includes(job.id)) await this.keyv.set('open', [...ids, job.id]);
    });
  }

  /** Rewrites a journaled job (its status, attempts, result). */
  update(job: Job): Promise<void> {
    const text = jobToJson(job);
    return this.serial(async () => {
      if ((await this.ids()).includes(job.id)) await this.keyv.set(`job:${job.id}`, text);
    });
  }

  /** Forgets a job: its final reply was delivered (or it was refused before anyone heard of it). */
  remove(id: string): Promise<void> {
    return this.serial(async () => {
      await this.keyv.set(
        'open',
        (await this.ids()).filter((x) => x !== id),
      );
      await this.keyv.delete(`job:${id}`);
    });
  }

  /** The journaled jobs, oldest first. A record that cannot be read is dropped and reported in `unreadable`. */
  load(): Promise<{ jobs: Job[]; unreadable: string[] }> {
    return this.serial(async () => {
      const jobs: Job[] = [];
      const unreadable: string[] = [];
      for (const id of await this.ids()) {
        const text = (await this.keyv.get(`job:${id}`)) as string | undefined;
        try {
          if (text === undefined) throw new Error('missing');
          jobs.push(jobFromJson(text));
        } catch {
          unreadable.push(id);
        }
      }
      if (unreadable.length)
        await this.keyv.set(
          'open',
          (await this.ids()).filter((x) => !unreadable.includes(x)),
        );
      return { jobs, unreadable };
    });
  }

  async close(): Promise<void> {
    await this.chain;
    await this.keyv.disconnect();
  }
}
