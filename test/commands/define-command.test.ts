/**
 * defineCommand: option value types inferred from the spec (checked by the type checker: `npm run
 * typecheck` runs over this file), and what a Command declares for the adapters (admin, recent uploads,
 * the options free text fills), read by them instead of command names.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { COMMANDS, findCommand, runCommand, type Attachment, type CommandContext } from '../../commands/index.ts';
import { parseCommandText } from '../../commands/text.ts';
import { defineCommand, DEFAULT_COMMAND_LIMITS, reply, textOptionsOf } from '../../commands/types.ts';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry } from '../../src/store/style-registry.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';

describe('defineCommand', () => {
  it('types each option from its spec: required ones present, the others possibly absent', async () => {
    const seen: unknown[] = [];
    const probe = defineCommand({
      name: 'probe',
      description: 'types',
      ephemeral: true,
      options: [
        { name: 'prompt', type: 'string', required: true, description: 'p' },
        { name: 'seed', type: 'integer', description: 's' },
        { name: 'strength', type: 'number', required: true, description: 'w' },
        { name: 'fast', type: 'boolean', description: 'f' },
        { name: 'image', type: 'attachment', description: 'i' },
      ],
      async run(_ctx, o) {
        expectTypeOf(o.prompt).toEqualTypeOf<string>();
        expectTypeOf(o.strength).toEqualTypeOf<number>();
        expectTypeOf(o.seed).toEqualTypeOf<number | undefined>();
        expectTypeOf(o.fast).toEqualTypeOf<boolean | undefined>();
        expectTypeOf(o.image).toEqualTypeOf<Attachment | undefined>();
        // @ts-expect-error: no such option
        seen.push(o.colour);
        seen.push(o.prompt, o.seed, o.strength, o.fast);
        return reply(o.prompt.toUpperCase());
      },
    });
    expect([probe.needsAdmin, probe.recentUploads, textOptionsOf(probe)]).toEqual([false, undefined, ['prompt']]);
    const ctx: CommandContext = {
      who: { platform: 'test', workspace: 'w', user: 'u' },
      isAdmin: false,
      registry: new StyleRegistry(await openKeyv('memory:')),
      queue: new InProcessQueue({ executors: [new FakeExecutor()] }),
      limits: DEFAULT_COMMAND_LIMITS,
    };
    // runCommand checks raw values (Slack's strings) against the spec before the handler sees them.
    const out = await probe.run(ctx, { prompt: 'cat', strength: 2, seed: 7 });
    expect(out).toEqual({ type: 'reply', reply: { text: 'CAT' } });
    expect(seen.slice(1)).toEqual(['cat', 7, 2, undefined]);
    await ctx.queue.close();
  });

  it('declares on each command what the adapters used to decide by its name', async () => {
    const declared = Object.fromEntries(
      COMMANDS.map((c) => [c.name, { admin: c.needsAdmin ?? false, uploads: c.recentUploads?.options, text: textOptionsOf(c) }]),
    );
    expect(declared.delete).toEqual({ admin: true, uploads: undefined, text: ['name'] });
    expect(declared.unshare).toEqual({ admin: true, uploads: undefined, text: ['name'] });
    expect(declared.share.admin).toBe(true);
    expect(declared.settings).toEqual({ admin: true, uploads: undefined, text: [] });
    expect(declared.train).toEqual({ admin: false, uploads: ['content', 'style'], text: ['name'] });
    expect(declared.draw).toEqual({ admin: false, uploads: undefined, text: ['prompt'] });
    expect(declared.blend.text).toEqual(['style_a', 'style_b']);
    // The text parser fills the declared options.
    expect(parseCommandText('blend ink wavy ratio:0.5').options).toEqual({ style_a: 'ink', style_b: 'wavy', ratio: '0.5' });
    expect(findCommand('export').options.map((o) => o.name)).toEqual(['name']);
    await expect(
      runCommand(
        {
          who: { platform: 'test', workspace: 'w', user: 'u' },
          isAdmin: false,
          registry: new StyleRegistry(await openKeyv('memory:')),
          queue: { submit: () => Promise.reject(new Error('not reached')) } as never,
          limits: DEFAULT_COMMAND_LIMITS,
        },
        'draw',
        { prompt: 'x', seed: 'seven' },
      ),
    ).rejects.toThrow(/'seed' must be a whole number/);
  });
});
