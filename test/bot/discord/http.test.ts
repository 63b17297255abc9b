/** The Discord HTTP interactions endpoint: Ed25519 checks, PING, deferred replies via @discordjs/rest, autocomplete isolation, token expiry. */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import { REST } from '@discordjs/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordHttp } from '../../../src/bot/discord/http.ts';
import { InProcessQueue } from '../../../src/queue/in-process.ts';
import type { JobExecutor } from '../../../src/queue/job.ts';
import { UserRateLimiter } from '../../../commands/index.ts';
import { botBackend, pngOf } from '../../helpers/bot-fixture.ts';
import { FakeExecutor } from '../../queue/fake-executor.ts';
import { loadImage } from '../../../src/images/io.ts';
import { FakeDiscord, type Recorded } from '../../../testing/fake-discord.ts';
import { reliabilityReport } from '../../reliability/report.ts';
import { discordSignatureHeaders, interactionBody, pairstyleCommandData } from '../../../testing/discord-interactions.ts';

const report = reliabilityReport(import.meta.url);

const keys = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const rawHex = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
const fake = new FakeDiscord();
let backend: Awaited<ReturnType<typeof botBackend>>;
const servers: Server[] = [];
let url = '';
let lateUrl = '';
let n = 0;

async function endpoint(extra: Record<string, unknown> = {}) {
  const rest = new REST({ api: fake.api, version: '10', retries: 0, timeout: 5000 }).setToken('bot-token');
  const { server, port } = await startDiscordHttp(
    { ...backend, publicKey: rawHex(keys.publicKey), applicationId: 'app1', rest, fileAccess: { allowInsecureOrigins: [fake.origin] }, ...extra },
    0,
    '127.0.0.1',
  );
  servers.push(server);
  return `http://127.0.0.1:${port}/`;
}

beforeAll(async () => {
  await fake.start();
  backend = await botBackend();
  url = await endpoint();
  lateUrl = await endpoint({ tokenLifetimeMs: 0 });
});
afterAll(async () => {
  servers.forEach((s) => s.close());
  await backend.queue.close();
  await fake.close();
});

function post(body: string, opts: { key?: KeyObject; ts?: number; alter?: (b: string) => string; to?: string } = {}) {
  const headers = discordSignatureHeaders(body, opts.key ?? keys.privateKey, opts.ts === undefined ? undefined : String(opts.ts));
  return fetch(opts.to ?? url, { method: 'POST', headers, body: opts.alter ? opts.alter(body) : body, signal: AbortSignal.timeout(5000) });
}

const interaction = (type: number, data: unknown, user = 'u1', extra: Record<string, unknown> = {}) => {
  const token = `tok${++n}`;
  return { token, body: interactionBody({ appId: 'app1', id: `i${n}`, token, type, user, data, extra }) };
};
const command = (sub: string, options: unknown[] = [], user = 'u1', resolved?: unknown) => interaction(2, pairstyleCommandData(sub, options, resolved), user);
const finalEdit = (token: string) => (r: Recorded) =>
  r.method === 'PATCH' && r.path === `/webhooks/app1/${token}/messages/@original` && !/⏳|⚙️/.test(String(r.json?.content));

