/**
 * The discord.js adapter with a real Client whose REST points at a loopback fake: interactions are fed
 * through discord.js's own InteractionCreate action (as the gateway would), replies go through
 * deferReply / editReply. Also: the registration script's request.
 */
import { REST } from '@discordjs/rest';
import { Client } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slashCommands } from '../../../src/bot/discord/definitions.ts';
import { attachPairStyle } from '../../../src/bot/discord/gateway.ts';
import { registerCommands } from '../../../src/bot/discord/register.ts';
import { UserRateLimiter } from '../../../commands/index.ts';
import { InProcessQueue } from '../../../src/queue/in-process.ts';
import type { JobQueue } from '../../../src/queue/job.ts';
import { botBackend } from '../../helpers/bot-fixture.ts';
import { FakeExecutor } from '../../queue/fake-executor.ts';
import { botMessage, FakeDiscord, type Recorded } from '../../../testing/fake-discord.ts';

const fake = new FakeDiscord();
let client: Client;
let backend: Awaited<ReturnType<typeof botBackend>>;
let n = 0;

beforeAll(async () => {
  await fake.start();
  backend = await botBackend();
  client = new Client({ intents: [], rest: { api: fake.api, version: '10', retries: 0, timeout: 5000 } });
  client.rest.setToken('bot-token');
  attachPairStyle(client, backend);
});
afterAll(async () => {
  await client.destroy();
  await backend.queue.close();
  await fake.close();
});

function dispatch(type: number, data: unknown, user = 'u1', permissions = '0', extra: Record<string, unknown> = {}, to: Client = client) {
  const id = String(100000 + ++n);
  const token = `gtok${n}`;
  const raw = {
    id,
    application_id: 'app1',
    token,
    version: 1,
    type,
    guild_id: 'g1',
    channel_id: 'c1',
    channel: { id: 'c1', type: 0, guild_id: 'g1', name: 'art' },
    member: {
      user: { id: user, username: user, discriminator: '0', avatar: null, global_name: null },
      permissions,
      roles: [],
      joined_at: new Date().toISOString(),
      deaf: false,
      mute: false,
      flags: 0,
    },
    locale: 'en-US',
    app_permissions: '0',
    entitlements: [],
    authorizing_integration_owners: {},
    data,
    ...extra,
  };
  (to as unknown as { actions: { InteractionCreate: { handle(d: unknown): void } } }).actions.InteractionCreate.handle(raw);
  return { id, token };
}
const message = botMessage('999', 'result');
const press = (customId: string, user: string, to: Client = client) => dispatch(3, { custom_id: customId, component_type: 2 }, user, '0', { message }, to);
const cmd = (sub: string, options: unknown[] = [], user = 'u1', permissions = '0', to: Client = client, extra: Record<string, unknown> = {}) =>
  dispatch(2, { id: 'cmd', name: 'pairstyle', type: 1, options: [{ type: 1, name: sub, options }] }, user, permissions, extra, to);
const callback = (id: string, token: string) => (r: Recorded) => r.method === 'POST' && r.path === `/interactions/${id}/${token}/callback`;
const final = (token: string) => (r: Recorded) =>
  r.method === 'PATCH' && r.path === `/webhooks/app1/${token}/messages/@original` && !/⏳|⚙️/.test(String(r.json?.content));

