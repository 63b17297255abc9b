/** A controllable executor for queue and adapter tests: each job waits until released (or runs at once). */
import { cancelled } from '../../src/errors/user-error.ts';
import type { Job, JobExecutor, JobProgress, JobResult } from '../../src/queue/job.ts';

export class FakeExecutor implements JobExecutor {
  readonly started: Job[] = [];
  private readonly gates = new Map<string, () => void>();
  constructor(private readonly opts: { auto?: boolean; steps?: number; png?: Uint8Array } = {}) {}

  async execute(job: Job, ctx: { signal: AbortSignal; onProgress: (p: JobProgress) => void }): Promise<JobResult> {
    this.started.push(job);
    const steps = this.opts.steps ?? 2;
    for (let i = 1; i <= steps; i++) ctx.onProgress({ step: i, steps, phase: job.kind });
    if (!this.opts.auto) {
      await new Promise<void>((resolve, reject) => {
        this.gates.set(job.id, resolve);
        ctx.signal.addEventListener('abort', () => reject(cancelled()), { once: true });
      });
    }
    const png = this.opts.png ?? new Uint8Array([137, 80, 78, 71]);
    return {
      images: [{ name: `${job.kind}.png`, png }],
      seconds: 0.01,
      ...(job.kind === 'train' ? { style: { bytes: new Uint8Array([1, 2, 3]), info: { name: job.args.name } } } : {}),
    };
  }

  /** Lets the running job `id` finish. */
  release(id: string): void {
    this.gates.get(id)?.();
    this.gates.delete(id);
  }

  get waiting(): string[] {
    return [...this.gates.keys()];
  }
}

export const tick = () => new Promise((r) => setTimeout(r, 5));
