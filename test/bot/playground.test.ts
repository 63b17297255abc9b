/**
 * The local playground over HTTP on a tiny random model folder: config with no platform -> startBot
 * serves the playground (SQLite registry, in-process queue, engine thread). Train from two uploaded
 * files, draw from a typed command line following its progress over Server-Sent Events, fetch the
 * images, press a button, export; errors come back as readable chat replies.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBotConfig } from '../../config/bot.ts';
import { startBot } from '../../src/bot/main.ts';
import { PLAYGROUND_SCOPE, type PlaygroundMessage } from '../../src/bot/playground/server.ts';
import { decodeStyle } from '../../src/pair/style-file.ts';
import { pngOf } from '../helpers/bot-fixture.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';
import { reliabilityReport } from '../reliability/report.ts';

const report = reliabilityReport(import.meta.url);

let bot: Awaited<ReturnType<typeof startBot>>;
let base: string;
let events = new AbortController();
/** Every message state seen on /api/events, in order. */
const seen: PlaygroundMessage[] = [];
const wake: (() => void)[] = [];
/** The request token the page carries (sent by its own script with every POST). */
let pageToken = '';
const tokenHeader = () => ({ 'x-pairstyle-token': pageToken });

async function readEvents() {
  const decoder = new TextDecoder();
  let buf = '';
  try {
    const res = await fetch(`${base}api/events`, { signal: events.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = /^data: (.*)$/m.exec(block);
        if (/^event: message$/m.test(block) && data) seen.push(JSON.parse(data[1]) as PlaygroundMessage);
      }
      for (const w of wake.splice(0)) w();
    }
  } catch {
    // aborted at the end
  }
}

async function until(pred: (m: PlaygroundMessage) => boolean, timeoutMs = 20_000): Promise<PlaygroundMessage> {
  const t0 = Date.now();
  for (;;) {
    const m = seen.find(pred);
    if (m) return m;
    if (Date.now() - t0 > timeoutMs) throw new Error(`no such message within ${timeoutMs} ms; seen: ${seen.map((s) => s.text).join(' | ')}`);
    await new Promise<void>((r) => {
      wake.push(r);
      setTimeout(r, 200);
    });
  }
}

async function command(body: FormData | Record<string, unknown>): Promise<{ command: PlaygroundMessage; reply: PlaygroundMessage }> {
  const res = await fetch(
    `${base}api/command`,
    body instanceof FormData
      ? { method: 'POST', body, headers: tokenHeader() }
      : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...tokenHeader() } },
  );
  expect(res.status).toBe(200);
  return (await res.json()) as { command: PlaygroundMessage; reply: PlaygroundMessage };
}

/** Runs a command and waits for its reply to be final (through the SSE stream). */
async function final(body: FormData | Record<string, unknown>): Promise<PlaygroundMessage> {
  const { reply } = await command(body);
  return reply.final ? reply : until((m) => m.id === reply.id && m.final);
}

const line = (text: string) => {
  const f = new FormData();
  f.set('text', text);
  return f;
};

async function fetchBytes(url: string): Promise<{ type: string | null; bytes: Uint8Array }> {
  const res = await fetch(new URL(url, base));
  expect(res.status).toBe(200);
  return { type: res.headers.get('content-type'), bytes: new Uint8Array(await res.arrayBuffer()) };
}

const storeUrl = `sqlite://${join(mkdtempSync(join(tmpdir(), 'pairstyle-pg-')), 'pg.sqlite')}`;

/** Starts the playground on `model` and the test's store, and follows its events (a restart begins a new message list). */
async function startPlayground(model: string) {
  const env = {
    PAIRSTYLE_PORT: '0',
    PAIRSTYLE_MAX_UPLOAD_MB: '1',
    PAIRSTYLE_COMMANDS_PER_MINUTE: '600',
    PAIRSTYLE_MODEL: model,
    PAIRSTYLE_STORE_URL: storeUrl,
  };
  const cfg = loadBotConfig(env);
  expect(cfg.discord ?? cfg.slack).toBeUndefined();
  bot = await startBot(cfg, { task: { sampleSteps: 2, previewEveryMs: 0 }, minEditIntervalMs: 0 });
  base = bot.playgroundUrl!;
  expect(base).toBe(`http://127.0.0.1:${bot.ports.playground}/`);
  pageToken = /<meta name="pairstyle-token" content="([^"]+)">/.exec(await (await fetch(base)).text())?.[1] ?? '';
  seen.length = 0;
  events = new AbortController();
  void readEvents();
}

beforeAll(async () => {
  await startPlayground(await writeTinyModelFolder());
});
afterAll(async () => {
  events.abort();
  await bot?.stop();
});

