/** Messages between the main thread and the engine thread. */
import type { ErrorRecord } from '../src/errors/user-error.ts';

export type ToThread = {
  type: 'run';
  id: number;
  /** file: URL of the task module. */
  module: string;
  exportName: string;
  args: unknown;
  /** Int32 flag, set to 1 to ask the task to stop at its next check. */
  cancelFlag: SharedArrayBuffer;
  /**
   * A quick task (its label, e.g. 'draw'): it runs at the running task's next pause point (between two
   * training steps) instead of after it. Absent: a task that runs after the ones before it.
   */
  quick?: string;
  /**
   * Int32 count of quick tasks posted and not yet finished, the same buffer in every message of one
   * engine: the main thread adds 1 before posting a quick task, the thread takes 1 away when it ends.
   */
  quickWaiting: SharedArrayBuffer;
};

export type FromThread =
  | { type: 'progress'; id: number; data: unknown }
  | { type: 'done'; id: number; result: unknown }
  /** A failed task: its error as a record (a user error keeps its kind), and the thread's stack. */
  | ({ type: 'error'; id: number; stack?: string } & ErrorRecord);
