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
};

export type FromThread =
  | { type: 'progress'; id: number; data: unknown }
  | { type: 'done'; id: number; result: unknown }
  /** A failed task: its error as a record (a user error keeps its kind), and the thread's stack. */
  | ({ type: 'error'; id: number; stack?: string } & ErrorRecord);
