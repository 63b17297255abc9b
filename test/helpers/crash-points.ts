/**
 * Points in a training's finalisation where a test kills the bot process (kill -9): when the training of
 * the style `name` gets there, the process stops (prints `CRASHPOINT <point>` and waits forever), and
 * the test sends SIGKILL; other styles pass. Installed in the bot process by test/helpers/bot-process.ts
 * when its argument has `crashAt: { point, name }`:
 *   before-store   the job is done; its style is about to be stored (StyleRegistry.put not yet run)
 *   bytes-written  the style's bytes are written, its entry is not (the blob key's write returned)
 *   stored         the style is stored (put returned); its final reply is not yet sent
 *   replied        the final reply was sent to the user; the journal does not know yet (delivered)
 */
import { InProcessQueue } from '../../src/queue/in-process.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { StyleRegistry } from '../../src/store/style-registry.ts';

export const CRASH_POINTS = ['before-store', 'bytes-written', 'stored', 'replied'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

const halt = (point: CrashPoint): Promise<never> => {
  process.stdout.write(`CRASHPOINT ${point}\n`);
  return new Promise<never>(() => undefined);
};

export function installCrashPoint({ point, name }: { point: CrashPoint; name: string }): void {
  const put = StyleRegistry.prototype.put;
  const set = SqliteStore.prototype.set;
  const delivered = InProcessQueue.prototype.delivered;
  if (point === 'before-store' || point === 'stored') {
    StyleRegistry.prototype.put = async function (this: StyleRegistry, ...args: Parameters<typeof put>) {
      if (args[1] === name && point === 'before-store') return halt(point);
      const entry = await put.apply(this, args);
      return args[1] === name ? halt(point) : entry;
    };
  }
  if (point === 'bytes-written') {
    SqliteStore.prototype.set = async function (this: SqliteStore, key: string, value: unknown, ttl?: number) {
      const r = await set.call(this, key, value, ttl);
      return key.includes(':blob:') && key.includes(`:${name}:`) ? halt(point) : r;
    };
  }
  if (point === 'replied') {
    InProcessQueue.prototype.delivered = async function (this: InProcessQueue, id: string) {
      const job = this.get(id);
      if (job?.kind === 'train' && job.args.name === name) return halt(point);
      return delivered.call(this, id);
    };
  }
}