describe('the playground over HTTP (tiny model)', () => {
  it('serves the page and the command specs', async () => {
    const page = await fetch(base);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/PairStyle playground/);
    const { commands } = (await (await fetch(`${base}api/commands`)).json()) as { commands: { name: string; options: { name: string; type: string }[] }[] };
    expect(commands.map((c) => c.name)).toEqual([
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
    expect(commands[0].options.filter((o) => o.type === 'attachment').map((o) => o.name)).toEqual([
      'content',
      'style',
      'content2',
      'style2',
      'content3',
      'style3',
      'content4',
      'style4',
    ]);
  });

  it('trains from two uploaded files, draws following progress, presses a button, exports', async () => {
    const form = new FormData();
    form.set('subcommand', 'train');
    form.set('name', 'blue');
    form.set('steps', '10');
    form.set('content', new Blob([(await pngOf('#d22', 40, 30)) as Uint8Array<ArrayBuffer>], { type: 'image/png' }), 'before.png');
    form.set(
      'style',
      new Blob(
        [
          new Uint8Array(
            await sharp({ create: { width: 30, height: 30, channels: 3, background: '#22d' } })
              .jpeg()
              .toBuffer(),
          ),
        ],
        { type: 'image/jpeg' },
      ),
      'after.jpg',
    );
    const { command: echoed, reply: first } = await command(form);
    expect(echoed.text).toBe('/pairstyle train name:blue steps:10 content:📎before.png style:📎after.jpg');
    expect(first.final).toBe(false);
    const trained = await until((m) => m.id === first.id && m.final, 60_000);
    expect(trained.text).toMatch(/learned style \*\*blue\*\*/);
    expect(trained.images[0].name).toBe('blue-pair.png');
    const pair = await fetchBytes(trained.images[0].url);
    expect(pair.type).toBe('image/png');
    expect((await sharp(pair.bytes).metadata()).width).toBeGreaterThanOrEqual(512);

    const { reply } = await command(line('/pairstyle draw prompt:"cat face" steps:2 seed:1'));
    const drawn = await until((m) => m.id === reply.id && m.final);
    const states = seen.filter((m) => m.id === reply.id);
    expect(states.length).toBeGreaterThan(1);
    expect(states.slice(0, -1).every((s) => !s.final && /⏳|⚙️/.test(s.text) && s.buttons.some((b) => b.label === 'Cancel'))).toBe(true);
    expect(drawn.text).toMatch(/'cat face', style \*\*blue\*\* at strength 3, seed 1/);
    expect(drawn.images.map((i) => i.name)).toEqual(['styled.png']);
    const { messages } = (await (await fetch(`${base}api/messages`)).json()) as { messages: PlaygroundMessage[] };
    expect(messages.find((m) => m.id === reply.id)).toEqual(drawn);
    const img = await fetchBytes(drawn.images[0].url);
    expect(img.type).toBe('image/png');
    expect((await sharp(img.bytes).metadata()).format).toBe('png');

    const stronger = drawn.buttons.find((b) => b.label === 'Strength +')!;
    const pressed = (await (
      await fetch(`${base}api/button`, {
        method: 'POST',
        body: JSON.stringify({ id: stronger.id }),
        headers: { 'content-type': 'application/json', ...tokenHeader() },
      })
    ).json()) as { reply: PlaygroundMessage };
    expect((await until((m) => m.id === pressed.reply.id && m.final)).text).toMatch(/strength 4, seed 1/);

    const list = await final({ text: 'list' });
    expect(list.text).toMatch(/\*\*blue\*\*/);
    const exported = await final(line('export blue'));
    expect(exported.files[0].name).toBe('blue.safetensors');
    expect(decodeStyle((await fetchBytes(exported.files[0].url)).bytes).info.name).toBe('blue');
  });

  it('stylizes an uploaded picture in a style (picture | plain | styled, strength buttons); refuses no picture, a bad one, an unknown style', async () => {
    const form = new FormData();
    form.set('subcommand', 'stylize');
    form.set('style', 'blue');
    form.set('keep', '0.5');
    form.set('image', new Blob([(await pngOf('#dd2', 30, 30)) as Uint8Array<ArrayBuffer>], { type: 'image/png' }), 'mine.png');
    const { command: echoed, reply } = await command(form);
    expect(echoed.text).toBe('/pairstyle stylize style:blue keep:0.5 image:📎mine.png');
    const done = await until((m) => m.id === reply.id && m.final, 120_000);
    expect(done.text).toMatch(/'mine\.png' in style \*\*blue\*\* at strength 1\.5, keep 0\.5, 30 steps/);
    expect(done.images.map((i) => i.name)).toEqual(['stylized.png']);
    expect((await sharp((await fetchBytes(done.images[0].url)).bytes).metadata()).width).toBeGreaterThanOrEqual(3 * 256);
    expect(done.buttons.map((b) => b.label)).toEqual(['🔀 Vary', 'Strength −', 'Strength +']);
    // Vary: the same picture and settings denoised with another seed's noise, another real picture.
    const pressed = (await (
      await fetch(`${base}api/button`, {
        method: 'POST',
        body: JSON.stringify({ id: done.buttons[0].id }),
        headers: { 'content-type': 'application/json', ...tokenHeader() },
      })
    ).json()) as { reply: PlaygroundMessage };
    const varied = await until((m) => m.id === pressed.reply.id && m.final, 120_000);
    expect(varied.text).toMatch(/'mine\.png' in style \*\*blue\*\* at strength 1\.5, keep 0\.5, 30 steps, variation \d+ \(1\)/);
    const [before, after] = [(await fetchBytes(done.images[0].url)).bytes, (await fetchBytes(varied.images[0].url)).bytes];
    expect(Buffer.from(after).equals(Buffer.from(before))).toBe(false);

    expect((await final(line('stylize style:blue'))).text).toMatch(/'image' is required/);
    const bad = new FormData();
    bad.set('subcommand', 'stylize');
    bad.set('style', 'blue');
    bad.set('image', new Blob(['hello'], { type: 'image/png' }), 'notes.png');
    expect((await final(bad)).text).toMatch(/the picture file 'notes\.png' is not an image I can read/);
    const unknown = new FormData();
    unknown.set('subcommand', 'stylize');
    unknown.set('style', 'bleu');
    unknown.set('image', new Blob([(await pngOf('#dd2', 30, 30)) as Uint8Array<ArrayBuffer>], { type: 'image/png' }), 'mine.png');
    expect((await final(unknown)).text).toMatch(/no style named 'bleu'/);
  }, 180_000);

  it('trains one style from two uploaded pairs (content2/style2)', async () => {
    const form = new FormData();
    form.set('subcommand', 'train');
    form.set('name', 'duo');
    form.set('steps', '10');
    const png = async (c: string, name: string) => [new Blob([(await pngOf(c, 32, 32)) as Uint8Array<ArrayBuffer>], { type: 'image/png' }), name] as const;
    form.set('content', ...(await png('#d22', 'b1.png')));
    form.set('style', ...(await png('#22d', 'a1.png')));
    form.set('content2', ...(await png('#2d2', 'b2.png')));
    form.set('style2', ...(await png('#dd2', 'a2.png')));
    const { reply: first } = await command(form);
    const trained = await until((m) => m.id === first.id && m.final, 60_000);
    expect(trained.text).toMatch(/learned style \*\*duo\*\*/);
  });

  it('shows a preview of the drawing in its progress, replaced by the result', async () => {
    const { reply } = await command(line('/pairstyle draw prompt:"dog face" steps:12 seed:2'));
    const drawn = await until((m) => m.id === reply.id && m.final);
    const previews = seen.filter((m) => m.id === reply.id && !m.final && m.images.length > 0);
    expect(previews.length).toBeGreaterThan(0);
    for (const p of previews) {
      expect(p.text).toMatch(/^⚙️ drawing 'dog face'.*\(drawing\)/);
      expect(p.images.map((i) => i.name)).toEqual(['preview.png']);
    }
    expect(drawn.images.map((i) => i.name)).toEqual(['styled.png']);
  });

  it('answers mistakes with readable messages', async () => {
    const missing = await final(line('/pairstyle draw'));
    expect(missing).toMatchObject({ error: true, final: true });
    expect(missing.text).toMatch(/^⚠️ 'prompt' is required/);
    expect((await final(line('/pairstyle paint cat'))).text).toMatch(/unknown subcommand 'paint' \(try: train, draw/);
    expect((await final(line('draw cat face strength:11'))).text).toMatch(/'strength' must be a number from 0 to 10, got '11'/);
    expect((await final({ subcommand: 'draw', options: { prompt: 'cat', style: 'nope' } })).text).toMatch(/no style named 'nope'/);

    const notImage = new FormData();
    notImage.set('subcommand', 'train');
    notImage.set('name', 'bad');
    notImage.set('content', new Blob(['hello'], { type: 'image/png' }), 'a.png');
    notImage.set('style', new Blob(['world'], { type: 'image/png' }), 'b.png');
    expect((await final(notImage)).text).toMatch(/the content file 'a.png' is not an image I can read/);
    expect((await final(line('train name:x'))).text).toMatch(/'content' is required/);

    const big = new FormData();
    big.set('subcommand', 'train');
    big.set('name', 'big');
    big.set('content', new Blob([new Uint8Array(1_500_000)], { type: 'image/png' }), 'big.png');
    big.set('style', new Blob([(await pngOf('#22d')) as Uint8Array<ArrayBuffer>], { type: 'image/png' }), 'b.png');
    expect((await final(big)).text).toMatch(/the content image 'big.png' is 1.5 MB; the limit is 1.05 MB/);
    const huge = await fetch(`${base}api/command`, {
      method: 'POST',
      body: new Blob([new Uint8Array(3_200_000)]),
      headers: { 'content-type': 'multipart/form-data; boundary=x', ...tokenHeader() },
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: string }).error).toMatch(/the upload is 3.2 MB; the limit is 3.1 MB/);

    const foreign = await fetch(`${base}api/command`, { method: 'POST', body: line('list'), headers: { origin: 'https://evil.example', ...tokenHeader() } });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: string }).error).toMatch(/other sites/);
    const wrongType = await fetch(`${base}api/command`, { method: 'POST', body: 'list', headers: { 'content-type': 'text/plain', ...tokenHeader() } });
    expect(wrongType.status).toBe(415);
    expect((await fetch(`${base}api/files/9999/0`)).status).toBe(404);
  });

  it('refuses cross-site requests: Origin null, a plain form post, a malformed Origin, a missing or wrong token', async () => {
    // A style of the playground's user that the forged requests try to delete.
    await bot.registry.put(PLAYGROUND_SCOPE, 'kept', new Uint8Array([1, 2, 3]), {});
    const attack = async (what: string, init: RequestInit & { headers?: Record<string, string> }, path = 'api/command') => {
      const res = await fetch(`${base}${path}`, { method: 'POST', ...init });
      const body = (await res.json().catch(() => ({}))) as { error?: string };
      const pass = res.status === 403 && typeof body.error === 'string';
      report.row({
        section: 'Cross-site requests',
        case: what,
        expected: 'refused with 403 and a message; nothing runs',
        result: `${res.status}: ${body.error ?? '(no message)'}`,
        pass,
      });
      expect(res.status, what).toBe(403);
      expect(body.error).toMatch(/playground page|other sites|Origin/);
    };
    const form = () => new URLSearchParams({ text: '/pairstyle delete kept' });
    // What a page in a sandboxed iframe sends: a form post with Origin: null.
    await attack('a form post from a sandboxed iframe (Origin: null) deleting a style', { body: form(), headers: { origin: 'null' } });
    await attack('Origin: null with the right token', { body: form(), headers: { origin: 'null', ...tokenHeader() } });
    await attack('a plain form post with no Origin (an older browser) and no token', { body: form() });
    await attack('a multipart form post from this origin without the token', { body: line('delete kept'), headers: { origin: base.replace(/\/$/, '') } });
    await attack('a post with a wrong token', { body: form(), headers: { 'x-pairstyle-token': 'x'.repeat(32) } });
    await attack('a malformed Origin header (http://[)', { body: form(), headers: { origin: 'http://[', ...tokenHeader() } });
    await attack(
      'a button press without the token',
      { body: JSON.stringify({ id: 'ps:reroll:00000000-0000-0000-0000-000000000000' }), headers: { 'content-type': 'application/json' } },
      'api/button',
    );
    // Nothing ran: no message was posted, and the style is still there.
    expect(seen.filter((m) => m.from === 'you' && /delete|reroll/.test(m.text))).toEqual([]);
    expect(await bot.registry.has(PLAYGROUND_SCOPE, 'kept')).toBe(true);
    // The page carries a fresh token per server, and its own script sends it.
    expect(pageToken).toMatch(/^[\w-]{32,}$/);
    const page = await (await fetch(base)).text();
    expect(page).toMatch(/'x-pairstyle-token'/);
  });

  it('after its operator changes the model, a style of the old one is refused with /pairstyle retrain named, and retrain makes it draw again', async () => {
    // 'blue' was trained on the first model (the first test); the bot restarts on another model, on the same store.
    events.abort();
    await bot.stop();
    await startPlayground(await writeTinyModelFolder(undefined, 1));
    const draw = line('/pairstyle draw prompt:"cat face" style:blue steps:2 seed:1');
    expect((await final(draw)).text).toMatch(
      /style 'blue' was trained on another model \(tiny-test [0-9a-f]{12}\), not on the loaded tiny-test [0-9a-f]{12}: train it again on this model: its owner can run \/pairstyle retrain blue/,
    );
    const { reply } = await command(line('/pairstyle retrain blue'));
    const retrained = await until((m) => m.id === reply.id && m.final, 60_000);
    expect(retrained.text).toMatch(/learned style \*\*blue\*\*[\s\S]*trained again from the pictures kept with it/);
    expect((await final(draw)).text).toMatch(/'cat face', style \*\*blue\*\* at strength 3, seed 1/);
    // A style the store has no pictures for, refused with what to do instead.
    await bot.registry.put(PLAYGROUND_SCOPE, 'bare', new Uint8Array([1]), {});
    expect((await final(line('/pairstyle retrain bare'))).text).toMatch(/'bare' is stored without the pictures it was trained from/);
  }, 120_000);
});
