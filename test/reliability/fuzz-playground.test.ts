/**
 * Fuzzing of the playground's form posts over HTTP. Valid multipart/form-data,
 * urlencoded and JSON command posts (built by the platform's own FormData, with real pictures) are
 * mutated (boundaries, part headers, line ends, cuts, random bytes, content types) and sent to the real
 * playground server on 127.0.0.1 (real commands, registry and in-process queue, fake executor). No
 * request may crash the server or hang: every answer is 200 with the command and a reply, or a 4xx with
 * a clear error message; never a 500. Seeded (fixture.ts fuzzSeed). The Origin header is left alone
 * here: its handling is tested with the playground's cross-site request tests.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlayground } from '../../src/bot/playground/server.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';
import { backend, fuzzCount, fuzzSeed, fuzzTimeout, png, seeded, type Seeded } from './fixture.ts';
import { isClearMessage, reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
let server: Server;
let url: string;
let pageToken = '';
let picture: Uint8Array<ArrayBuffer>;

beforeAll(async () => {
  const b = await backend({ executor: new FakeExecutor({ auto: true }) });
  const started = await startPlayground({ registry: b.registry, queue: b.queue, limits: { ...b.limits, maxUploadBytes: 64_000 }, log: () => {} }, 0);
  server = started.server;
  url = started.url.replace(/\/?$/, '/');
  // The page's request token: posts without it are refused as cross-site before they are parsed.
  pageToken = /<meta name="pairstyle-token" content="([^"]+)">/.exec(await (await fetch(url)).text())?.[1] ?? '';
  picture = new Uint8Array(await png(32, 32));
});
afterAll(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

const LINES = [
  'draw cat face strength:3 seed:7',
  'train name:ink subject:"cat face"',
  'list',
  'help',
  'blend ink crayon',
  'delete ink',
  'draw “quoted” steps:12',
  'status',
];

/** A valid command post as a browser sends it: its body bytes and content type. */
async function validPost(r: Seeded): Promise<{ body: Uint8Array; type: string }> {
  const kind = r.int(0, 3);
  if (kind === 3)
    return {
      body: new TextEncoder().encode(
        JSON.stringify(
          r.chance(0.5) ? { text: r.pick(LINES) } : { subcommand: r.pick(['draw', 'train', 'list']), options: { prompt: 'cat', name: 'ink', steps: 3 } },
        ),
      ),
      type: 'application/json',
    };
  if (kind === 2) return { body: new TextEncoder().encode(new URLSearchParams({ text: r.pick(LINES) }).toString()), type: 'application/x-www-form-urlencoded' };
  const form = new FormData();
  if (kind === 0) form.set('text', r.pick(LINES));
  else {
    form.set('subcommand', 'train');
    form.set('name', 'ink');
    form.set('content', new Blob([picture], { type: 'image/png' }), 'a.png');
    form.set('style', new Blob([picture], { type: 'image/png' }), 'b.png');
  }
  const req = new Request('http://playground/', { method: 'POST', body: form });
  return { body: new Uint8Array(await req.arrayBuffer()), type: req.headers.get('content-type')! };
}

const ALPHABET = [
  '\r\n',
  '\n',
  '--',
  '"',
  ';',
  ':',
  '=',
  'Content-Disposition: form-data; name="text"',
  'filename="x.png"',
  '\u0000',
  'é',
  '\r\n\r\n',
  ' ',
  'boundary=',
];

function mutate(r: Seeded, post: { body: Uint8Array; type: string }): { body: Uint8Array; type: string; how: string } {
  let text = Buffer.from(post.body).toString('latin1');
  let type = post.type;
  const hows: string[] = [];
  for (let k = r.int(1, 3); k > 0; k--) {
    const at = r.int(0, text.length);
    switch (r.int(0, 6)) {
      case 0:
        text = text.slice(0, at) + r.pick(ALPHABET) + text.slice(at);
        hows.push(`inserted at ${at}`);
        break;
      case 1:
        text = text.slice(0, at) + text.slice(at + r.int(1, 40));
        hows.push(`cut at ${at}`);
        break;
      case 2:
        text = text.slice(0, at);
        hows.push(`truncated at ${at}`);
        break;
      case 3:
        text = text.replace(/\r\n/g, r.pick(['\n', '\r', '']));
        hows.push('line ends changed');
        break;
      case 4:
        type = r.pick([
          'multipart/form-data',
          'multipart/form-data; boundary=',
          `multipart/form-data; boundary=${'x'.repeat(200)}`,
          'multipart/form-data; boundary="unterminated',
          'application/json',
          'application/x-www-form-urlencoded',
          'text/plain',
          '',
          'multipart/mixed; boundary=a',
          type.toUpperCase(),
          `${type}; charset=utf-16`,
        ]);
        hows.push(`content type '${type.slice(0, 40)}'`);
        break;
      case 5:
        text = text.slice(0, at) + Buffer.from(r.bytes(r.int(1, 64))).toString('latin1') + text.slice(at);
        hows.push(`random bytes at ${at}`);
        break;
      default:
        text = text.replace(/name="(\w+)"/, `name="${r.pick(['', 'text', 'content', 'style', '__proto__', 'x'.repeat(300)])}"`);
        hows.push('a part renamed');
    }
  }
  return { body: new Uint8Array(Buffer.from(text, 'latin1')), type, how: hows.join(', ') };
}

describe('playground form post fuzzing', () => {
  it('mutated multipart, urlencoded and JSON command posts to POST /api/command', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(401);
    const r = seeded(seed);
    const n = fuzzCount(120);
    const counts = { ok: 0, refused: 0 };
    const failures: string[] = [];
    for (let i = 0; i < n; i++) {
      const m = mutate(r, await validPost(r));
      const headers: Record<string, string> = { 'x-pairstyle-token': pageToken, ...(m.type ? { 'content-type': m.type } : {}) };
      let status = 0;
      let answer: { error?: unknown; reply?: unknown } = {};
      try {
        const res = await fetch(`${url}api/command`, { method: 'POST', body: m.body, headers, signal: AbortSignal.timeout(15_000) });
        status = res.status;
        answer = (await res.json()) as typeof answer;
      } catch (e) {
        failures.push(`no answer (${(e as Error).message}) <- ${m.how}, i=${i}`);
        continue;
      }
      if (status === 200 && answer.reply) counts.ok++;
      else if (status >= 400 && status < 500 && isClearMessage(answer.error)) counts.refused++;
      else failures.push(`${status} ${JSON.stringify(answer).slice(0, 200)} <- ${m.how}, i=${i}`);
    }
    report.row({
      section: 'Fuzzing',
      case: `${n} mutated command posts (multipart, urlencoded, JSON: boundaries, part headers, line ends, cuts, random bytes, content types) to the playground over HTTP (seed ${seed})`,
      expected: 'every answer a 200 with a reply or a 4xx with a clear message; no 500, no hang',
      result: `${n} sent: ${counts.ok} answered, ${counts.refused} refused with a clear message, ${failures.length} otherwise${failures.length ? `: ${failures[0]}` : ''}`,
      pass: failures.length === 0,
    });
    expect(failures, failures.slice(0, 5).join('\n')).toEqual([]);
    // Some posts must get through: a fuzzer whose every request is turned away at the door tests nothing.
    expect(counts.ok).toBeGreaterThan(n / 10);
  });
});
