/**
 * /pairstyle settings on Discord, through the real clients against the loopback fake: discord.js (the
 * gateway adapter, interactions fed through its own InteractionCreate action) and @discordjs/rest behind
 * the HTTP interactions endpoint (signed requests). Admins are told by the interaction member's
 * permissions (Manage Server), the channel and the roles by the interaction; every refusal is private
 * (flags 64) and leaves nothing else on the interaction.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Server } from 'node:http';
import { REST } from '@discordjs/rest';
import { Client } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slashCommands } from '../../../src/bot/discord/definitions.ts';
import { attachPairStyle } from '../../../src/bot/discord/gateway.ts';
import { startDiscordHttp } from '../../../src/bot/discord/http.ts';
import { registerCommands } from '../../../src/bot/discord/register.ts';
import { botBackend, pngOf } from '../../helpers/bot-fixture.ts';
import { discordPublicKeyHex, discordSignatureHeaders, finalReplyEdit, interactionBody, pairstyleCommandData } from '../../../testing/discord-interactions.ts';
import { FakeDiscord, type Recorded } from '../../../testing/fake-discord.ts';

const APP = 'app1';
const MANAGE_GUILD = String(1 << 5);
const fake = new FakeDiscord();
const keys = generateKeyPairSync('ed25519');
let backend: Awaited<ReturnType<typeof botBackend>>;
let client: Client;
let server: Server;
let httpUrl = '';
let n = 0;

beforeAll(async () => {
  await fake.start();
  backend = await botBackend();
  client = new Client({ intents: [], rest: { api: fake.api, version: '10', retries: 0, timeout: 5000 } });
  client.rest.setToken('bot-token');
  attachPairStyle(client, backend);
  const rest = new REST({ api: fake.api, version: '10', retries: 0, timeout: 5000 }).setToken('bot-token');
  const http = await startDiscordHttp(
    { ...backend, publicKey: discordPublicKeyHex(keys.publicKey), applicationId: APP, rest, fileAccess: { allowInsecureOrigins: [fake.origin] } },
    0,
    '127.0.0.1',
  );
  server = http.server;
  httpUrl = `http://127.0.0.1:${http.port}/`;
});
afterAll(async () => {
  await client.destroy();
  server.close();
  await backend.queue.close();
  await fake.close();
});

interface From {
  guild?: string;
  user?: string;
  permissions?: string;
  roles?: string[];
  channel?: string;
  /** The user's Discord locale (interaction.locale); en-US when not given. */
  locale?: string;
}

/** A /pairstyle command in guild g1 as Discord sends it: by `from.user` with their permissions and roles, in `from.channel`. */
function commandBody(sub: string, options: unknown[], from: From, resolved?: unknown) {
  const token = `stok${++n}`;
  const user = from.user ?? 'u1';
  const channel = from.channel ?? 'c1';
  const body = interactionBody({
    appId: APP,
    id: `si${n}`,
    token,
    type: 2,
    user,
    data: pairstyleCommandData(sub, options, resolved),
    extra: {
      ...(from.guild ? { guild_id: from.guild } : {}),
      channel_id: channel,
      channel: { id: channel, type: 0 },
      member: { user: { id: user, username: user }, permissions: from.permissions ?? '0', roles: from.roles ?? [] },
      // What discord.js reads of every interaction besides.
      locale: from.locale ?? 'en-US',
      app_permissions: '0',
      entitlements: [],
      authorizing_integration_owners: {},
    },
  });
  return { id: `si${n}`, token, body };
}

/** Through discord.js, as the gateway delivers it. */
function gateway(sub: string, options: unknown[] = [], from: From = {}, to: Client = client, resolved?: unknown) {
  const c = commandBody(sub, options, from, resolved);
  (to as unknown as { actions: { InteractionCreate: { handle(d: unknown): void } } }).actions.InteractionCreate.handle(JSON.parse(c.body));
  return c;
}

/** Through the HTTP interactions endpoint: the first answer is the response's body. */
async function overHttp(sub: string, options: unknown[] = [], from: From = {}, resolved?: unknown) {
  const c = commandBody(sub, options, from, resolved);
  const res = await fetch(httpUrl, {
    method: 'POST',
    headers: discordSignatureHeaders(c.body, keys.privateKey),
    body: c.body,
    signal: AbortSignal.timeout(10_000),
  });
  return { ...c, first: (await res.json()) as { type: number; data?: { content?: string; flags?: number } } };
}

const str = (name: string, value: string) => ({ type: 3, name, value });
const num = (name: string, value: number) => ({ type: 10, name, value });
const callback = (c: { id: string; token: string }) => (r: Recorded) => r.method === 'POST' && r.path === `/interactions/${c.id}/${c.token}/callback`;

