/**
 * A loopback fake of the Discord REST API (127.0.0.1 only) for the real discord.js / @discordjs/rest
 * clients: records every request (JSON or multipart: payload_json + file names/sizes), answers
 * interaction callbacks, webhook edits/follow-ups, channel messages, command registration, and serves
 * a fake CDN at /cdn/<name>. `failWebhooks` makes webhook edits answer 404 Unknown Webhook.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  query: string;
  auth?: string;
  json?: Record<string, unknown>;
  files: { field: string; name: string; size: number; data: Uint8Array }[];
}

export class FakeDiscord {
  readonly requests: Recorded[] = [];
  readonly cdn = new Map<string, Uint8Array>();
  failWebhooks = false;
  private server!: Server;
  port = 0;
  private waiters: { pred: (r: Recorded) => boolean; resolve: (r: Recorded) => void }[] = [];

  get api(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  /** A resolved attachment of an interaction, as Discord sends it, for the file `name` this fake's CDN serves. */
  attachment(id: string, name: string) {
    return { id, filename: name, size: this.cdn.get(name)!.length, url: `${this.origin}/cdn/${name}`, content_type: 'image/png' };
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const url = new URL(req.url!, this.origin);
      if (url.pathname.startsWith('/cdn/')) {
        const f = this.cdn.get(url.pathname.slice(5));
        if (!f) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': f.length });
        return void res.end(f);
      }
      const rec: Recorded = {
        method: req.method!,
        path: decodeURIComponent(url.pathname).replace(/^\/api\/v10/, ''),
        query: url.search,
        auth: req.headers.authorization,
        files: [],
      };
      const type = req.headers['content-type'] ?? '';
      if (type.startsWith('multipart/form-data')) {
        const form = await new Response(body, { headers: { 'content-type': type } }).formData();
        for (const [field, v] of form.entries()) {
          if (typeof v === 'string') {
            if (field === 'payload_json') rec.json = JSON.parse(v);
          } else rec.files.push({ field, name: v.name, size: v.size, data: new Uint8Array(await v.arrayBuffer()) });
        }
      } else if (body.length) rec.json = JSON.parse(body.toString('utf8'));
      this.requests.push(rec);
      this.waiters = this.waiters.filter((w) => (w.pred(rec) ? (w.resolve(rec), false) : true));
      const send = (status: number, data?: unknown) => {
        if (data === undefined) return void res.writeHead(status).end();
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(data));
      };
      if (/^\/interactions\/[^/]+\/[^/]+\/callback$/.test(rec.path)) return send(204);
      if (/^\/webhooks\//.test(rec.path)) {
        if (this.failWebhooks) return send(404, { message: 'Unknown Webhook', code: 10015 });
        return send(200, this.message(rec));
      }
      if (/^\/channels\/[^/]+\/messages$/.test(rec.path)) return send(200, this.message(rec));
      if (/^\/applications\/.*\/commands$/.test(rec.path)) return send(200, rec.json);
      send(404, { message: 'Unknown route in the fake', code: 0 });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private message(rec: Recorded) {
    return botMessage(
      String(1000 + this.requests.length),
      (rec.json?.content as string) ?? '',
      rec.files.map((f, i) => ({ id: String(i), filename: f.name, size: f.size, url: `${this.origin}/cdn/${f.name}`, proxy_url: '' })),
    );
  }

  /** The first recorded request matching `pred` (waits for it, up to `ms`). */
  waitFor(pred: (r: Recorded) => boolean, ms = 10_000): Promise<Recorded> {
    const hit = this.requests.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`fake Discord: no matching request within ${ms} ms; got ${this.requests.map((r) => `${r.method} ${r.path}`).join(', ')}`)),
        ms,
      );
      this.waiters.push({ pred, resolve: (r) => (clearTimeout(t), resolve(r)) });
    });
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A message the bot (application app1) posted in channel c1, as Discord's API returns it. */
export function botMessage(id: string, content: string, attachments: unknown[] = []) {
  return {
    id,
    channel_id: 'c1',
    type: 0,
    content,
    author: { id: 'app1', username: 'pairstyle', discriminator: '0000', avatar: null, bot: true, global_name: null },
    attachments,
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
}
