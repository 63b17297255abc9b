/** Messages between the main thread and the engine thread. */
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
  | { type: 'error'; id: number; name: string; message: string; stack?: string };
