/**
 * Main-thread handle on the engine thread: `run(task, args, { onProgress, signal })` returns a promise
 * and never blocks the caller's event loop. Tasks run one at a time, in call order; a quick task
 * (`quick: 'draw'`) goes ahead of them and runs at the running task's next pause point (see
 * engine-thread.ts). Cancellation is cooperative (the task checks `ctx.cancelled` between steps);
 * `terminate()` stops the thread at once.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { cancelled, userErrorOf } from '../src/errors/user-error.ts';
import type { FromThread, ToThread } from './protocol.ts';

export interface TaskContext {
  /** Sends a progress event to the caller (structured-cloneable data). */
  progress(data: unknown): void;
  readonly cancelled: boolean;
  throwIfCancelled(): void;
  /** Quick tasks are waiting for this one to pause (checked between steps; cheap). */
  readonly quickWaiting: boolean;
  /**
   * A pause point, between two steps of a long task: runs the quick tasks waiting (and those that come
   * meanwhile), then resolves with their labels (none waiting: at once, with []). `onPause` hears the
   * labels of the quick tasks the pause is for, each time one starts. The caller's state stays as it is.
   */
  yieldToQuick(onPause?: (pausedFor: string[]) => void): Promise<string[]>;
}

/** A task: an exported function of a module, run inside the engine thread. */
export interface TaskRef {
  module: URL;
  exportName: string;
}

export interface RunOptions {
  onProgress?: (data: unknown) => void;
  signal?: AbortSignal;
  /** A quick task, by its label (e.g. 'draw'): it runs at the running task's next pause point, not after it. */
  quick?: string;
}

export class TaskError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly threadStack?: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (data: unknown) => void;
}

export class EngineWorker {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private chain: Promise<unknown> = Promise.resolve();
  private exited = false;
  /** Quick tasks posted and not finished (see ToThread.quickWaiting). */
  private readonly quickWaiting = new SharedArrayBuffer(4);

  constructor() {
    const entry = new URL('./engine-thread-boot.mjs', import.meta.url);
    this.worker = new Worker(fileURLToPath(entry));
    this.worker.on('message', (m: FromThread) => this.onMessage(m));
    this.worker.on('error', (e) => this.failAll(e instanceof Error ? e : new Error(String(e))));
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.failAll(new Error(`engine thread exited (code ${code})`));
    });
  }

  /** Runs a task in the engine thread after the tasks queued before it; a quick one at once or at the running task's next pause point. */
  run<R>(task: TaskRef, args: unknown, opts: RunOptions = {}): Promise<R> {
    if (opts.quick !== undefined) return this.start<R>(task, args, opts);
    const next = this.chain.then(() => this.start<R>(task, args, opts));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private start<R>(task: TaskRef, args: unknown, opts: RunOptions): Promise<R> {
    if (this.exited) return Promise.reject(new Error('engine thread has exited'));
    const id = this.nextId++;
    const cancelFlag = new SharedArrayBuffer(4);
    const flag = new Int32Array(cancelFlag);
    return new Promise<R>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(cancelled());
      const onAbort = () => Atomics.store(flag, 0, 1);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => opts.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (v) => (done(), resolve(v as R)),
        reject: (e) => (done(), reject(e)),
        onProgress: opts.onProgress,
      });
      const msg: ToThread = {
        type: 'run',
        id,
        module: task.module.href,
        exportName: task.exportName,
        args,
        cancelFlag,
        quickWaiting: this.quickWaiting,
        ...(opts.quick !== undefined ? { quick: opts.quick } : {}),
      };
      if (opts.quick !== undefined) Atomics.add(new Int32Array(this.quickWaiting), 0, 1);
      this.worker.postMessage(msg);
    });
  }

  private onMessage(m: FromThread): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress') p.onProgress?.(m.data);
    else {
      this.pending.delete(m.id);
      if (m.type === 'done') p.resolve(m.result);
      // A user error comes back as one, of the same kind; anything else as a TaskError with the thread's stack.
      else p.reject(userErrorOf(m) ?? new TaskError(m.name, m.message, m.stack));
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Stops the thread now; running and queued tasks fail. */
  async terminate(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
  }
}
