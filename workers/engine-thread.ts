/**
 * The engine thread: runs engine tasks (training loops, sampling) off the main event loop, because
 * onnxruntime-node's run() blocks the thread it is called on. A task is an exported async function
 * `(args, ctx) => result` of a module; the thread imports the module and runs one task at a time.
 *
 * Quick tasks (draw, blend, stylize) go ahead: one that arrives while a task runs waits in `urgent` and
 * runs when the running task reaches a pause point (`ctx.yieldToQuick()`, between two training steps),
 * or when it ends. The paused task stays suspended in memory meanwhile (its weights, optimizer state,
 * step counter and random stream untouched) and goes on exactly where it was. Only one task computes
 * at any time: the thread never interleaves two tasks' steps.
 */
import { parentPort } from 'node:worker_threads';
import { cancelled, errorRecord } from '../src/errors/user-error.ts';
import type { TaskContext } from './engine.ts';
import type { ToThread, FromThread } from './protocol.ts';

if (!parentPort) throw new Error('engine-thread.ts must run in a worker thread');
const port = parentPort;
const send = (m: FromThread) => port.postMessage(m);

/** Quick tasks that arrived while the thread was busy, and the others, each in arrival order. */
const urgent: ToThread[] = [];
const waiting: ToThread[] = [];
/** A task holds the thread (it runs, or it is paused and lends the thread to quick tasks). */
let busy = false;
/** Wakes a task waiting at its pause point for a quick task whose message has not arrived yet. */
let wakePaused: (() => void) | undefined;
/** The pause in progress (several sampling trajectories of one task may reach their pause points at once). */
let pausing: Promise<string[]> | undefined;

port.on('message', (m: ToThread) => {
  if (m.type !== 'run') return;
  if (m.quick !== undefined) {
    urgent.push(m);
    wakePaused?.();
  } else waiting.push(m);
  if (!busy) void runNext();
});

async function runNext(): Promise<void> {
  const m = urgent.shift() ?? waiting.shift();
  if (!m) return;
  busy = true;
  await execute(m);
  busy = false;
  void runNext();
}

/** Runs the quick tasks posted so far (and any that arrive meanwhile); resolves with their labels. */
async function pause(quickWaiting: Int32Array, onPause?: (pausedFor: string[]) => void): Promise<string[]> {
  const ran: string[] = [];
  while (Atomics.load(quickWaiting, 0) > 0) {
    const m = urgent.shift();
    if (!m) {
      // Posted, but its message is not here yet: let the event loop deliver it.
      await new Promise<void>((r) => (wakePaused = r));
      wakePaused = undefined;
      continue;
    }
    ran.push(m.quick!);
    onPause?.([...ran, ...urgent.map((u) => u.quick!)]);
    await execute(m);
  }
  return ran;
}

async function execute(m: ToThread): Promise<void> {
  const flag = new Int32Array(m.cancelFlag);
  const quickWaiting = new Int32Array(m.quickWaiting);
  const ctx: TaskContext = {
    progress: (data) => send({ type: 'progress', id: m.id, data }),
    get cancelled() {
      return Atomics.load(flag, 0) !== 0;
    },
    throwIfCancelled() {
      if (Atomics.load(flag, 0) !== 0) throw cancelled();
    },
    // A quick task does not pause for other quick tasks (they run after it, in order).
    get quickWaiting() {
      return m.quick === undefined && Atomics.load(quickWaiting, 0) > 0;
    },
    yieldToQuick(onPause) {
      if (m.quick !== undefined || Atomics.load(quickWaiting, 0) === 0) return Promise.resolve([]);
      pausing ??= pause(quickWaiting, onPause).finally(() => (pausing = undefined));
      return pausing;
    },
  };
  try {
    const mod = await import(m.module);
    const fn = mod[m.exportName];
    if (typeof fn !== 'function') throw new Error(`${m.module} has no exported function '${m.exportName}'`);
    const result = await fn(m.args, ctx);
    if (m.quick !== undefined) Atomics.sub(quickWaiting, 0, 1);
    send({ type: 'done', id: m.id, result });
  } catch (e) {
    if (m.quick !== undefined) Atomics.sub(quickWaiting, 0, 1);
    send({ type: 'error', id: m.id, ...errorRecord(e), stack: (e as Error)?.stack });
  }
}
