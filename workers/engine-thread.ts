/**
 * The engine thread: runs engine tasks (training loops, sampling) off the main event loop, because
 * onnxruntime-node's run() blocks the thread it is called on. A task is an exported async function
 * `(args, ctx) => result` of a module; the thread imports the module and runs one task at a time.
 */
import { parentPort } from 'node:worker_threads';
import { cancelled, errorRecord } from '../src/errors/user-error.ts';
import type { TaskContext } from './engine.ts';
import type { ToThread, FromThread } from './protocol.ts';

if (!parentPort) throw new Error('engine-thread.ts must run in a worker thread');
const port = parentPort;
const send = (m: FromThread) => port.postMessage(m);

port.on('message', async (m: ToThread) => {
  if (m.type !== 'run') return;
  const flag = new Int32Array(m.cancelFlag);
  const ctx: TaskContext = {
    progress: (data) => send({ type: 'progress', id: m.id, data }),
    get cancelled() {
      return Atomics.load(flag, 0) !== 0;
    },
    throwIfCancelled() {
      if (Atomics.load(flag, 0) !== 0) throw cancelled();
    },
  };
  try {
    const mod = await import(m.module);
    const fn = mod[m.exportName];
    if (typeof fn !== 'function') throw new Error(`${m.module} has no exported function '${m.exportName}'`);
    const result = await fn(m.args, ctx);
    send({ type: 'done', id: m.id, result });
  } catch (e) {
    send({ type: 'error', id: m.id, ...errorRecord(e), stack: (e as Error)?.stack });
  }
});