describe('Discord HTTP interactions', () => {
  it('answers PING with PONG', async () => {
    const res = await post(JSON.stringify({ id: 'p', application_id: 'app1', type: 1, token: 't', version: 1 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 1 });
  });

  it('refuses a wrong key, an altered body, a stale timestamp, missing headers and a replay with 401', async () => {
    const ping = JSON.stringify({ id: 'p2', application_id: 'app1', type: 1, token: 't', version: 1 });
    expect((await post(ping, { key: other.privateKey })).status).toBe(401);
    expect((await post(ping, { alter: (b) => b.replace('"p2"', '"p3"') })).status).toBe(401);
    expect((await post(ping, { ts: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', body: ping })).status).toBe(401);
    const ts = String(Math.floor(Date.now() / 1000));
    const headers = { 'x-signature-ed25519': sign(null, Buffer.from(ts + ping), keys.privateKey).toString('hex'), 'x-signature-timestamp': ts };
    expect((await fetch(url, { method: 'POST', headers, body: ping })).status).toBe(200);
    expect((await fetch(url, { method: 'POST', headers, body: ping })).status).toBe(401);
  });

  it('defers a draw (type 5) and replaces the progress with the image through @discordjs/rest', async () => {
    const { token, body } = command('draw', [
      { type: 3, name: 'prompt', value: 'cat face' },
      { type: 4, name: 'seed', value: 7 },
    ]);
    const t0 = performance.now();
    const res = await post(body);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(await res.json()).toEqual({ type: 5, data: { flags: 0 } });
    const edit = await fake.waitFor((r) => finalEdit(token)(r) && r.files.length > 0);
    expect(edit.auth).toBeUndefined();
    expect(edit.json?.content).toMatch(/'cat face', no style, seed 7/);
    expect(edit.files.map((f) => f.name)).toEqual(['draw.png']);
    expect(edit.json?.attachments).toEqual([{ id: 0, filename: 'draw.png' }]);
    const buttons = (edit.json!.components as { components: { custom_id: string }[] }[])[0].components.map((c) => c.custom_id);
    expect(buttons[0]).toMatch(/^ps:reroll:/);
  });

  it('attaches the progress preview to the progress edit; the result replaces it', async () => {
    const preview = await pngOf('#888', 16, 16);
    let release: (() => void) | undefined;
    const executor: JobExecutor = {
      execute: async (_job, ctx) => {
        ctx.onProgress({ step: 3, steps: 8, phase: 'drawing', preview });
        await new Promise<void>((r) => (release = r));
        return { images: [{ name: 'draw.png', png: await pngOf('#3a3') }], seconds: 0.01 };
      },
    };
    const queue = new InProcessQueue({ executors: [executor] });
    try {
      const to = await endpoint({ queue });
      const { token, body } = command('draw', [{ type: 3, name: 'prompt', value: 'cat face' }]);
      await post(body, { to });
      const progress = await fake.waitFor((r) => r.method === 'PATCH' && r.path === `/webhooks/app1/${token}/messages/@original` && r.files.length > 0);
      expect(progress.json?.content).toMatch(/^⚙️ drawing 'cat face' \(drawing\): .* 3\/8/);
      expect(progress.json?.attachments).toEqual([{ id: 0, filename: 'preview.png' }]);
      expect(progress.files.map((f) => [f.name, f.data])).toEqual([['preview.png', preview]]);
      release!();
      const done = await fake.waitFor((r) => finalEdit(token)(r));
      expect(done.json?.attachments).toEqual([{ id: 0, filename: 'draw.png' }]);
      expect(done.files.map((f) => f.name)).toEqual(['draw.png']);
    } finally {
      release?.();
      await queue.close();
    }
  });

  it('trains from two uploads on the (fake) Discord CDN, then lists the style ephemerally', async () => {
    fake.cdn.set('before.png', await pngOf('#d22', 40, 40));
    fake.cdn.set('after.png', await pngOf('#22d', 48, 40));
    const resolved = {
      attachments: {
        a1: fake.attachment('a1', 'before.png'),
        a2: fake.attachment('a2', 'after.png'),
      },
    };
    const { token, body } = command(
      'train',
      [
        { type: 11, name: 'content', value: 'a1' },
        { type: 11, name: 'style', value: 'a2' },
        { type: 3, name: 'name', value: 'Blues' },
      ],
      'u1',
      resolved,
    );
    await post(body);
    const edit = await fake.waitFor(finalEdit(token));
    expect(edit.json?.content).toMatch(/learned style \*\*blues\*\*/);
    const list = command('list');
    const res = await post(list.body);
    expect(await res.json()).toEqual({ type: 5, data: { flags: 64 } });
    expect((await fake.waitFor(finalEdit(list.token))).json?.content).toMatch(/Your styles:\n• \*\*blues\*\*/);
  });

  it('stylizes an uploaded picture in a style: deferred, then picture and strength buttons; refuses a bad picture and an unknown style', async () => {
    fake.cdn.set('mine.png', await pngOf('#dd2', 40, 40));
    fake.cdn.set('broken.png', new TextEncoder().encode('not a picture'));
    const resolved = { attachments: { a5: fake.attachment('a5', 'mine.png'), a6: fake.attachment('a6', 'broken.png') } };
    const { token, body } = command(
      'stylize',
      [
        { type: 11, name: 'image', value: 'a5' },
        { type: 3, name: 'style', value: 'blues' },
      ],
      'u1',
      resolved,
    );
    expect(await (await post(body)).json()).toEqual({ type: 5, data: { flags: 0 } });
    const edit = await fake.waitFor((r) => finalEdit(token)(r) && r.files.length > 0);
    expect(edit.json?.content).toMatch(/'mine\.png' in style \*\*blues\*\* at strength 1\.5/);
    const buttons = (edit.json!.components as { components: { custom_id: string }[] }[])[0].components.map((c) => c.custom_id);
    expect(buttons.map((b) => b.split(':')[1])).toEqual(['vary', 'weaker', 'stronger']);
    const stronger = interaction(3, { custom_id: buttons[2], component_type: 2 });
    await post(stronger.body);
    expect((await fake.waitFor((r) => finalEdit(stronger.token)(r) && r.files.length > 0)).json?.content).toMatch(/at strength 2\.5/);
    // Vary: the same settings, denoised with another seed's noise.
    const vary = interaction(3, { custom_id: buttons[0], component_type: 2 });
    await post(vary.body);
    expect((await fake.waitFor((r) => finalEdit(vary.token)(r) && r.files.length > 0)).json?.content).toMatch(/at strength 1\.5, variation \d+ \(1\)/);

    const refusals: [unknown[], RegExp][] = [
      [
        [
          { type: 11, name: 'image', value: 'a6' },
          { type: 3, name: 'style', value: 'blues' },
        ],
        /the picture file 'broken\.png' is not an image I can read/,
      ],
      [
        [
          { type: 11, name: 'image', value: 'a5' },
          { type: 3, name: 'style', value: 'bluez' },
        ],
        /no style named 'bluez'.*Did you mean 'blues'\?/,
      ],
      [[{ type: 3, name: 'style', value: 'blues' }], /'image' is required/],
    ];
    // Each refusal is the first answer, seen only by its user (ephemeral).
    for (const [options, message] of refusals) {
      const c = command('stylize', options, 'u1', resolved);
      const answer = (await (await post(c.body)).json()) as { type: number; data?: { content?: string; flags?: number } };
      expect(answer).toMatchObject({ type: 4, data: { content: expect.stringMatching(message), flags: 64 } });
    }
  });

  it('trains one style from two pairs (content2/style2) and lists the pairs while it trains; refuses a half pair', async () => {
    for (const [n, c] of [
      ['b1.png', '#d22'],
      ['a1.png', '#22d'],
      ['b2.png', '#2d2'],
      ['a2.png', '#dd2'],
    ] as const)
      fake.cdn.set(n, await pngOf(c, 40, 40));
    const resolved = {
      attachments: {
        p1: fake.attachment('p1', 'b1.png'),
        p2: fake.attachment('p2', 'a1.png'),
        p3: fake.attachment('p3', 'b2.png'),
        p4: fake.attachment('p4', 'a2.png'),
      },
    };
    const opts = [
      { type: 11, name: 'content', value: 'p1' },
      { type: 11, name: 'style', value: 'p2' },
      { type: 3, name: 'name', value: 'two-pairs' },
      { type: 11, name: 'content2', value: 'p3' },
      { type: 11, name: 'style2', value: 'p4' },
    ];
    const { token, body } = command('train', opts, 'u1', resolved);
    await post(body);
    await fake.waitFor(
      (r) => r.method === 'PATCH' && r.path.includes(token) && /from 2 pairs \(b1\.png → a1\.png; b2\.png → a2\.png\)/.test(String(r.json?.content)),
    );
    expect((await fake.waitFor(finalEdit(token))).json?.content).toMatch(/learned style \*\*two-pairs\*\*/);
    const half = command(
      'train',
      [...opts.slice(0, 4), { type: 3, name: 'name', value: 'half' }]
        .filter((o, i, a) => a.findIndex((x) => x.name === o.name) === i)
        .map((o) => (o.name === 'name' ? { ...o, value: 'half' } : o)),
      'u1',
      resolved,
    );
    const refusal = (await (await post(half.body)).json()) as { type: number; data: { content: string; flags: number } };
    expect([refusal.type, refusal.data.flags]).toEqual([4, 64]);
    expect(refusal.data.content).toMatch(/pair 2 needs both images: content2 .* and style2/);
  });

  it('retrains a style from the pictures kept with it (after the model changed); refuses what cannot be retrained', async () => {
    // A style trained through Discord from two pairs: the store keeps its pictures with it.
    const pictures = [await pngOf('#a11', 48, 40), await pngOf('#11a', 48, 40), await pngOf('#1a1', 40, 56), await pngOf('#aa1', 40, 56)];
    pictures.forEach((png, i) => fake.cdn.set(`r${i}.png`, png));
    const resolved = { attachments: Object.fromEntries(pictures.map((_, i) => [`r${i}`, fake.attachment(`r${i}`, `r${i}.png`)])) };
    const trained = command(
      'train',
      [
        { type: 11, name: 'content', value: 'r0' },
        { type: 11, name: 'style', value: 'r1' },
        { type: 3, name: 'name', value: 'kept-ink' },
        { type: 3, name: 'subject', value: 'red square' },
        { type: 4, name: 'steps', value: 120 },
        { type: 11, name: 'content2', value: 'r2' },
        { type: 11, name: 'style2', value: 'r3' },
      ],
      'u1',
      resolved,
    );
    await post(trained.body);
    expect((await fake.waitFor(finalEdit(trained.token))).json?.content).toMatch(/learned style \*\*kept-ink\*\*/);
    await backend.registry.setShared({ platform: 'discord', workspace: 'g1', user: 'u1' }, 'kept-ink', true);
    const before = await backend.registry.resolve({ platform: 'discord', workspace: 'g1', user: 'u1' }, 'kept-ink');

    const again = command('retrain', [{ type: 3, name: 'name', value: 'kept-ink' }]);
    await post(again.body);
    const done = await fake.waitFor(finalEdit(again.token));
    expect(done.json?.content).toMatch(/learned style \*\*kept-ink\*\*[\s\S]*trained again from the pictures kept with it/);
    // The training ran on the kept pictures, with the settings it was first trained with.
    const job = backend.executor.started.at(-1)!;
    if (job.kind !== 'train') throw new Error(`the last job is a ${job.kind}`);
    expect([job.args.name, job.args.subject, job.args.steps, job.args.overwrite, job.args.pairLabels]).toEqual([
      'kept-ink',
      'red square',
      120,
      true,
      ['r0.png → r1.png', 'r2.png → r3.png'],
    ]);
    const used = [job.args.content, job.args.style, job.args.extraPairs![0]!.content, job.args.extraPairs![0]!.style];
    for (const [i, bytes] of used.entries()) expect(await loadImage(bytes, 32)).toEqual(await loadImage(pictures[i]!, 32));
    // Stored again under its name, still shared, from the new job.
    const after = await backend.registry.resolve({ platform: 'discord', workspace: 'g1', user: 'u1' }, 'kept-ink');
    expect([after?.shared, after?.jobId === before?.jobId, after?.pairs?.sha256]).toEqual([true, false, before?.pairs?.sha256]);

    // Refused, privately: someone else's shared style, a style stored without its pictures, a name that is no style.
    await backend.registry.put({ platform: 'discord', workspace: 'g1', user: 'u1' }, 'no-pictures', new Uint8Array([1]), {});
    for (const [what, user, name, expected] of [
      ["another person's shared style", 'u2', 'kept-ink', /'kept-ink' belongs to someone else: only its owner can train it again/],
      [
        'a style stored without its pictures',
        'u1',
        'no-pictures',
        /'no-pictures' is stored without the pictures it was trained from[\s\S]*\/pairstyle train and overwrite:true/,
      ],
      ['a misspelt name', 'u1', 'kept-inc', /you have no style named 'kept-inc'[\s\S]*'kept-ink'/],
    ] as const) {
      const r = command('retrain', [{ type: 3, name: 'name', value: name }], user);
      const answer = (await (await post(r.body)).json()) as { type: number; data: { content: string; flags: number } };
      report.row({
        section: 'Bad input',
        case: `Discord: /pairstyle retrain of ${what}`,
        expected: 'refused privately, saying why; nothing queued',
        result: answer.data.content.slice(0, 140),
        pass: answer.type === 4 && answer.data.flags === 64 && expected.test(answer.data.content),
      });
      expect([answer.type, answer.data.flags]).toEqual([4, 64]);
      expect(answer.data.content).toMatch(expected);
    }
    expect(backend.executor.started.at(-1)).toBe(job);
    for (const name of ['kept-ink', 'no-pictures']) await backend.registry.delete({ platform: 'discord', workspace: 'g1', user: 'u1' }, name);
  });

  it('refuses an attachment that is not on a Discord file host', async () => {
    const resolved = { attachments: { x: { id: 'x', filename: 'x.png', size: 10, url: 'http://127.0.0.2:9/x.png', content_type: 'image/png' } } };
    const { token, body } = command(
      'train',
      [
        { type: 11, name: 'content', value: 'x' },
        { type: 11, name: 'style', value: 'x' },
        { type: 3, name: 'name', value: 'evil' },
      ],
      'u1',
      resolved,
    );
    const refusal = (await (await post(body)).json()) as { type: number; data: { content: string; flags: number } };
    expect([refusal.type, refusal.data.flags]).toEqual([4, 64]);
    expect(refusal.data.content).toMatch(/only read from cdn.discordapp.com/);
    expect(fake.requests.some((r) => r.path.includes(token))).toBe(false);
  });

  it("autocompletes own and shared styles, never another user's private one", async () => {
    const png = new Uint8Array([1]);
    await backend.registry.put({ platform: 'discord', workspace: 'g1', user: 'alice' }, 'secret-ink', png, {});
    await backend.registry.put({ platform: 'discord', workspace: 'g1', user: 'carol' }, 'shared-ink', png, {});
    await backend.registry.setShared({ platform: 'discord', workspace: 'g1', user: 'carol' }, 'shared-ink', true);
    await backend.registry.put({ platform: 'discord', workspace: 'g1', user: 'bob' }, 'bob-ink', png, {});
    const { body } = interaction(
      4,
      { id: 'cmd', name: 'pairstyle', type: 1, options: [{ type: 1, name: 'draw', options: [{ type: 3, name: 'style', value: '', focused: true }] }] },
      'bob',
    );
    const res = await post(body);
    const out = (await res.json()) as { type: number; data: { choices: { value: string }[] } };
    expect(out.type).toBe(8);
    expect(out.data.choices.map((c) => c.value)).toEqual(['bob-ink', 'shared-ink']);
    // Drawing with alice's private style by name is refused as unknown.
    const d = command(
      'draw',
      [
        { type: 3, name: 'prompt', value: 'cat' },
        { type: 3, name: 'style', value: 'secret-ink' },
      ],
      'bob',
    );
    const refusal = (await (await post(d.body)).json()) as { type: number; data: { content: string; flags: number } };
    expect([refusal.type, refusal.data.flags]).toEqual([4, 64]);
    expect(refusal.data.content).toMatch(/no style named 'secret-ink' that you can use/);
  });

  it("refuses in the interaction's locale: German for de, French for fr", async () => {
    const german = interaction(
      2,
      pairstyleCommandData('draw', [
        { type: 3, name: 'prompt', value: 'cat' },
        { type: 3, name: 'style', value: 'nope-ink' },
      ]),
      'u1',
      { locale: 'de' },
    );
    expect(await (await post(german.body)).json()).toMatchObject({
      type: 4,
      data: { content: "⚠️ es gibt keinen Stil namens 'nope-ink', den du nutzen kannst (siehe /pairstyle list)", flags: 64 },
    });
    const french = interaction(2, pairstyleCommandData('frobnicate', []), 'u1', { locale: 'fr' });
    expect(await (await post(french.body)).json()).toMatchObject({
      type: 4,
      data: { content: expect.stringMatching(/^⚠️ sous-commande inconnue 'frobnicate' \(essaie : train, draw, /), flags: 64 },
    });
  });

  describe('refusals are seen only by their user (ephemeral, flags 64); results stay public', () => {
    const refusedPrivately = async (what: string, res: Response, token: string, text: RegExp) => {
      const answer = (await res.json()) as { type: number; data?: { content?: string; flags?: number } };
      report.row({
        section: 'Isolation',
        case: `Discord: ${what}`,
        expected: 'refused in the first answer, ephemeral (flags 64): only its user sees it; nothing in the channel',
        result: `type ${answer.type}, flags ${answer.data?.flags}: ${String(answer.data?.content).slice(0, 120)}`,
        pass: answer.type === 4 && answer.data?.flags === 64 && text.test(String(answer.data?.content)),
      });
      expect(answer).toEqual({ type: 4, data: { content: expect.stringMatching(text), flags: 64, allowed_mentions: { parse: [] } } });
      // Nothing public: no deferred message was made, so nothing is edited or posted.
      await new Promise((r) => setTimeout(r, 100));
      expect(fake.requests.filter((r) => r.path.includes(token))).toEqual([]);
    };

    it('a bad option, a style the user cannot use, and an unknown subcommand', async () => {
      const bad = command('draw', [
        { type: 3, name: 'prompt', value: 'x' },
        { type: 10, name: 'strength', value: 42 },
      ]);
      await refusedPrivately('a bad option (strength 42)', await post(bad.body), bad.token, /'strength' must be a number from 0 to 10/);
      const unknown = command('draw', [
        { type: 3, name: 'prompt', value: 'cat' },
        { type: 3, name: 'style', value: 'nope-ink' },
      ]);
      await refusedPrivately('a style the user cannot use', await post(unknown.body), unknown.token, /no style named 'nope-ink' that you can use/);
      const sub = command('frobnicate');
      await refusedPrivately('an unknown subcommand', await post(sub.body), sub.token, /unknown subcommand 'frobnicate'/);
    });

    it("the rate limit's answer", async () => {
      const to = await endpoint({ limits: { ...backend.limits, userRate: new UserRateLimiter({ perMinute: 2 }) } });
      for (let i = 0; i < 2; i++) await post(command('help', [], 'rl').body, { to });
      const d = command('draw', [{ type: 3, name: 'prompt', value: 'cat' }], 'rl');
      await refusedPrivately('a draw over the rate limit', await post(d.body, { to }), d.token, /slow down: you can send 2 commands a minute/);
    });

    it("the queue caps, a foreign button press and a cancel of another's job; the accepted draw stays public", async () => {
      const executor = new FakeExecutor();
      const queue = new InProcessQueue({ executors: [executor] });
      try {
        const to = await endpoint({ queue });
        const draws = [1, 2, 3].map(() => command('draw', [{ type: 3, name: 'prompt', value: 'cat' }], 'capped'));
        for (const d of draws) expect(await (await post(d.body, { to })).json()).toEqual({ type: 5, data: { flags: 0 } });
        const fourth = command('draw', [{ type: 3, name: 'prompt', value: 'cat' }], 'capped');
        await refusedPrivately('a fourth draw over the per-user cap', await post(fourth.body, { to }), fourth.token, /you already have 3 draws in the queue/);
        const progress = await fake.waitFor((r) => r.method === 'PATCH' && r.path.includes(draws[0].token) && /⏳|⚙️/.test(String(r.json?.content)));
        const cancelId = (progress.json!.components as { components: { custom_id: string }[] }[])[0].components[0].custom_id;
        const jobId = cancelId.replace('ps:cancel:', '');
        const reroll = interaction(3, { custom_id: `ps:reroll:${jobId}`, component_type: 2 }, 'stranger');
        await refusedPrivately(
          'another user presses the reroll button',
          await post(reroll.body, { to }),
          reroll.token,
          /only the person who ran this command can use its buttons/,
        );
        const cancel = interaction(3, { custom_id: cancelId, component_type: 2 }, 'stranger');
        await refusedPrivately('another user presses the cancel button', await post(cancel.body, { to }), cancel.token, /that job is not yours to cancel/);
        expect(queue.get(jobId)?.status).toBe('running');
      } finally {
        await queue.close();
      }
    });

    it('a refusal known only after the public acknowledgment: an ephemeral follow-up, and the public placeholder deleted', async () => {
      // No time to check before acknowledging (deadline 0): the training is deferred publicly, then its
      // picture turns out not to be one.
      const to = await endpoint({ ackDeadlineMs: 0 });
      fake.cdn.set('not-a-picture.png', new TextEncoder().encode('hello, not a png'));
      const att = { id: 'n1', filename: 'not-a-picture.png', size: 16, url: `${fake.origin}/cdn/not-a-picture.png`, content_type: 'image/png' };
      const { token, body } = command(
        'train',
        [
          { type: 11, name: 'content', value: 'n1' },
          { type: 11, name: 'style', value: 'n1' },
          { type: 3, name: 'name', value: 'late-refusal' },
        ],
        'late',
        { attachments: { n1: att } },
      );
      expect(await (await post(body, { to })).json()).toEqual({ type: 5, data: { flags: 0 } });
      const followUp = await fake.waitFor((r) => r.method === 'POST' && r.path === `/webhooks/app1/${token}`);
      expect(followUp.json).toMatchObject({ content: expect.stringMatching(/^⚠️ the content file 'not-a-picture.png' /), flags: 64 });
      await fake.waitFor((r) => r.method === 'DELETE' && r.path === `/webhooks/app1/${token}/messages/@original`);
      expect(fake.requests.some((r) => r.method === 'PATCH' && r.path.includes(token))).toBe(false);
    });
  });

  it('posts the result to the channel with the bot token once the interaction token has expired', async () => {
    const { body } = command('draw', [{ type: 3, name: 'prompt', value: 'late dog' }], 'u2');
    await post(body, { to: lateUrl });
    const msg = await fake.waitFor((r) => r.method === 'POST' && r.path === '/channels/c1/messages');
    expect(msg.auth).toBe('Bot bot-token');
    expect(msg.json?.content).toMatch(/^<@u2> .*'late dog'/);
    expect(msg.files).toHaveLength(1);
  });
});
