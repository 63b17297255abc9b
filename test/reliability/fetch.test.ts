/**
 * Fetching: attachments are fetched only from the platform's own file hosts (https, default
 * port), without following redirects, with the size capped before (Content-Length) and during the
 * download (also after decompression), and with a timeout; never from an arbitrary URL. The platform
 * readers (Discord attachments, Slack files with the bot token) go through the same fetch, and the
 * Slack token is never sent anywhere else. Loopback servers on 127.0.0.1 only; every case is bounded.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUserError } from '../../commands/index.ts';
import { readImageUpload } from '../../commands/attachments.ts';
import { discordAttachment } from '../../src/bot/discord/attachments.ts';
import { fetchCapped } from '../../src/bot/fetch-capped.ts';
import { slackAttachments } from '../../src/bot/slack/files.ts';
import { train } from '../../commands/train.ts';
import type { Attachment } from '../../commands/types.ts';
import { png } from './fixture.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
let server: Server;
let origin = '';
const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
let picture: Uint8Array;
const timers = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  picture = await png(32, 32);
  const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024));
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const url = req.url ?? '';
    if (url === '/ok.png') return void res.writeHead(200, { 'content-type': 'image/png', 'content-length': picture.length }).end(picture);
    if (url === '/redirect-away') return void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    if (url === '/redirect-same') return void res.writeHead(301, { location: '/ok.png' }).end();
    if (url === '/big-declared') return void res.writeHead(200, { 'content-length': 20_000 }).end(Buffer.alloc(20_000));
    if (url === '/big-chunked') {
      res.writeHead(200);
      for (let i = 0; i < 40; i++) res.write(Buffer.alloc(1000));
      return void res.end();
    }
    if (url === '/gzip-bomb') return void res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': bomb.length }).end(bomb);
    if (url === '/slow-headers') {
      const t = setTimeout(() => res.end('late'), 10_000);
      timers.add(t);
      return;
    }
    if (url === '/slow-body') {
      res.writeHead(200);
      const t = setInterval(() => res.write('x'), 50);
      timers.add(t);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (url === '/error') return void res.writeHead(500).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const t of timers) clearTimeout(t);
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const HOSTS = ['cdn.discordapp.com', 'media.discordapp.net'];
const opts = (extra: Record<string, unknown> = {}) => ({ hosts: HOSTS, maxBytes: 5000, timeoutMs: 5000, allowInsecureOrigins: [origin], ...extra });
const isFetchRefusal = (e: unknown) => (e as Error)?.name === 'AttachmentFetchError' || isUserError(e);

async function refusedFetch(what: string, url: string, expected: RegExp, extra: Record<string, unknown> = {}) {
  const before = seen.length;
  const t0 = performance.now();
  await report.refused('Fetching attachments', what, () => fetchCapped(url, opts(extra)), expected, { isUserError: isFetchRefusal });
  expect(performance.now() - t0, `${what}: took too long`).toBeLessThan(3000);
  return seen.length - before;
}

describe('fetchCapped', () => {
  it('reads an allowed file', async () => {
    const got = await fetchCapped(`${origin}/ok.png`, opts());
    report.row({
      section: 'Fetching attachments',
      case: 'a 32x32 PNG on an allowed host',
      expected: 'downloaded',
      result: `${got.length} bytes`,
      pass: got.length === picture.length,
    });
    expect(got.length).toBe(picture.length);
  });

  it('refuses any URL off the platform hosts without connecting anywhere', async () => {
    const cases: [string, string][] = [
      ['another https host', 'https://example.com/x.png'],
      ['plain http on a platform host', 'http://cdn.discordapp.com/x.png'],
      ['a platform host as a prefix of another domain', 'https://cdn.discordapp.com.evil.example/x.png'],
      ['a platform host as the user part of a URL', 'https://cdn.discordapp.com@evil.example/x.png'],
      ['a platform host in the fragment', 'https://evil.example/#@cdn.discordapp.com'],
      ['credentials in the URL', 'https://user:pass@cdn.discordapp.com/x.png'],
      ['a platform host on another port', 'https://cdn.discordapp.com:8443/x.png'],
      ['a cloud metadata address', 'http://169.254.169.254/latest/meta-data/'],
      ['a loopback IP over https', 'https://127.0.0.1/x.png'],
      ['an IPv6 loopback', 'https://[::1]/x.png'],
      ['a file: URL', 'file:///etc/passwd'],
      ['a data: URL', 'data:image/png;base64,iVBORw0KGgo='],
      ['a javascript: URL', 'javascript:alert(1)'],
    ];
    for (const [what, url] of cases) {
      const requests = await refusedFetch(what, url, /files are only read from cdn\.discordapp\.com, media\.discordapp\.net/);
      expect(requests).toBe(0);
    }
    await refusedFetch('text that is not a URL', 'not a url at all', /the file link is not a URL/);
  });

  it('follows no redirect, caps the size before, during and after decompression, and times out', async () => {
    await refusedFetch('a redirect to a cloud metadata address', `${origin}/redirect-away`, /answered with a redirect, which is not followed/);
    await refusedFetch('a redirect to the same host', `${origin}/redirect-same`, /answered with a redirect/);
    await refusedFetch(
      'Content-Length 20,000 over a 5,000-byte cap (refused before reading)',
      `${origin}/big-declared`,
      /the file is 20 KB; the limit is 5 KB/,
    );
    await refusedFetch('40,000 bytes without Content-Length over a 5,000-byte cap', `${origin}/big-chunked`, /the file is larger than/);
    await refusedFetch('a gzip bomb: 20 KB on the wire, 20 MB decompressed', `${origin}/gzip-bomb`, /the file is larger than/, { maxBytes: 1_000_000 });
    await refusedFetch('a host that sends no answer for 10 s (timeout 1 s)', `${origin}/slow-headers`, /the download timed out/, { timeoutMs: 1000 });
    await refusedFetch('a host that drips one byte every 50 ms (timeout 1 s)', `${origin}/slow-body`, /the download timed out/, {
      maxBytes: 1_000_000,
      timeoutMs: 1000,
    });
    await refusedFetch('a host answering 500', `${origin}/error`, /the file host answered 500/);
  });
});

describe('platform readers', () => {
  it('Discord: attachment URLs are read from the Discord CDN only, the size cap applies, the picture is checked', async () => {
    const offHost = discordAttachment({ filename: 'x.png', size: 100, url: 'https://evil.example/x.png', content_type: 'image/png' });
    await report.refused(
      'Fetching attachments',
      'a Discord attachment whose URL is not on the Discord CDN',
      () => readImageUpload(offHost, 'content', 8 << 20),
      /could not download the content image 'x\.png': files are only read from cdn\.discordapp\.com/,
    );
    const loop = { allowInsecureOrigins: [origin] };
    const big = discordAttachment({ filename: 'big.png', size: 100, url: `${origin}/big-chunked`, content_type: 'image/png' }, loop);
    await report.refused(
      'Fetching attachments',
      'a Discord attachment announced as 100 bytes that streams 40,000 (cap 5,000)',
      () => readImageUpload(big, 'style', 5000),
      /could not download the style image 'big\.png': the file is larger than/,
    );
    const ok = discordAttachment({ filename: 'ok.png', size: picture.length, url: `${origin}/ok.png`, content_type: 'image/png' }, loop);
    const up = await readImageUpload(ok, 'content', 8 << 20);
    report.row({
      section: 'Fetching attachments',
      case: 'a Discord attachment on the (loopback) CDN',
      expected: 'downloaded and checked',
      result: `${up.check.format} ${up.check.width}x${up.check.height}`,
      pass: up.check.width === 32,
    });
  });

  it("Slack: files come from files.slack.com with the bot token, only the asking user's own uploads, and the token goes nowhere else", async () => {
    const files: Record<string, Record<string, unknown>> = {
      FMINE0001: { id: 'FMINE0001', name: 'a.png', user: 'U1', size: picture.length, mimetype: 'image/png', url_private_download: `${origin}/ok.png` },
      FMINE0002: {
        id: 'FMINE0002',
        name: 'b.png',
        user: 'U1',
        size: picture.length,
        mimetype: 'image/png',
        url_private_download: 'https://evil.example/b.png',
      },
      FOTHER001: { id: 'FOTHER001', name: 'secret.png', user: 'U2', size: picture.length, mimetype: 'image/png', url_private_download: `${origin}/ok.png` },
    };
    const client = {
      files: {
        info: async ({ file }: { file: string }) => {
          if (!files[file]) throw Object.assign(new Error('An API error occurred: file_not_found'), { data: { ok: false, error: 'file_not_found' } });
          return { ok: true, file: files[file] };
        },
        list: async () => ({ ok: true, files: [] }),
      },
    };
    const access = { botToken: 'xoxb-secret', allowInsecureOrigins: [origin] };
    const where = { channel: 'C1', user: 'U1' };
    const attachments = (ids: Record<string, string>) => slackAttachments(client as never, access, where, train, ids);
    const pair = async (content: string, style: string) => (await attachments({ content, style })) as { content: Attachment; style: Attachment };
    await report.refused(
      'Fetching attachments',
      "Slack: a file id of another user's upload (the bot could read it)",
      () => pair('FMINE0001', 'FOTHER001'),
      /the style file FOTHER001 was not shared by you/,
    );
    await report.refused('Fetching attachments', 'Slack: a file id that does not exist', () => pair('FMINE0001', 'FNOPE0001'), /Slack cannot find that file/);
    await report.refused(
      'Fetching attachments',
      'Slack: something that is not a file id',
      () => pair('FMINE0001', '../../etc/passwd'),
      /'style' must be a Slack file id like F0123ABCD/,
    );
    await report.refused(
      'Fetching attachments',
      'Slack: only one of the two file ids',
      () => attachments({ content: 'FMINE0001' }),
      /give both content:<file id> and style:<file id>, or neither/,
    );
    await report.refused('Fetching attachments', 'Slack: no images shared in the channel yet', () => attachments({}), /share two images in this channel first/);
    const before = seen.length;
    const { content, style } = await pair('FMINE0001', 'FMINE0002');
    await report.refused(
      'Fetching attachments',
      'Slack: a file whose download URL is not on files.slack.com',
      () => readImageUpload(style, 'style', 8 << 20),
      /could not download the style image 'b\.png': files are only read from files\.slack\.com/,
    );
    const up = await readImageUpload(content, 'content', 8 << 20);
    const requests = seen.slice(before);
    const pass = up.check.width === 32 && requests.length === 1 && requests[0].headers.authorization === 'Bearer xoxb-secret';
    report.row({
      section: 'Fetching attachments',
      case: "Slack: the user's own upload on the (loopback) file host",
      expected: 'downloaded with the bot token; the token sent to that host only',
      result: `${requests.length} request, with the token: ${requests[0]?.headers.authorization === 'Bearer xoxb-secret'}; picture ${up.check.width}x${up.check.height}`,
      pass,
    });
    expect(pass).toBe(true);
  });
});
