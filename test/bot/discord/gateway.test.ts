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
import { botBackend } from '../../helpers/bot-fixture.ts';
import { FakeDiscord, type Recorded } from '../../helpers/fake-discord.ts';

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

function dispatch(type: number, data: unknown, user = 'u1', permissions = '0', extra: Record<string, unknown> = {}) {
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
  (client as unknown as { actions: { InteractionCreate: { handle(d: unknown): void } } }).actions.InteractionCreate.handle(raw);
  return { id, token };
}
const message = {
  id: '999',
  channel_id: 'c1',
  type: 0,
  content: 'result',
  author: { id: 'app1', username: 'pairstyle', discriminator: '0', avatar: null, bot: true, global_name: null },
  attachments: [],
  embeds: [],
  components: [],
  mentions: [],
  mention_roles: [],
  mention_everyone: false,
  pinned: false,
  tts: false,
  timestamp: new Date().toISOString(),
  edited_timestamp: null,
  flags: 0,
};
const press = (customId: string, user: string) => dispatch(3, { custom_id: customId, component_type: 2 }, user, '0', { message });
const cmd = (sub: string, options: unknown[] = [], user = 'u1', permissions = '0') =>
  dispatch(2, { id: 'cmd', name: 'pairstyle', type: 1, options: [{ type: 1, name: sub, options }] }, user, permissions);
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
    // Someone else pressing it is told no.
    const c = press(ids[0], 'u9');
    expect((await fake.waitFor(final(c.token))).json?.content).toMatch(/only the person who ran this command/);
  });

  it('answers ephemerally for list/help, and reports bad options clearly', async () => {
    const h = cmd('help');
    expect((await fake.waitFor(callback(h.id, h.token))).json).toMatchObject({ type: 5, data: { flags: 64 } });
    expect((await fake.waitFor(final(h.token))).json?.content).toMatch(/PairStyle/);
    const bad = cmd('draw', [
      { type: 3, name: 'prompt', value: 'x' },
      { type: 10, name: 'strength', value: 42 },
    ]);
    expect((await fake.waitFor(final(bad.token))).json?.content).toMatch(/'strength' must be a number from 0 to 10/);
  });

  it('lets an admin delete a shared style, not a member', async () => {
    const owner = { platform: 'discord', workspace: 'g1', user: 'carol' };
    await backend.registry.put(owner, 'wavy', new Uint8Array([1]), {});
    await backend.registry.setShared(owner, 'wavy', true);
    const member = cmd('delete', [{ type: 3, name: 'name', value: 'wavy' }], 'dave');
    expect((await fake.waitFor(final(member.token))).json?.content).toMatch(/belongs to someone else/);
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

  it('registers the slash command (guild) with every subcommand', async () => {
    const rest = new REST({ api: fake.api, version: '10', retries: 0 }).setToken('bot-token');
    await registerCommands(rest, 'app1', 'g1');
    const put = await fake.waitFor((r) => r.method === 'PUT' && r.path === '/applications/app1/guilds/g1/commands');
    const root = (put.json as unknown as { name: string; options: { name: string }[] }[])[0];
    expect(root.name).toBe('pairstyle');
    expect(root.options.map((o) => o.name)).toEqual(['train', 'draw', 'stylize', 'blend', 'list', 'delete', 'share', 'unshare', 'export', 'status', 'help']);
    expect(slashCommands()[0].options!.length).toBe(11);
  });
});
