/** A bot backend for adapter tests: in-memory registry, in-process queue over a fake executor that returns real PNGs. */
import sharp from 'sharp';
import { DEFAULT_COMMAND_LIMITS } from '../../commands/types.ts';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry } from '../../src/store/style-registry.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';

export async function pngOf(color: string, w = 32, h = 32): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp({ create: { width: w, height: h, channels: 3, background: color } })
      .png()
      .toBuffer(),
  );
}

export async function botBackend() {
  const executor = new FakeExecutor({ auto: true, png: await pngOf('#3a3') });
  const queue = new InProcessQueue({ executors: [executor] });
  const registry = new StyleRegistry(await openKeyv('memory:'));
  return { executor, queue, registry, limits: DEFAULT_COMMAND_LIMITS, minEditIntervalMs: 0, log: () => undefined };
}
