/** The platform-neutral commands: validation, uploads, caps, status, buttons, authorisation. */
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import { runButton, runCommand, type Attachment, type CommandContext, type Outcome } from '../../commands/index.ts';
import { DEFAULT_COMMAND_LIMITS } from '../../commands/types.ts';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry, type Scope } from '../../src/store/style-registry.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';

const file = (name: string, bytes: Uint8Array, contentType = 'image/png'): Attachment => ({
  name,
  size: bytes.length,
  contentType,
  download: async () => bytes,
});
const png = async (w = 32, h = 32) =>
  new Uint8Array(
    await sharp({ create: { width: w, height: h, channels: 3, background: '#888' } })
      .png()
      .toBuffer(),
  );
const who = (user: string): Scope => ({ platform: 'test', workspace: 'w', user });

let executor: FakeExecutor;
let ctx: (user: string, isAdmin?: boolean) => CommandContext;
beforeEach(async () => {
  executor = new FakeExecutor();
  const queue = new InProcessQueue({ executors: [executor] });
  const registry = new StyleRegistry(await openKeyv('memory:'));
  ctx = (user, isAdmin = false) => ({ who: who(user), isAdmin, registry, queue, limits: DEFAULT_COMMAND_LIMITS });
});
const text = (o: Outcome) => (o.type === 'reply' ? o.reply.text : `job ${o.job.kind}`);

describe('commands', () => {
  it('checks uploads: not an image, an SVG, a tiny picture, an oversized file', async () => {
    const good = file('a.png', await png());
    const train = (content: Attachment) => runCommand(ctx('u'), 'train', { content, style: good, name: 'x' });
    await expect(train(file('a.png', new TextEncoder().encode('hello')))).rejects.toThrow(/not an image I can read/);
    await expect(train(file('a.svg', new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"/>')))).rejects.toThrow(
      /is an SVG/,
    );
    await expect(train(file('t.png', await png(4, 4)))).rejects.toThrow(/only 4x4/);
    await expect(train({ ...good, size: 50e6 })).rejects.toThrow(/limit is 8\.39 MB/);
    await expect(train(file('a.html', new Uint8Array(10), 'text/html'))).rejects.toThrow(/text\/html, not an image/);
    await expect(runCommand(ctx('u'), 'train', { content: good, style: good, name: 'bad name!' })).rejects.toThrow(/not a valid style name/);
    await expect(runCommand(ctx('u'), 'train', { content: good, style: good })).rejects.toThrow(/'name' is required/);
  });

  it('validates prompts and numbers', async () => {
    await expect(runCommand(ctx('u'), 'draw', { prompt: 'a\u0007b' })).rejects.toThrow(/control characters/);
    await expect(runCommand(ctx('u'), 'draw', { prompt: 'x'.repeat(201) })).rejects.toThrow(/keep it under 200/);
    await expect(runCommand(ctx('u'), 'draw', { prompt: 'cat', seed: '1.5' })).rejects.toThrow(/'seed' must be a whole number/);
    await expect(runCommand(ctx('u'), 'draw', { prompt: 'cat', steps: 0 })).rejects.toThrow(/'steps' must be a whole number from 1 to 100/);
    await expect(runCommand(ctx('u'), 'draw', { prompt: '   ' })).rejects.toThrow(/'prompt' is required/);
    await expect(runCommand(ctx('u'), 'frob', {})).rejects.toThrow(/unknown subcommand 'frob'/);
  });

  it('queues with caps, shows status with positions, lets only the owner cancel', async () => {
    const draws = [];
    for (let i = 0; i < 3; i++) draws.push(await runCommand(ctx('u'), 'draw', { prompt: `cat ${i}` }));
    await expect(runCommand(ctx('u'), 'draw', { prompt: 'one more' })).rejects.toThrow(/already have 3 draws/);
    const status = await runCommand(ctx('u'), 'status', {});
    expect(text(status)).toMatch(/running[\s\S]*#1 in the queue[\s\S]*#2 in the queue/);
    const job = draws[2].type === 'job' ? draws[2].job : undefined;
    await expect(runButton(ctx('other'), `ps:cancel:${job!.id}`)).rejects.toThrow(/not yours/);
    expect(text(await runButton(ctx('u'), `ps:cancel:${job!.id}`))).toMatch(/cancelling/);
    expect(job!.status).toBe('cancelled');
    await expect(runButton(ctx('u'), 'ps:reroll:not-a-job')).rejects.toThrow(/not one of mine/);
  });

  it('stores a trained style for its owner only, then draws with it by default', async () => {
    const out = await runCommand(ctx('u'), 'train', { content: file('a.png', await png()), style: file('b.png', await png()), name: 'Mine' });
    if (out.type !== 'job') throw new Error('expected a job');
    executor.release(out.job.id);
    const done = await ctx('u').queue.finished(out.job.id);
    expect((await out.finalize(done)).text).toMatch(/learned style \*\*mine\*\*/);
    await expect(runCommand(ctx('u'), 'train', { content: file('a.png', await png()), style: file('b.png', await png()), name: 'mine' })).rejects.toThrow(
      /already have a style named 'mine'/,
    );
    const draw = await runCommand(ctx('u'), 'draw', { prompt: 'cat' });
    expect(draw.type === 'job' && draw.job.kind === 'draw' && draw.job.args.styles[0].style.name).toBe('mine');
    await expect(runCommand(ctx('v'), 'draw', { prompt: 'cat', style: 'mine' })).rejects.toThrow(/no style named 'mine' that you can use/);
    await expect(runCommand(ctx('v'), 'export', { name: 'mine' })).rejects.toThrow(/no style named 'mine'/);
    expect(text(await runCommand(ctx('u'), 'share', { name: 'mine' }))).toMatch(/now shared/);
    expect(text(await runCommand(ctx('v'), 'list', {}))).toMatch(/Shared here by others:\n• \*\*mine\*\* \(by u\)/);
  });
});
