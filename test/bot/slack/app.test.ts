/** The Bolt adapter over its HTTP receiver with real signed requests, talking to a loopback fake Slack Web API. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSlackApp } from '../../../src/bot/slack/app.ts';
import { parseCommandText } from '../../../commands/text.ts';
import { UserRateLimiter } from '../../../commands/index.ts';
import { InProcessQueue } from '../../../src/queue/in-process.ts';
import { pngOf } from '../../helpers/bot-fixture.ts';
import { FakeExecutor } from '../../queue/fake-executor.ts';
import { buttonPress, postSignedToSlack, slashCommand, startSlackApp, type SignedPostOptions, type SlackAppFixture } from '../../helpers/slack-app.ts';
import { FakeSlack, type SlackCall } from '../../../testing/fake-slack.ts';
import { reliabilityReport } from '../../reliability/report.ts';

const report = reliabilityReport(import.meta.url);

const SECRET = 'test-signing-secret';
const BOT = 'xoxb-test';
const fake = new FakeSlack();
let slack: SlackAppFixture;
/** Where signed requests go: the app of startSlackApp, or a test's own app for a while. */
let url = '';
let n = 0;

beforeAll(async () => {
  slack = await startSlackApp(fake, { botToken: BOT, signingSecret: SECRET });
  url = slack.url;
});
afterAll(() => slack.close());

const signed = (body: string, opts: SignedPostOptions & { secret?: string } = {}) => postSignedToSlack(url, opts.secret ?? SECRET, body, opts);

const slash = (text: string, user = 'U1') => slashCommand(fake, text, user, ++n);
const responded = (path: string) => (c: SlackCall) => c.method === path.slice(1);
/** Presses Train on the next training confirmation the bot posts for `user`'s command. */
async function confirmTraining(user: string, after = fake.calls.length) {
  const post = await fake.waitFor((c) => fake.calls.indexOf(c) >= after && c.method === 'chat.postMessage' && /pst:train:/.test(String(c.body.blocks)));
  const train = /"(pst:train:[^"]+)"/.exec(String(post.body.blocks))![1];
  const ts = [...fake.messages.values()].find((m) => JSON.stringify(m.blocks ?? []).includes(train))!.ts;
  await signed(buttonPress(fake, train, user, ++n, ts).body);
}

