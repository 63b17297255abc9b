/**
 * The whole bot end to end on a tiny random model folder: config -> startBot (Discord HTTP endpoint +
 * Slack Bolt, SQLite registry, in-process queue, engine thread) against loopback fakes of both
 * platforms, reached through DISCORD_API_URL and SLACK_API_URL. Train from uploads, draw, blend, export on Discord; platform isolation and a draw on Slack.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBotConfig } from '../../config/bot.ts';
import { startBot } from '../../src/bot/main.ts';
import { decodeStyle } from '../../src/pair/style-file.ts';
import { pngOf } from '../helpers/bot-fixture.ts';
import { discordHttpEnv, finalReplyEdit, postDiscordCommand } from '../../testing/discord-interactions.ts';
import { postSignedToSlack } from '../helpers/slack-app.ts';
import { FakeDiscord } from '../../testing/fake-discord.ts';
import { FakeSlack } from '../../testing/fake-slack.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';

const keys = generateKeyPairSync('ed25519');
const discord = new FakeDiscord();
const slack = new FakeSlack();
let bot: Awaited<ReturnType<typeof startBot>>;
let n = 0;

beforeAll(async () => {
  await discord.start();
  await slack.start('xoxb-e2e');
  const env = {
    ...discordHttpEnv(keys.publicKey),
    SLACK_BOT_TOKEN: 'xoxb-e2e',
    SLACK_SIGNING_SECRET: 'e2e-secret',
    SLACK_PORT: '0',
    PAIRSTYLE_MODEL: await writeTinyModelFolder(),
    PAIRSTYLE_STORE_URL: `sqlite://${join(mkdtempSync(join(tmpdir(), 'pairstyle-bot-')), 'bot.sqlite')}`,
    // The platforms' APIs are the loopback fakes, through the bot's own settings.
    DISCORD_API_URL: discord.api,
    SLACK_API_URL: slack.apiUrl,
  };
  bot = await startBot(loadBotConfig(env), {
    fileOrigins: [discord.origin, slack.origin],
    task: { sampleSteps: 2 },
    minEditIntervalMs: 0,
    host: '127.0.0.1',
  });
});
afterAll(async () => {
  await bot?.stop();
  await discord.close();
  await slack.close();
});

async function discordCommand(sub: string, options: unknown[], resolved?: unknown) {
  const token = `e2e${++n}`;
  const res = await postDiscordCommand(`http://127.0.0.1:${bot.ports.discord}/`, keys.privateKey, { token, user: 'u1', sub, options, resolved }, 30_000);
  expect(res.status).toBe(200);
  return discord.waitFor(finalReplyEdit(token), 60_000);
}

describe('the bot end to end (tiny model, loopback platforms)', () => {
  it('trains from two uploads, draws, blends and exports on Discord', async () => {
    discord.cdn.set('before.png', await pngOf('#d22', 40, 30));
    discord.cdn.set(
      'after.jpg',
      new Uint8Array(
        await sharp({ create: { width: 30, height: 30, channels: 3, background: '#22d' } })
          .jpeg()
          .toBuffer(),
      ),
    );
    const att = (id: string, name: string, type: string) => ({
      id,
      filename: name,
      size: discord.cdn.get(name)!.length,
      url: `${discord.origin}/cdn/${name}`,
      content_type: type,
    });
    const trained = await discordCommand(
      'train',
      [
        { type: 11, name: 'content', value: 'a' },
        { type: 11, name: 'style', value: 'b' },
        { type: 3, name: 'name', value: 'blue' },
        { type: 4, name: 'steps', value: 10 },
      ],
      {
        attachments: { a: att('a', 'before.png', 'image/png'), b: att('b', 'after.jpg', 'image/jpeg') },
      },
    );
    expect(trained.json?.content).toMatch(/learned style \*\*blue\*\*/);
    expect(trained.files[0].name).toBe('blue-pair.png');
    expect((await sharp(trained.files[0].data).metadata()).width).toBeGreaterThanOrEqual(512);

    const drawn = await discordCommand('draw', [
      { type: 3, name: 'prompt', value: 'cat face' },
      { type: 4, name: 'steps', value: 2 },
      { type: 4, name: 'seed', value: 1 },
    ]);
    expect(drawn.json?.content).toMatch(/'cat face', style \*\*blue\*\* at strength 3, seed 1/);
    expect(drawn.files.map((f) => f.name)).toEqual(['styled.png']);

    const blended = await discordCommand('blend', [
      { type: 3, name: 'style_a', value: 'blue' },
      { type: 3, name: 'style_b', value: 'blue' },
      { type: 3, name: 'prompt', value: 'rocket' },
    ]);
    expect(blended.json?.content).toMatch(/blended from blue \(left\) to blue \(right\)/);
    expect(blended.files.map((f) => f.name)).toEqual(['blend-strip.png']);

    const exported = await discordCommand('export', [{ type: 3, name: 'name', value: 'blue' }]);
    expect(decodeStyle(exported.files[0].data).info.name).toBe('blue');
  });

  it('keeps platforms apart and draws on Slack with an upload', async () => {
    const body = new URLSearchParams({
      command: '/pairstyle',
      text: 'draw cat face style:blue steps:2',
      user_id: 'u1',
      team_id: 'g1',
      channel_id: 'C1',
      response_url: `${slack.origin}/respond/x1`,
      trigger_id: 't',
      token: 'x',
      api_app_id: 'A',
    }).toString();
    const post = (b: string) => postSignedToSlack(`http://127.0.0.1:${bot.ports.slack}/slack/events`, 'e2e-secret', b, { timeoutMs: 30_000 });
    expect((await post(body)).status).toBe(200);
    // Same ids on another platform: the Discord style is not reachable.
    expect(String((await slack.waitFor((c) => c.method === 'respond/x1')).body.text)).toMatch(/no style named 'blue'/);
    await post(body.replace('style%3Ablue+', '').replace('x1', 'x2'));
    // The drawing is uploaded to be shown in its message (a progress preview may come first, under load).
    await slack.waitFor((c) => c.method === 'files.getUploadURLExternal' && c.body.filename === 'image.png', 60_000);
    await slack.waitFor((c) => c.method === 'files.completeUploadExternal', 60_000);
  });
});
