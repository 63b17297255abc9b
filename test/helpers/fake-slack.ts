/**
 * A loopback fake of the Slack Web API (127.0.0.1 only) for a real Bolt App: records calls (form or JSON
 * bodies), answers auth.test, chat.postMessage/update, files.getUploadURLExternal (an absolute loopback
 * upload URL) / completeUploadExternal, files.list/info, users.info, conversations.open; response_url
 * posts at /respond/*; a file host at /files/<name> that demands the bot token.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  body: Record<string, unknown>;
  auth?: string;
  bytes?: number;
}

export class FakeSlack {
  readonly calls: SlackCall[] = [];
  readonly files = new Map<string, { bytes: Uint8Array; user: string; created: number; mimetype: string }>();
  admins = new Set<string>();
  port = 0;
  private server!: Server;
  private waiters: { pred: (c: SlackCall) => boolean; resolve: (c: SlackCall) => void }[] = [];
  private uploads = 0;

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  get apiUrl() {
    return `${this.origin}/api/`;
  }

  async start(botToken: string): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url!, this.origin);
      const send = (data: unknown, status = 200) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(data));
      };
      if (url.pathname.startsWith('/files/')) {
        const f = this.files.get(url.pathname.slice(7));
        if (req.headers.authorization !== `Bearer ${botToken}`) return void res.writeHead(403).end();
        if (!f) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-type': f.mimetype, 'content-length': f.bytes.length });
        return void res.end(f.bytes);
      }
      let body: Record<string, unknown> = {};
      const type = req.headers['content-type'] ?? '';
      if (type.includes('json')) body = raw.length ? JSON.parse(raw.toString()) : {};
      else if (type.includes('x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(raw.toString()));
      const method = url.pathname.replace(/^\/(api\/)?/, '');
      const call: SlackCall = { method, body, auth: req.headers.authorization, bytes: raw.length };
      this.calls.push(call);
      this.waiters = this.waiters.filter((w) => (w.pred(call) ? (w.resolve(call), false) : true));
      const fileOf = (name: string) => {
        const f = this.files.get(name)!;
        return { id: name, name, size: f.bytes.length, mimetype: f.mimetype, created: f.created, url_private_download: `${this.origin}/files/${name}` };
      };
      switch (method) {
        case 'auth.test':
          return send({ ok: true, user_id: 'UBOT', team_id: 'T1', bot_id: 'B1' });
        case 'chat.postMessage':
          return send({ ok: true, channel: body.channel, ts: `1700000000.${String(this.calls.length).padStart(6, '0')}` });
        case 'chat.update':
          return send({ ok: true, channel: body.channel, ts: body.ts });
        case 'files.getUploadURLExternal':
          return send({ ok: true, upload_url: `${this.origin}/upload/${++this.uploads}`, file_id: `FUP${this.uploads}` });
        case 'files.completeUploadExternal':
          return send({ ok: true, files: JSON.parse(String(body.files)).map((f: { id: string }) => ({ id: f.id })) });
        case 'files.list':
          return send({ ok: true, files: [...this.files].filter(([, f]) => f.user === body.user).map(([n]) => fileOf(n)) });
        case 'files.info':
          return this.files.has(String(body.file)) ? send({ ok: true, file: fileOf(String(body.file)) }) : send({ ok: false, error: 'file_not_found' });
        case 'users.info':
          return send({ ok: true, user: { id: body.user, is_admin: this.admins.has(String(body.user)) } });
        case 'conversations.open':
          return send({ ok: true, channel: { id: 'D1' } });
        default:
          if (method.startsWith('upload/') || url.pathname.startsWith('/upload/') || url.pathname.startsWith('/respond/')) return void res.writeHead(200).end('OK');
          return send({ ok: false, error: 'unknown_method' });
      }
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  waitFor(pred: (c: SlackCall) => boolean, ms = 10_000): Promise<SlackCall> {
    const hit = this.calls.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`fake Slack: no matching call within ${ms} ms; got ${this.calls.map((c) => c.method).join(', ')}`)), ms);
      this.waiters.push({ pred, resolve: (c) => (clearTimeout(t), resolve(c)) });
    });
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
