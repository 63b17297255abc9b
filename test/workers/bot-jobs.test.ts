/** Train -> draw -> blend through the in-process queue and the engine thread, on a tiny random model folder. */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeStyle } from '../../src/pair/style-file.ts';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import type { DrawArgs, JobEvent, JobOwner } from '../../src/queue/job.ts';
import { WorkerExecutor } from '../../workers/executor.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';

const owner: JobOwner = { platform: 'test', workspace: 'w', user: 'u' };
let queue: InProcessQueue;
let content: Uint8Array;
let style: Uint8Array;

beforeAll(async () => {
  queue = new InProcessQueue({ executors: [new WorkerExecutor({ model: { dir: await writeTinyModelFolder() }, sampleSteps: 2 })] });
  content = new Uint8Array(
    await sharp({ create: { width: 40, height: 30, channels: 3, background: '#d22' } })
      .png()
      .toBuffer(),
  );
  style = new Uint8Array(
    await sharp({ create: { width: 24, height: 24, channels: 3, background: '#22d' } })
      .jpeg()
      .toBuffer(),
  );
});
afterAll(() => queue.close());

const size = async (png: Uint8Array) => {
  const m = await sharp(png).metadata();
  return [m.format, m.width, m.height];
};

describe('bot jobs in the engine thread', () => {
  it('trains a style (progress, pair + sample grid, style bytes), draws with it, blends two styles', async () => {
    const events: JobEvent[] = [];
    const t = await queue.submit(
      owner,
      { kind: 'train', args: { content, style, name: 'reds', steps: 6, samplePrompts: ['cat face'] } },
      { listener: (e) => events.push(e) },
    );
    const trained = await queue.finished(t.id);
    expect(trained.error).toBeUndefined();
    expect(trained.status).toBe('done');
    expect(events.filter((e) => e.type === 'progress').length).toBeGreaterThanOrEqual(6);
    const bytes = trained.result!.style!.bytes;
    expect(decodeStyle(bytes).info.name).toBe('reds');
    const [fmt, w] = await size(trained.result!.images[0].png);
    expect(fmt).toBe('png');
    expect(w).toBeGreaterThanOrEqual(2 * 256);

    const d = await queue.submit(owner, {
      kind: 'draw',
      args: { prompt: 'cat face', styles: [{ style: { name: 'reds', bytes }, weight: 3 }], seed: 1, steps: 2, cfg: 5 },
    });
    const drawn = await queue.finished(d.id);
    expect(drawn.status).toBe('done');
    expect((await size(drawn.result!.images[0].png))[1]).toBeGreaterThanOrEqual(512);

    const ref = { name: 'reds', bytes };
    const strip = await queue.finished(
      (await queue.submit(owner, { kind: 'blend', args: { prompt: 'rocket', a: ref, b: ref, strength: 3, strip: 3, seed: 0, steps: 2, cfg: 5 } })).id,
    );
    expect(strip.status).toBe('done');
    expect((await size(strip.result!.images[0].png))[1]).toBeGreaterThanOrEqual(3 * 256);
    const one = await queue.finished(
      (await queue.submit(owner, { kind: 'blend', args: { prompt: 'rocket', a: ref, b: ref, ratio: 0.5, strength: 3, strip: 5, seed: 0, steps: 2, cfg: 5 } }))
        .id,
    );
    expect(await size(one.result!.images[0].png)).toEqual(['png', 256, 256]);
  });

  it('stylizes a picture in the engine thread: inversion then denoising progress, picture | plain | styled, the settings in the result', async () => {
    const t = await queue.submit(owner, { kind: 'train', args: { content, style, name: 'blues', steps: 6, samplePrompts: [] } });
    const bytes = (await queue.finished(t.id)).result!.style!.bytes;
    const events: JobEvent[] = [];
    const s = await queue.submit(
      owner,
      { kind: 'stylize', args: { image: content, imageName: 'red.png', styles: [{ style: { name: 'blues', bytes }, weight: 3 }], keep: 0.5, steps: 4 } },
      { listener: (e) => events.push(e) },
    );
    const done = await queue.finished(s.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('done');
    const phases = events.flatMap((e) => (e.type === 'progress' ? [e.progress.phase] : []));
    expect(phases).toContain('inverting the picture');
    expect(phases.at(-1)).toBe('stylizing');
    expect(done.result!.text).toBe('keep 0.5, 4 steps');
    expect(await size(done.result!.images[0].png)).toEqual(['png', expect.any(Number), expect.any(Number)]);
    expect((await size(done.result!.images[0].png))[1]).toBeGreaterThanOrEqual(3 * 256);
    // A weighted list of two styles (as draw takes) goes through the task (test/pair/stylize.test.ts checks both act).
    const t2 = await queue.submit(owner, { kind: 'train', args: { content: style, style: content, name: 'reds2', steps: 6, samplePrompts: [] } });
    const bytes2 = (await queue.finished(t2.id)).result!.style!.bytes;
    const styles = [
      { style: { name: 'blues', bytes }, weight: 3 },
      { style: { name: 'reds2', bytes: bytes2 }, weight: 2 },
    ];
    const two = await queue.finished(
      (await queue.submit(owner, { kind: 'stylize', args: { image: content, imageName: 'red.png', styles, keep: 0.5, steps: 4 } })).id,
    );
    expect([two.status, two.error]).toEqual(['done', undefined]);
    expect(await size(two.result!.images[0].png)).toEqual(await size(done.result!.images[0].png));
    const bad = await queue.finished(
      (await queue.submit(owner, { kind: 'stylize', args: { image: new Uint8Array([1, 2, 3]), imageName: 'x.png', styles: [] } })).id,
    );
    expect(bad.status).toBe('failed');
    expect(bad.error?.message).toMatch(/the picture: not a readable image/);
  });

  it('draws in two weighted styles; a variation is another picture (the same for the same variation seed), and stylize varies too', async () => {
    const train = async (name: string, colour: string) => {
      const after = new Uint8Array(
        await sharp({ create: { width: 24, height: 24, channels: 3, background: colour } })
          .png()
          .toBuffer(),
      );
      const t = await queue.submit(owner, { kind: 'train', args: { content, style: after, name, steps: 6, samplePrompts: [] } });
      return { name, bytes: (await queue.finished(t.id)).result!.style!.bytes };
    };
    const [greens, yellows] = [await train('greens', '#2d2'), await train('yellows', '#dd2')];
    const styles = [
      { style: greens, weight: 2 },
      { style: yellows, weight: 1 },
    ];
    const pixels = async (args: Omit<DrawArgs, 'prompt' | 'styles' | 'steps' | 'cfg'>) => {
      const j = await queue.finished((await queue.submit(owner, { kind: 'draw', args: { prompt: 'cat face', styles, steps: 4, cfg: 5, ...args } })).id);
      expect(j.error).toBeUndefined();
      return new Uint8Array(await sharp(j.result!.images[0].png).raw().toBuffer());
    };
    const distance = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, k) => s + Math.abs(v - b[k]), 0) / a.length;
    const original = await pixels({ seed: 1 });
    const varied = await pixels({ seed: 1, variation: { seed: 9, strength: 0.3 } });
    expect(distance(original, varied)).toBeGreaterThan(0);
    expect(distance(await pixels({ seed: 1, variation: { seed: 9, strength: 0.3 } }), varied)).toBe(0);
    expect(distance(original, await pixels({ seed: 9 }))).toBeGreaterThan(0);

    const stylized = async (variation?: { seed: number; strength: number }) => {
      const j = await queue.finished(
        (
          await queue.submit(owner, {
            kind: 'stylize',
            args: { image: content, imageName: 'red.png', styles, keep: 0.5, steps: 4, ...(variation ? { variation } : {}) },
          })
        ).id,
      );
      expect(j.error).toBeUndefined();
      return new Uint8Array(await sharp(j.result!.images[0].png).raw().toBuffer());
    };
    const plain = await stylized();
    expect(distance(plain, await stylized())).toBe(0);
    expect(distance(plain, await stylized({ seed: 9, strength: 1 }))).toBeGreaterThan(0);
  });

  it('reports an unreadable upload as a clear failure and keeps serving', async () => {
    const t = await queue.submit(owner, { kind: 'train', args: { content: new Uint8Array([1, 2, 3]), style, name: 'x', steps: 2, samplePrompts: [] } });
    const j = await queue.finished(t.id);
    expect(j.status).toBe('failed');
    expect(j.error?.message).toMatch(/the content image: not a readable image/);
  });
});