describe('Discord gateway adapter (discord.js)', () => {
  it('defers within 3 s, then replaces the progress message with the image (attachments replaced, buttons)', async () => {
    const t0 = performance.now();
    const { id, token } = cmd('draw', [
      { type: 3, name: 'prompt', value: 'red apple' },
      { type: 4, name: 'seed', value: 3 },
    ]);
    const defer = await fake.waitFor(callback(id, token));
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(defer.json).toMatchObject({ type: 5 });
    const edit = await fake.waitFor((r) => final(token)(r) && r.files.length > 0);
    expect(edit.json?.content).toMatch(/'red apple', no style, seed 3/);
    // Only the new file is listed: the progress message's attachments are replaced, not appended to.
    expect(edit.json?.attachments).toEqual([{ id: '0' }]);
    expect(edit.files.map((f) => f.name)).toEqual(['draw.png']);
    const ids = (edit.json!.components as { components: { custom_id: string }[] }[])[0].components.map((c) => c.custom_id);
    // The reroll button runs a new draw with another seed, as a new deferred reply.
    const b = press(ids[0], 'u1');
    await fake.waitFor(callback(b.id, b.token));
    const reroll = await fake.waitFor((r) => final(b.token)(r) && r.files.length > 0);
    expect(reroll.json?.content).toMatch(/'red apple', no style, seed \d+/);
    // Someone else pressing it is told no, and only they see it.
    const c = press(ids[0], 'u9');
    expect((await fake.waitFor(callback(c.id, c.token))).json).toMatchObject({
      type: 4,
      data: { content: expect.stringMatching(/only the person who ran this command/), flags: 64 },
    });
  });

  it('answers ephemerally for list/help, and reports bad options clearly', async () => {
    const h = cmd('help');
    expect((await fake.waitFor(callback(h.id, h.token))).json).toMatchObject({ type: 5, data: { flags: 64 } });
    expect((await fake.waitFor(final(h.token))).json?.content).toMatch(/PairStyle/);
    const bad = cmd('draw', [
      { type: 3, name: 'prompt', value: 'x' },
      { type: 10, name: 'strength', value: 42 },
    ]);
    expect((await fake.waitFor(callback(bad.id, bad.token))).json).toMatchObject({
      type: 4,
      data: { content: expect.stringMatching(/'strength' must be a number from 0 to 10/), flags: 64 },
    });
  });

  it('answers a German user in German: the progress message, the final reply and its buttons', async () => {
    const { token } = cmd(
      'draw',
      [
        { type: 3, name: 'prompt', value: 'red apple' },
        { type: 4, name: 'seed', value: 4 },
      ],
      'u1',
      '0',
      client,
      { locale: 'de' },
    );
    const progress = await fake.waitFor(
      (r) => r.method === 'PATCH' && r.path === `/webhooks/app1/${token}/messages/@original` && /⏳|⚙️/.test(String(r.json?.content)),
    );
    expect(String(progress.json?.content)).toMatch(/^(⏳ Zeichnung von 'red apple': Platz \d+ in der Warteschlange|⚙️ Zeichnung von 'red apple')/);
    const edit = await fake.waitFor((r) => final(token)(r) && r.files.length > 0);
    expect(edit.json?.content).toMatch(/^🎨 'red apple', ohne Stil, Seed 4, 30 Schritte \(\d+\.\d s\)$/);
    const labels = (edit.json!.components as { components: { label: string }[] }[])[0].components.map((c) => c.label);
    expect(labels).toEqual(['🎲 Neu würfeln', '🔀 Variieren']);
  });

  it("refuses in the user's language (interaction.locale): German for de, French for fr, English for a language it does not speak", async () => {
    const badDraw = [
      { type: 3, name: 'prompt', value: 'x' },
      { type: 10, name: 'strength', value: 42 },
    ];
    const cases: [string, RegExp][] = [
      ['de', /^⚠️ 'strength' muss eine Zahl von 0 bis 10 sein, nicht '42'$/],
      ['fr', /^⚠️ 'strength' doit être un nombre de 0 à 10, pas '42'$/],
      ['es-ES', /^⚠️ 'strength' must be a number from 0 to 10, got '42'$/],
    ];
    for (const [locale, text] of cases) {
      const bad = cmd('draw', badDraw, 'u1', '0', client, { locale });
      expect((await fake.waitFor(callback(bad.id, bad.token))).json, locale).toMatchObject({
        type: 4,
        data: { content: expect.stringMatching(text), flags: 64 },
      });
    }
  });

  it('lets an admin delete a shared style, not a member', async () => {
    const owner = { platform: 'discord', workspace: 'g1', user: 'carol' };
    await backend.registry.put(owner, 'wavy', new Uint8Array([1]), {});
    await backend.registry.setShared(owner, 'wavy', true);
    const member = cmd('delete', [{ type: 3, name: 'name', value: 'wavy' }], 'dave');
    expect((await fake.waitFor(callback(member.id, member.token))).json).toMatchObject({
      type: 4,
      data: { content: expect.stringMatching(/belongs to someone else/), flags: 64 },
    });
    const admin = cmd('delete', [{ type: 3, name: 'name', value: 'wavy' }], 'mod', String(1 << 5));
    expect((await fake.waitFor(final(admin.token))).json?.content).toMatch(/deleted style 'wavy' \(owned by carol\)/);
  });

  it('falls back to a channel message with the bot token when the interaction token is refused as expired', async () => {
    fake.failWebhooks = true;
    try {
      cmd('draw', [{ type: 3, name: 'prompt', value: 'late cat' }], 'u5');
      const msg = await fake.waitFor((r) => r.method === 'POST' && r.path === '/channels/c1/messages' && /late cat/.test(String(r.json?.content)));
      expect(msg.auth).toBe('Bot bot-token');
      expect(msg.json?.content).toMatch(/^<@u5> /);
      expect(msg.files.map((f) => f.name)).toEqual(['draw.png']);
    } finally {
      fake.failWebhooks = false;
    }
  });

  describe('refusals are seen only by their user (ephemeral, flags 64); results stay public', () => {
    /** A second client on its own backend (a queue that holds jobs until released, a rate limit). */
    async function otherClient(deps: Partial<Parameters<typeof attachPairStyle>[1]>) {
      const c = new Client({ intents: [], rest: { api: fake.api, version: '10', retries: 0, timeout: 5000 } });
      c.rest.setToken('bot-token');
      attachPairStyle(c, { ...backend, ...deps });
      return c;
    }
    const refusedPrivately = async (at: { id: string; token: string }, text: RegExp) => {
      expect((await fake.waitFor(callback(at.id, at.token))).json).toEqual({
        type: 4,
        data: expect.objectContaining({ content: expect.stringMatching(text), flags: 64, allowed_mentions: { parse: [] } }),
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(fake.requests.filter((r) => r.path.includes(at.token)).map((r) => `${r.method} ${r.path}`)).toEqual([
        `POST /interactions/${at.id}/${at.token}/callback`,
      ]);
    };

    it('a style the user cannot use, and the rate limit', async () => {
      await refusedPrivately(
        cmd(
          'draw',
          [
            { type: 3, name: 'prompt', value: 'cat' },
            { type: 3, name: 'style', value: 'nope-ink' },
          ],
          'u7',
        ),
        /no style named 'nope-ink'/,
      );
      const limited = await otherClient({ limits: { ...backend.limits, userRate: new UserRateLimiter({ perMinute: 1 }) } });
      try {
        cmd('help', [], 'rl', '0', limited);
        await refusedPrivately(cmd('draw', [{ type: 3, name: 'prompt', value: 'cat' }], 'rl', '0', limited), /slow down: you can send 1 commands a minute/);
      } finally {
        await limited.destroy();
      }
    });

    it("the queue caps and a cancel of another's job; the accepted draws stay public", async () => {
      const queue = new InProcessQueue({ executors: [new FakeExecutor()] });
      const held = await otherClient({ queue });
      try {
        const draws = [1, 2, 3].map(() => cmd('draw', [{ type: 3, name: 'prompt', value: 'cat' }], 'capped', '0', held));
        for (const d of draws) expect((await fake.waitFor(callback(d.id, d.token))).json).toMatchObject({ type: 5, data: { flags: 0 } });
        await refusedPrivately(cmd('draw', [{ type: 3, name: 'prompt', value: 'cat' }], 'capped', '0', held), /you already have 3 draws in the queue/);
        const job = queue.jobsOf({ platform: 'discord', workspace: 'g1', user: 'capped' })[0].job;
        await refusedPrivately(press(`ps:cancel:${job.id}`, 'stranger', held), /that job is not yours to cancel/);
      } finally {
        await held.destroy();
        await queue.close();
      }
    });

    it('a refusal known only after the public acknowledgment: an ephemeral follow-up, and the public placeholder deleted', async () => {
      // A queue that answers slowly (as Redis does, over the network) and the deadline at 0: the draw is
      // deferred publicly before the queue refuses it over the cap.
      const queue = new InProcessQueue({ executors: [new FakeExecutor()] });
      const slow: JobQueue = {
        submit: async (...a) => {
          await new Promise((r) => setTimeout(r, 50));
          return queue.submit(...a);
        },
        get: (id) => queue.get(id),
        jobsOf: (o) => queue.jobsOf(o),
        cancel: (id, by) => queue.cancel(id, by),
        finished: (id) => queue.finished(id),
        on: (l) => queue.on(l),
        delivered: (id) => queue.delivered(id),
        close: () => queue.close(),
      };
      const late = await otherClient({ queue: slow, ackDeadlineMs: 0 });
      try {
        const owner = { platform: 'discord', workspace: 'g1', user: 'late' };
        for (let i = 0; i < 3; i++) await queue.submit(owner, { kind: 'draw', args: { prompt: 'x', styles: [], seed: i, steps: 1, cfg: 5 } });
        const { id, token } = cmd('draw', [{ type: 3, name: 'prompt', value: 'cat' }], 'late', '0', late);
        expect((await fake.waitFor(callback(id, token))).json).toMatchObject({ type: 5, data: { flags: 0 } });
        const followUp = await fake.waitFor((r) => r.method === 'POST' && r.path === `/webhooks/app1/${token}`);
        expect(followUp.json).toMatchObject({ content: expect.stringMatching(/^⚠️ you already have 3 draws in the queue/), flags: 64 });
        await fake.waitFor((r) => r.method === 'DELETE' && r.path === `/webhooks/app1/${token}/messages/@original`);
        expect(fake.requests.some((r) => r.method === 'PATCH' && r.path.includes(token))).toBe(false);
      } finally {
        await late.destroy();
        await queue.close();
      }
    });
  });

  it('registers the slash command (guild) with every subcommand', async () => {
    const rest = new REST({ api: fake.api, version: '10', retries: 0 }).setToken('bot-token');
    await registerCommands(rest, 'app1', 'g1');
    const put = await fake.waitFor((r) => r.method === 'PUT' && r.path === '/applications/app1/guilds/g1/commands');
    const root = (put.json as unknown as { name: string; options: { name: string }[] }[])[0];
    expect(root.name).toBe('pairstyle');
    expect(root.options.map((o) => o.name)).toEqual([
      'train',
      'draw',
      'stylize',
      'blend',
      'list',
      'delete',
      'share',
      'unshare',
      'export',
      'retrain',
      'status',
      'settings',
      'help',
    ]);
    expect(slashCommands()[0].options!.length).toBe(13);
  });

  it('registers the descriptions of the command, its subcommands and their options in German and French too', async () => {
    const rest = new REST({ api: fake.api, version: '10', retries: 0 }).setToken('bot-token');
    await registerCommands(rest, 'app1', 'g2');
    const put = await fake.waitFor((r) => r.method === 'PUT' && r.path === '/applications/app1/guilds/g2/commands');
    type Described = {
      name: string;
      description: string;
      description_localizations?: Record<string, string>;
      name_localizations?: unknown;
      options?: Described[];
    };
    const root = (put.json as unknown as Described[])[0];
    expect(root.description_localizations).toEqual({
      de: 'Lerne einen Stil aus einem Bildpaar und zeichne darin',
      fr: 'Apprends un style à partir d’une paire d’images et dessine avec',
    });
    const draw = root.options!.find((o) => o.name === 'draw')!;
    expect(draw.options!.find((o) => o.name === 'prompt')!.description_localizations).toEqual({
      de: 'was gezeichnet werden soll, z. B. "dog face"',
      fr: 'ce qu’il faut dessiner, par ex. "dog face"',
    });
    const all = [root, ...root.options!, ...root.options!.flatMap((c) => c.options ?? [])];
    const lacking = all.filter((d) => Object.keys(d.description_localizations ?? {}).join() !== 'de,fr').map((d) => d.name);
    expect(lacking, 'descriptions without German and French').toEqual([]);
    const tooLong = all.flatMap((d) => Object.values(d.description_localizations ?? {}).filter((t) => t.length > 100 || !t.trim()));
    expect(tooLong, 'Discord takes 1-100 characters').toEqual([]);
    // Names stay as they are: Slack, the command line, the help and every message quote them.
    expect(all.filter((d) => d.name_localizations !== undefined)).toEqual([]);
  });
});

describe('weighted styles and the vary button (discord.js)', () => {
  const owner = { platform: 'discord', workspace: 'g1', user: 'weigher' };
  const style = (value: string) => ({ type: 3, name: 'style', value });
  const components = (r: Recorded) => (r.json!.components as { components: { custom_id: string; label: string }[] }[])[0].components;
  const privately = async (at: { id: string; token: string }, text: RegExp) =>
    expect((await fake.waitFor(callback(at.id, at.token))).json).toMatchObject({ type: 4, data: { content: expect.stringMatching(text), flags: 64 } });

  beforeAll(async () => {
    for (const name of ['ink-a', 'ink-b', 'ink-c', 'ink-d', 'ink-e']) await backend.registry.put(owner, name, new Uint8Array([1]), {});
  });

  it('draws in two weighted styles (strength shared 2:1), with a Vary button that keeps the seed and only its user may press', async () => {
    const { token } = cmd('draw', [{ type: 3, name: 'prompt', value: 'cat' }, style('ink-a::2 ink-b::1'), { type: 4, name: 'seed', value: 4 }], 'weigher');
    const edit = await fake.waitFor((r) => final(token)(r) && r.files.length > 0);
    expect(edit.json?.content).toMatch(/'cat', style \*\*ink-a\*\* at strength 2 \+ style \*\*ink-b\*\* at strength 1, seed 4,/);
    const job = backend.executor.started.filter((j) => j.kind === 'draw' && j.owner.user === 'weigher').at(-1)!;
    expect(job.kind === 'draw' && job.args.styles.map((s) => [s.style.name, s.weight])).toEqual([
      ['ink-a', 2],
      ['ink-b', 1],
    ]);
    const buttons = components(edit);
    expect(buttons.map((b) => b.label)).toEqual(['🎲 Reroll', '🔀 Vary', 'Strength −', 'Strength +']);
    const vary = buttons[1].custom_id;
    await privately(press(vary, 'u9'), /only the person who ran this command can use its buttons/);
    const v = press(vary, 'weigher');
    const varied = await fake.waitFor((r) => final(v.token)(r) && r.files.length > 0);
    expect(varied.json?.content).toMatch(/style \*\*ink-a\*\* at strength 2 \+ style \*\*ink-b\*\* at strength 1, seed 4, variation \d+ \(0\.3\)/);
    expect(components(varied).map((b) => b.label)).toContain('🔀 Vary');
    // Strength + raises the total by 1 and keeps the 2:1 proportions.
    const s = press(buttons[3].custom_id, 'weigher');
    const stronger = await fake.waitFor((r) => final(s.token)(r) && r.files.length > 0);
    expect(stronger.json?.content).toMatch(/style \*\*ink-a\*\* at strength 2\.67 \+ style \*\*ink-b\*\* at strength 1\.33, seed 4,/);
  });

  it('refuses bad lists privately: unknown names (with close ones), bad weights, too many, duplicates, empty entries', async () => {
    const refusals: [string, RegExp][] = [
      ['ink-a::2 ink-bb', /no style named 'ink-bb' that you can use.*Did you mean 'ink-b'/],
      ['ink-a::-1 ink-b', /the weight of 'ink-a' is negative/],
      ['ink-a::0 ink-b', /the weight of 'ink-a' is 0/],
      ['ink-a::much ink-b', /the weight of 'ink-a' must be a number/],
      ['ink-a ink-b ink-c ink-d ink-e', /5 styles is too many: at most 4/],
      ['ink-a::2 ink-b ink-a', /'ink-a' is in the list twice/],
      ['ink-a,,ink-b', /entry 2 of the style list is empty/],
    ];
    for (const [list, message] of refusals) await privately(cmd('draw', [{ type: 3, name: 'prompt', value: 'cat' }, style(list)], 'weigher'), message);
    await privately(
      cmd(
        'blend',
        [
          { type: 3, name: 'style_a', value: 'ink-a::2' },
          { type: 3, name: 'style_b', value: 'ink-b' },
          { type: 10, name: 'ratio', value: 0.5 },
        ],
        'weigher',
      ),
      /give weights .* or a ratio, not both/,
    );
  });

  it('blends at the ratio its weights give, and autocompletes the last name of a list', async () => {
    const { token } = cmd(
      'blend',
      [
        { type: 3, name: 'style_a', value: 'ink-a::3' },
        { type: 3, name: 'style_b', value: 'ink-b::1' },
        { type: 3, name: 'prompt', value: 'cat' },
      ],
      'weigher',
    );
    const edit = await fake.waitFor((r) => final(token)(r) && r.files.length > 0);
    expect(edit.json?.content).toMatch(/'cat' blended 75% ink-a \/ 25% ink-b/);
    expect(components(edit).map((b) => b.label)).toEqual(['🎲 Reroll', '🔀 Vary']);

    const auto = dispatch(
      4,
      {
        id: 'cmd',
        name: 'pairstyle',
        type: 1,
        options: [{ type: 1, name: 'draw', options: [{ type: 3, name: 'style', value: 'ink-a::2 ink-', focused: true }] }],
      },
      'weigher',
    );
    const answer = await fake.waitFor(callback(auto.id, auto.token));
    expect(answer.json?.type).toBe(8);
    expect((answer.json!.data as { choices: { value: string }[] }).choices.map((c) => c.value)).toEqual([
      'ink-a::2 ink-b',
      'ink-a::2 ink-c',
      'ink-a::2 ink-d',
      'ink-a::2 ink-e',
    ]);
  });
});