/** The interaction's first answer is a private refusal matching `text`, and nothing else is sent for it. */
async function refusedPrivately(c: { id: string; token: string }, text: RegExp) {
  expect((await fake.waitFor(callback(c))).json).toEqual({
    type: 4,
    data: expect.objectContaining({ content: expect.stringMatching(text), flags: 64, allowed_mentions: { parse: [] } }),
  });
  await new Promise((r) => setTimeout(r, 100));
  expect(fake.requests.filter((r) => r.path.includes(c.token)).map((r) => `${r.method} ${r.path}`)).toEqual([`POST /interactions/${c.id}/${c.token}/callback`]);
}

describe('/pairstyle settings on Discord (discord.js gateway adapter)', () => {
  it('shows the settings privately', async () => {
    const c = gateway('settings');
    expect((await fake.waitFor(callback(c))).json).toMatchObject({ type: 5, data: { flags: 64 } });
    expect((await fake.waitFor(finalReplyEdit(c.token))).json?.content).toMatch(
      /Your settings here[\s\S]*This server\/workspace\*\* \(its admins can change these\)/,
    );
  });

  it('refuses a member who is not an admin (no Manage Server) privately, and saves nothing', async () => {
    await refusedPrivately(
      gateway('settings', [str('channels', '<#c9>')], { user: 'member' }),
      /only admins of this server\/workspace can change its settings/,
    );
    expect(await backend.registry.keyv.get('settings:server:discord:g1')).toBeUndefined();
  });

  it("speaks the member's Discord locale: a German member's refusal in German, a French admin's settings and refusal in French", async () => {
    await refusedPrivately(
      gateway('settings', [str('channels', '<#c9>')], { user: 'member', locale: 'de' }),
      /^⚠️ nur Admins dieses Servers \/ Workspace können seine Einstellungen ändern \(Discord: Server verwalten oder Administrator; Slack: Workspace-Admins und -Inhaber\); nichts wurde geändert$/,
    );
    await refusedPrivately(
      gateway('settings', [str('seed', 'soon')], { user: 'francoise', locale: 'fr' }),
      /^⚠️ 'seed' doit être 'random', 'fixed' ou un nombre entier de 0 à \d+ \(reçu : 'soon'\) ; rien n’a été changé$/,
    );
    const shown = gateway('settings', [], { user: 'francoise', locale: 'fr', permissions: MANAGE_GUILD });
    expect((await fake.waitFor(finalReplyEdit(shown.token))).json?.content).toMatch(
      /^\*\*Tes réglages ici\*\*[\s\S]*• graine : random\n\*\*Ce serveur\/workspace\*\* \(tu es admin : tu peux les changer\) :\n• salons : tous les salons/,
    );
  });

  it('a draw uses the user’s default style and strength', async () => {
    await backend.registry.put({ platform: 'discord', workspace: 'g1', user: 'ann' }, 'ink', new Uint8Array([1]), {});
    await backend.registry.put({ platform: 'discord', workspace: 'g1', user: 'ann' }, 'crayon', new Uint8Array([2]), {});
    const set = gateway('settings', [str('style', 'ink'), num('strength', 5)], { user: 'ann' });
    expect((await fake.waitFor(finalReplyEdit(set.token))).json?.content).toMatch(/✅ saved[\s\S]*style: ink[\s\S]*strength: 5/);
    const draw = gateway('draw', [str('prompt', 'red apple')], { user: 'ann' });
    expect((await fake.waitFor(callback(draw))).json).toMatchObject({ type: 5, data: { flags: 0 } });
    const final = await fake.waitFor((r) => finalReplyEdit(draw.token)(r) && r.files.length > 0);
    expect(final.json?.content).toMatch(/'red apple', style \*\*ink\*\* at strength 5/);
  });

  it('an admin (Manage Server) limits the channels; a command elsewhere is refused privately, settings still answer there', async () => {
    const set = gateway('settings', [str('channels', '<#c7> here')], { user: 'mod', permissions: MANAGE_GUILD, channel: 'c5' });
    expect((await fake.waitFor(finalReplyEdit(set.token))).json?.content).toMatch(/channels: <#c7>, <#c5>/);
    try {
      await refusedPrivately(
        gateway('draw', [str('prompt', 'cat')], { user: 'bob' }),
        /PairStyle is not used in this channel here: an admin allowed it in <#c7>, <#c5> only/,
      );
      const allowed = gateway('draw', [str('prompt', 'cat')], { user: 'bob', channel: 'c7' });
      expect((await fake.waitFor(callback(allowed))).json).toMatchObject({ type: 5, data: { flags: 0 } });
      const shown = gateway('settings', [], { user: 'bob' });
      expect((await fake.waitFor(finalReplyEdit(shown.token))).json?.content).toMatch(/channels: <#c7>, <#c5>/);
    } finally {
      await backend.registry.keyv.delete('settings:server:discord:g1');
    }
  });

  it('reads the roles of a member of a server discord.js keeps (as with the Guilds intent): the role to train', async () => {
    const cached = new Client({ intents: [], rest: { api: fake.api, version: '10', retries: 0, timeout: 5000 } });
    cached.rest.setToken('bot-token');
    attachPairStyle(cached, { ...backend, fileAccess: { allowInsecureOrigins: [fake.origin] } });
    const guild = '880000000000000001';
    const role = (id: string, name: string) => ({
      id,
      name,
      permissions: '0',
      position: 1,
      color: 0,
      hoist: false,
      managed: false,
      mentionable: false,
      flags: 0,
    });
    (cached.guilds as unknown as { _add(d: unknown): unknown })._add({
      id: guild,
      name: 'art club',
      roles: [role(guild, '@everyone'), role('880000000000000002', 'artists')],
      channels: [],
      members: [],
    });
    try {
      const set = gateway('settings', [str('train_role', '<@&880000000000000002>')], { guild, user: 'mod', permissions: MANAGE_GUILD }, cached);
      expect((await fake.waitFor(finalReplyEdit(set.token))).json?.content).toMatch(/role needed to train: <@&880000000000000002>/);
      fake.cdn.set('gbefore.png', await pngOf('#d22', 40, 40));
      const attachment = fake.attachment('a1', 'gbefore.png');
      const pair = [{ type: 11, name: 'content', value: 'a1' }, { type: 11, name: 'style', value: 'a1' }, str('name', 'reds')];
      const train = (user: string, roles: string[]) => gateway('train', pair, { guild, user, roles }, cached, { attachments: { a1: attachment } });
      await refusedPrivately(train('bob', []), /training here needs the role <@&880000000000000002>/);
      const member = train('cat', ['880000000000000002']);
      expect((await fake.waitFor(callback(member))).json).toMatchObject({ type: 5, data: { flags: 0 } });
    } finally {
      await cached.destroy();
    }
  });

  it('registers /pairstyle with settings and no default member permissions (one setting would cover every subcommand)', async () => {
    const rest = new REST({ api: fake.api, version: '10', retries: 0 }).setToken('bot-token');
    await registerCommands(rest, APP, 'g1');
    const put = await fake.waitFor((r) => r.method === 'PUT' && r.path === `/applications/${APP}/guilds/g1/commands`);
    const root = (
      put.json as unknown as { default_member_permissions: unknown; options: { name: string; description: string; options: { description: string }[] }[] }[]
    )[0];
    expect(root.default_member_permissions).toBeNull();
    const settings = root.options.find((o) => o.name === 'settings')!;
    expect(settings.options.map((o) => (o as unknown as { name: string }).name)).toEqual([
      'style',
      'strength',
      'steps',
      'seed',
      'channels',
      'train_role',
      'queued_draws',
      'trainings_per_day',
      'max_styles',
      'sharing',
      'reset',
    ]);
    // Discord's limits: descriptions of 1-100 characters.
    for (const d of [settings.description, ...settings.options.map((o) => o.description)]) expect(d.length).toBeLessThanOrEqual(100);
    expect(slashCommands()[0].default_member_permissions).toBeNull();
  });
});

describe('/pairstyle settings on Discord (HTTP interactions)', () => {
  it('a disallowed channel is refused privately in the first answer; the role to train comes from the member', async () => {
    const set = await overHttp('settings', [str('channels', '<#c2>'), str('train_role', '<@&555000000000000001>')], {
      user: 'mod',
      permissions: MANAGE_GUILD,
    });
    expect(set.first).toMatchObject({ type: 5, data: { flags: 64 } });
    expect((await fake.waitFor(finalReplyEdit(set.token))).json?.content).toMatch(/channels: <#c2>[\s\S]*role needed to train: <@&555000000000000001>/);
    try {
      const refused = await overHttp('draw', [str('prompt', 'cat')], { user: 'bob', channel: 'c1' });
      expect(refused.first).toEqual({
        type: 4,
        data: { content: expect.stringMatching(/PairStyle is not used in this channel here/), flags: 64, allowed_mentions: { parse: [] } },
      });
      fake.cdn.set('sbefore.png', await pngOf('#d22', 40, 40));
      fake.cdn.set('safter.png', await pngOf('#22d', 40, 40));
      const resolved = { attachments: { a1: fake.attachment('a1', 'sbefore.png'), a2: fake.attachment('a2', 'safter.png') } };
      const pair = [{ type: 11, name: 'content', value: 'a1' }, { type: 11, name: 'style', value: 'a2' }, str('name', 'reds')];
      const noRole = await overHttp('train', pair, { user: 'bob', channel: 'c2', roles: ['1'] }, resolved);
      expect(noRole.first).toMatchObject({
        type: 4,
        data: { content: expect.stringMatching(/training here needs the role <@&555000000000000001>/), flags: 64 },
      });
      const withRole = await overHttp('train', pair, { user: 'cat', channel: 'c2', roles: ['555000000000000001'] }, resolved);
      expect(withRole.first).toMatchObject({ type: 5, data: { flags: 0 } });
      await fake.waitFor((r) => finalReplyEdit(withRole.token)(r) && /learned style/.test(String(r.json?.content)));
    } finally {
      await backend.registry.keyv.delete('settings:server:discord:g1');
    }
  });
});