describe('Slack adapter (Bolt, HTTP receiver)', () => {
  it('acknowledges at once, posts progress, then the final message with its image (uploaded privately with files.uploadV2) above its buttons', async () => {
    const { body } = slash('draw red apple seed:5');
    const t0 = performance.now();
    const res = await signed(body);
    expect(res.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(3000);
    const post = await fake.waitFor((c) => c.method === 'chat.postMessage');
    expect(post.auth).toBe(`Bearer ${BOT}`);
    const complete = await fake.waitFor((c) => c.method === 'files.completeUploadExternal');
    // Not shared to the channel: the message shows it.
    expect(complete.body.channel_id).toBeUndefined();
    const [{ id }] = JSON.parse(String(complete.body.files));
    await fake.waitFor((c) => c.method === 'files.getUploadURLExternal' && c.body.filename === 'draw.png');
    const upload = await fake.waitFor((c) => c.method.startsWith('upload/'));
    expect(upload.bytes).toBeGreaterThan(50);
    const finalUpdate = await fake.waitFor((c) => c.method === 'chat.update' && /red apple', no style, seed 5/.test(String(c.body.text)));
    expect(String(finalUpdate.body.blocks)).toMatch(/ps:reroll:/);
    expect(JSON.parse(String(finalUpdate.body.blocks))).toContainEqual(expect.objectContaining({ type: 'image', slack_file: { id } }));
  });

  it('trains from the two latest images the user shared, with the bot token, then lists the style', async () => {
    fake.files.set('before.png', { bytes: await pngOf('#d22'), user: 'U2', created: 1, mimetype: 'image/png' });
    fake.files.set('after.png', { bytes: await pngOf('#22d'), user: 'U2', created: 2, mimetype: 'image/png' });
    const asked = fake.calls.length;
    await signed(slash('train name:reds subject:"red disc"', 'U2').body);
    await confirmTraining('U2', asked);
    await fake.waitFor((c) => c.method === 'chat.update' && /learned style \*reds\*/.test(String(c.body.text)));
    const list = slash('list', 'U2');
    await signed(list.body);
    const r = await fake.waitFor(responded(list.respondPath));
    expect(r.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(r.body.text)).toMatch(/\*reds\*/);
    // An export is private: the file goes to the user's DM with the bot, not to the channel.
    await signed(slash('export reds', 'U2').body);
    const dm = await fake.waitFor((c) => c.method === 'files.completeUploadExternal' && c.body.channel_id === 'D1');
    expect(dm).toBeTruthy();
    expect(fake.calls.some((c) => c.method === 'files.getUploadURLExternal' && c.body.filename === 'reds.safetensors')).toBe(true);
    // Another user of the workspace does not see it until it is shared.
    const other = slash('draw cat style:reds', 'U3');
    await signed(other.body);
    expect(String((await fake.waitFor(responded(other.respondPath))).body.text)).toMatch(/no style named 'reds' that you can use/);
  });

  it("stylizes the user's latest picture in the channel; refuses no picture, a bad one, an unknown style", async () => {
    fake.files.set('mine.png', { bytes: await pngOf('#dd2'), user: 'U2', created: 3, mimetype: 'image/png' });
    await signed(slash('stylize style:reds strength:2', 'U2').body);
    const done = await fake.waitFor((c) => c.method === 'chat.update' && /'mine\.png' in style \*reds\* at strength 2/.test(String(c.body.text)));
    expect(JSON.stringify(done.body.blocks)).toMatch(/ps:stronger:/);
    expect(JSON.stringify(done.body.blocks)).not.toMatch(/ps:reroll:/);
    fake.files.set('notes.png', { bytes: new TextEncoder().encode('not a picture'), user: 'U2', created: 4, mimetype: 'image/png' });
    const refusals: [string, string, RegExp][] = [
      ['stylize style:reds', 'U5', /share a picture in this channel first/],
      ['stylize style:reds', 'U2', /the picture file 'notes\.png' is not an image I can read/],
      ['stylize style:redz', 'U2', /no style named 'redz'.*Did you mean 'reds'\?/],
    ];
    for (const [text, user, message] of refusals) {
      const c = slash(text, user);
      await signed(c.body);
      const r = await fake.waitFor(responded(c.respondPath));
      expect(r.body).toMatchObject({ response_type: 'ephemeral' });
      expect(String(r.body.text)).toMatch(message);
    }
  });

  it('trains one style from two pairs named by file id (content2:F… style2:F…)', async () => {
    for (const [n, c, t] of [
      ['FBEFORE1', '#d22', 3],
      ['FAFTER01', '#22d', 4],
      ['FBEFORE2', '#2d2', 5],
      ['FAFTER02', '#dd2', 6],
    ] as const)
      fake.files.set(n, { bytes: await pngOf(c), user: 'U4', created: t, mimetype: 'image/png' });
    const asked = fake.calls.length;
    await signed(slash('train name:duo content:FBEFORE1 style:FAFTER01 content2:FBEFORE2 style2:FAFTER02', 'U4').body);
    await confirmTraining('U4', asked);
    await fake.waitFor((c) => c.method === 'chat.update' && /learned style \*duo\*/.test(String(c.body.text)));
    expect(fake.calls.some((c) => /from 2 pairs \(FBEFORE1 → FAFTER01; FBEFORE2 → FAFTER02\)/.test(String(c.body.text)))).toBe(true);
    const half = slash('train name:half content:FBEFORE1 style:FAFTER01 content2:FBEFORE2', 'U4');
    await signed(half.body);
    expect(String((await fake.waitFor(responded(half.respondPath))).body.text)).toMatch(/pair 2 needs both images/);
  });

  it('answers a bad command with a clear ephemeral error', async () => {
    const bad = slash('draw cat strength:99');
    await signed(bad.body);
    const r = await fake.waitFor(responded(bad.respondPath));
    expect(r.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(r.body.text)).toMatch(/'strength' must be a number from 0 to 10/);
  });

  it("refuses in the user's language: French for a user whose Slack locale is fr-FR (users.info with include_locale)", async () => {
    fake.locales.set('U-fr', 'fr-FR');
    const bad = slash('draw cat strength:99', 'U-fr');
    await signed(bad.body);
    const r = await fake.waitFor(responded(bad.respondPath));
    expect(r.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(r.body.text)).toBe("⚠️ 'strength' doit être un nombre de 0 à 10, pas '99'");
    const asked = fake.calls.filter((c) => c.method === 'users.info' && c.body.user === 'U-fr');
    expect(asked.length).toBeGreaterThan(0);
    expect(String(asked[0]!.body.include_locale)).toBe('true');
  });

  it("follows a French user's job in French: the progress message, then the final message and its buttons", async () => {
    fake.locales.set('U-fr2', 'fr-FR');
    const before = fake.calls.length;
    await signed(slash('draw red apple seed:7', 'U-fr2').body);
    const post = await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === 'chat.postMessage' && /red apple/.test(String(c.body.text)));
    expect(String(post.body.text)).toMatch(/^(⏳ dessin de 'red apple' : n° \d+ dans la file d’attente|⚙️ dessin de 'red apple')/);
    const done = await fake.waitFor(
      (c) => fake.calls.indexOf(c) >= before && c.method === 'chat.update' && /^🎨 'red apple', sans style, graine 7, 30 étapes/.test(String(c.body.text)),
    );
    expect(JSON.stringify(done.body.blocks)).toContain('🎲 Relancer');
    expect(JSON.stringify(done.body.blocks)).toContain('🔀 Varier');
  });

  describe('refusals are seen only by their user (ephemeral responses); results stay public', () => {
    const press = (actionId: string, user: string) => buttonPress(fake, actionId, user, ++n);
    /** The refusal came back through the response URL as ephemeral, and no message in the channel says it. */
    async function refusedPrivately(what: string, sent: { body: string; respondPath: string }, text: RegExp) {
      expect((await signed(sent.body)).status).toBe(200);
      const r = await fake.waitFor(responded(sent.respondPath));
      const inChannel = () => fake.calls.filter((c) => c.method.startsWith('chat.') && text.test(String(c.body.text)));
      await new Promise((resolve) => setTimeout(resolve, 100));
      report.row({
        section: 'Isolation',
        case: `Slack: ${what}`,
        expected: 'refused in an ephemeral response: only its user sees it; nothing in the channel',
        result: `${String(r.body.response_type)}: ${String(r.body.text).slice(0, 120)}`,
        pass: r.body.response_type === 'ephemeral' && text.test(String(r.body.text)) && inChannel().length === 0,
      });
      expect(r.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(text) });
      expect(inChannel()).toEqual([]);
    }

    it('a weighted draw in public with a Vary button that only its user may press; bad style lists refused privately', async () => {
      const owner = { platform: 'slack', workspace: 'T1', user: 'W1' };
      for (const name of ['ink-a', 'ink-b']) await slack.backend.registry.put(owner, name, new Uint8Array([1]), {});
      expect((await signed(slash('draw cat style:"ink-a::2 ink-b::1" seed:4', 'W1').body)).status).toBe(200);
      const drawn = await fake.waitFor(
        (c) => c.method === 'chat.update' && /'cat', style \*ink-a\* at strength 2 \+ style \*ink-b\* at strength 1, seed 4,/.test(String(c.body.text)),
      );
      const vary = /ps:vary:[0-9a-f-]{36}/.exec(String(drawn.body.blocks))?.[0];
      expect(vary).toBeDefined();
      await refusedPrivately('another user presses the vary button', press(vary!, 'W2'), /only the person who ran this command can use its buttons/);
      expect((await signed(press(vary!, 'W1').body)).status).toBe(200);
      await fake.waitFor((c) => c.method === 'chat.update' && /at strength 1, seed 4, variation \d+ \(0\.3\)/.test(String(c.body.text)));
      await refusedPrivately('a zero weight in a style list', slash('draw cat style:ink-a::0,ink-b', 'W1'), /the weight of 'ink-a' is 0/);
      await refusedPrivately('an unknown name in a style list', slash('draw cat style:"ink-a::2 ink-c"', 'W1'), /no style named 'ink-c' that you can use/);
      await refusedPrivately('a style named twice', slash('draw cat style:"ink-a ink-a::2"', 'W1'), /'ink-a' is in the list twice/);
      await refusedPrivately(
        'a weighted list typed without quotes',
        slash('draw cat style:ink-a::2 ink-b::1', 'W1'),
        /'ink-b::1' looks like a weighted style: put the whole list in quotes, e\.g\. style:"ink-a::2 ink-b::1"/,
      );
    });

    it("a bad option, an unknown style, the rate limit, a queue cap, a foreign button press and a cancel of another's job", async () => {
      const queue = new InProcessQueue({ executors: [new FakeExecutor()] });
      const held = createSlackApp({
        ...slack.backend,
        queue,
        limits: { ...slack.backend.limits, userRate: new UserRateLimiter({ perMinute: 6 }) },
        botToken: BOT,
        signingSecret: SECRET,
        clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } },
        tokenVerificationEnabled: false,
      });
      const server = (await held.start({ port: 0, host: '127.0.0.1' })) as Server;
      const main = url;
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
      try {
        await refusedPrivately('a bad option (strength 99)', slash('draw cat strength:99', 'S1'), /'strength' must be a number from 0 to 10/);
        await refusedPrivately('a style the user cannot use', slash('draw cat style:nope-ink', 'S1'), /no style named 'nope-ink' that you can use/);
        // Three draws are accepted, in public; the fourth is over the cap.
        for (let i = 0; i < 3; i++) await signed(slash('draw cat', 'S1').body);
        await expect.poll(() => queue.jobsOf({ platform: 'slack', workspace: 'T1', user: 'S1' }).length).toBe(3);
        await refusedPrivately('a fourth draw over the per-user cap', slash('draw cat', 'S1'), /you already have 3 draws in the queue/);
        // S1 has used 6 commands this minute.
        await refusedPrivately('a draw over the rate limit', slash('draw cat', 'S1'), /slow down: you can send 6 commands a minute/);
        const job = queue.jobsOf({ platform: 'slack', workspace: 'T1', user: 'S1' })[0].job;
        await refusedPrivately(
          'another user presses the reroll button',
          press(`ps:reroll:${job.id}`, 'S2'),
          /only the person who ran this command can use its buttons/,
        );
        await refusedPrivately('another user presses the cancel button', press(`ps:cancel:${job.id}`, 'S2'), /that job is not yours to cancel/);
        // A button that is not one of today's (an earlier version's, or a forged id) is answered at once, privately.
        await refusedPrivately("a button id that is not one of PairStyle's", press(`psx:reroll:${job.id}`, 'S1'), /this button is not one of mine/);
        await refusedPrivately("a confirmation-like id that is not a training's", press('pst:train:not-a-job', 'S1'), /this button is not one of mine/);
        expect(queue.get(job.id)?.status).toBe('running');
      } finally {
        url = main;
        await held.stop();
        await queue.close();
      }
    });
  });

  it("escapes &, < and > of the user's text in every message (no @channel, mention or link reaches the channel)", async () => {
    const prompt = '<!channel> hi <@U999> & <https://evil.example|click>';
    const { body } = slash(`draw prompt:"${prompt}" seed:3`, 'U7');
    await signed(body);
    const posted = await fake.waitFor((c) => c.method === 'chat.postMessage' && String(c.body.text).includes('hi &lt;@U999&gt;'));
    const done = await fake.waitFor(
      (c) => c.method === 'chat.update' && /seed 3/.test(String(c.body.text)) && String(c.body.text).includes('hi &lt;@U999&gt;'),
    );
    const bad = slash('<!here> draw cat', 'U7');
    await signed(bad.body);
    const refusal = await fake.waitFor(responded(bad.respondPath));
    const messages = [
      ['the prompt in the progress message', posted],
      ['the prompt in the final message', done],
      ['an unknown subcommand in the ephemeral error', refusal],
    ] as const;
    for (const [what, call] of messages) {
      const text = `${String(call.body.text)} ${String(call.body.blocks ?? '')}`;
      const pass = !/<!|<@|<https?:/.test(text) && /&lt;!(channel|here)&gt;/.test(text);
      report.row({
        section: 'Bad input',
        case: `Slack: ${what} carries <!channel> / <!here>, <@U999>, <https://…|…> and &`,
        expected: 'shown as typed, escaped (&amp; &lt; &gt;): no ping, no mention, no link',
        result: String(call.body.text).slice(0, 160),
        pass,
      });
      expect(text, what).not.toMatch(/<!|<@|<https?:/);
      expect(text).toMatch(/&lt;!(channel|here)&gt;/);
    }
    expect(String(done.body.text)).toContain(`'&lt;!channel&gt; hi &lt;@U999&gt; &amp; &lt;https://evil.example|click&gt;'`);
  });

  it('refuses a wrong signing secret, an altered body and a stale timestamp with 401', async () => {
    const { body } = slash('help');
    const before = fake.calls.length;
    expect((await signed(body, { secret: 'wrong' })).status).toBe(401);
    expect((await signed(body, { alter: (b) => b.replace('help', 'list') })).status).toBe(401);
    expect((await signed(body, { ts: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
    expect((await fetch(slack.url, { method: 'POST', body })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.calls.length).toBe(before);
  });
});

describe('Slack text parsing', () => {
  it('fills prompts, names and pairs from free words; key:value and quotes for the rest', () => {
    expect(parseCommandText('draw dog face strength:4 seed=7')).toEqual({ subcommand: 'draw', options: { prompt: 'dog face', strength: '4', seed: '7' } });
    expect(parseCommandText('blend ink wavy ratio:0.5')).toEqual({ subcommand: 'blend', options: { style_a: 'ink', style_b: 'wavy', ratio: '0.5' } });
    expect(parseCommandText('train name:ink subject:"cat face"').options).toEqual({ name: 'ink', subject: 'cat face' });
    expect(parseCommandText('').subcommand).toBe('help');
    expect(() => parseCommandText('draw x colour:red')).toThrow(/unknown option 'colour'/);
    expect(() => parseCommandText('frobnicate')).toThrow(/unknown subcommand/);
  });
});
