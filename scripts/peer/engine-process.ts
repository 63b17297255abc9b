/**
 * One engine's worker process in bench:peer, PairStyle's (engine-worker.ts) or PyTorch's (worker.py):
 * one JSON request and answer per line; each answer's peakGiB (the process's VmHWM) is kept as the
 * process's peak resident memory.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export type EngineName = 'PairStyle' | 'PyTorch';

export class EngineProcess {
  private readonly answers: string[] = [];
  private waiting: ((line: string) => void) | null = null;
  private exited: string | null = null;
  private readonly exit: Promise<void>;
  /** The highest peak resident memory the process reported, GiB. */
  peakGiB = 0;

  private constructor(
    readonly name: EngineName,
    private readonly proc: ChildProcessWithoutNullStreams,
  ) {
    const tag = name === 'PyTorch' ? 'pytorch' : 'pairstyle';
    createInterface({ input: proc.stdout }).on('line', (line) => {
      // Answers are JSON objects; anything else a library prints is passed on as a log line.
      if (!line.startsWith('{')) {
        process.stderr.write(`[${tag}] ${line}\n`);
        return;
      }
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(line);
      } else this.answers.push(line);
    });
    proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[${tag}] ${d}`));
    this.exit = new Promise((resolve) =>
      proc.on('exit', (code, signal) => {
        this.exited = `the ${name} worker exited (code ${code}, signal ${signal})${signal === 'SIGKILL' ? ': killed, most likely out of memory' : ''}`;
        this.waiting?.(JSON.stringify({ ok: false, error: this.exited }));
        resolve();
      }),
    );
  }

  /** PyTorch's worker (scripts/peer/worker.py) under `python` with `env`. */
  static pytorch(python: string, env: NodeJS.ProcessEnv): EngineProcess {
    return new EngineProcess('PyTorch', spawn(python, [fileURLToPath(new URL('./worker.py', import.meta.url))], { env }));
  }

  /** PairStyle's worker (scripts/peer/engine-worker.ts), a fresh Node process (with gc() to drop the check's copies). */
  static pairstyle(): EngineProcess {
    const script = fileURLToPath(new URL('./engine-worker.ts', import.meta.url));
    return new EngineProcess('PairStyle', spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script], { env: process.env }));
  }

  async request(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.exited) throw new Error(this.exited);
    this.proc.stdin.write(`${JSON.stringify(req)}\n`);
    const line = this.answers.shift() ?? (await new Promise<string>((resolve) => (this.waiting = resolve)));
    const answer = JSON.parse(line) as Record<string, unknown>;
    if (typeof answer.peakGiB === 'number') this.peakGiB = Math.max(this.peakGiB, answer.peakGiB);
    if (!answer.ok) throw new Error(`${this.name} worker, ${req.op}: ${answer.error}`);
    return answer;
  }

  /** One timed step, ms (the worker times its own step; the pipe is not included). */
  async step(): Promise<number> {
    return Number((await this.request({ op: 'step' })).ms);
  }

  /** Asks the worker to quit and waits until its process is gone (its memory returned). */
  async close(): Promise<void> {
    if (!this.exited) await this.request({ op: 'quit' }).catch(() => undefined);
    this.proc.kill();
    await this.exit;
  }
}
