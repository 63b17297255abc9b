/** Following a job: progress at most once per interval, never overlapping, the final reply always last. */
import { describe, expect, it } from 'vitest';
import { followJob } from '../../commands/follow.ts';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import type { Job, JobExecutor, JobProgress } from '../../src/queue/job.ts';

class SteppingExecutor implements JobExecutor {
  async execute(_job: Job, ctx: { onProgress: (p: JobProgress) => void }) {
    for (let i = 1; i <= 30; i++) {
      ctx.onProgress({ step: i, steps: 30 });
      await new Promise((r) => setTimeout(r, 10));
    }
    return { images: [], seconds: 0.3 };
  }
}

describe('followJob', () => {
  it('sends at most one update per interval, one at a time, and the final one last', async () => {
    const queue = new InProcessQueue({ executors: [new SteppingExecutor()] });
    const job = await queue.submit(
      { platform: 't', workspace: 'w', user: 'u' },
      { kind: 'draw', args: { prompt: 'p', styles: [], seed: 0, steps: 30, cfg: 5 } },
    );
    const sent: { at: number; text: string; final: boolean }[] = [];
    let inFlight = 0;
    let overlapped = false;
    await followJob(queue, job, async () => ({ text: 'done!' }), {
      minIntervalMs: 100,
      update: async (reply, final) => {
        if (inFlight++) overlapped = true;
        sent.push({ at: Date.now(), text: reply.text, final });
        await new Promise((r) => setTimeout(r, 30));
        inFlight--;
      },
    });
    expect(overlapped).toBe(false);
    expect(sent.at(-1)).toMatchObject({ text: 'done!', final: true });
    const progress = sent.filter((s) => !s.final);
    expect(progress.length).toBeLessThanOrEqual(6);
    for (let i = 1; i < progress.length; i++) expect(progress[i].at - progress[i - 1].at).toBeGreaterThanOrEqual(95);
    expect(progress.some((s) => /\d+\/30/.test(s.text))).toBe(true);
    await queue.close();
  });
});
