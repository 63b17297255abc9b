/** Attachment downloads: platform hosts only, no redirects, size caps before and during the download. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchCapped } from '../../src/bot/fetch-capped.ts';

let server: Server;
let origin = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok') return void res.end(Buffer.alloc(100, 1));
    if (req.url === '/redirect') return void res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
    if (req.url === '/big-declared') return void res.writeHead(200, { 'content-length': 10_000 }).end(Buffer.alloc(10_000));
    if (req.url === '/big-chunked') {
      res.writeHead(200);
      for (let i = 0; i < 20; i++) res.write(Buffer.alloc(1000));
      return void res.end();
    }
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 2000);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const opts = (extra = {}) => ({ hosts: ['cdn.discordapp.com'], maxBytes: 5000, allowInsecureOrigins: [origin], ...extra });

describe('fetchCapped', () => {
  it('reads an allowed file', async () => {
    expect((await fetchCapped(`${origin}/ok`, opts())).length).toBe(100);
  });
  it('refuses other hosts, plain http, redirects, oversize files and slow hosts', async () => {
    await expect(fetchCapped('https://example.com/x.png', opts())).rejects.toThrow(/only read from cdn.discordapp.com/);
    await expect(fetchCapped('http://cdn.discordapp.com/x.png', opts())).rejects.toThrow(/only read from/);
    await expect(fetchCapped('https://cdn.discordapp.com.evil.net/x.png', opts())).rejects.toThrow(/only read from/);
    await expect(fetchCapped('file:///etc/passwd', opts())).rejects.toThrow(/only read from/);
    await expect(fetchCapped(`${origin}/redirect`, opts())).rejects.toThrow(/redirect/);
    await expect(fetchCapped(`${origin}/big-declared`, opts())).rejects.toThrow(/limit is/);
    await expect(fetchCapped(`${origin}/big-chunked`, opts())).rejects.toThrow(/larger than/);
    await expect(fetchCapped(`${origin}/slow`, opts({ timeoutMs: 200 }))).rejects.toThrow(/timed out/);
  });
});
