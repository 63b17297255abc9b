/**
 * A loopback fake of the Slack Web API (127.0.0.1 only) for a real Bolt App: records calls (form or JSON
 * bodies), answers auth.test, chat.postMessage/update, files.getUploadURLExternal (an absolute loopback
 * upload URL) / completeUploadExternal, files.list/info, users.info, conversations.open; response_url
 * posts at /respond/*; a file host at /files/<name> that demands the bot token.
 * Socket Mode: apps.connections.open (app token) answers a ws://127.0.0.1:<port>/socket?ticket=… URL
 * served by a `ws` WebSocket server on the same port; the test speaks for Slack on the connected
 * socket (hello, envelopes) and reads what the client sent back (acks with envelope_id).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

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
  /** Users' locales as users.info reports them with include_locale (e.g. 'fr-FR'); others have none. */
  locales = new Map<string, string>();
  port = 0;
  private server!: Server;
  private waiters: { pred: (c: SlackCall) => boolean; resolve: (c: SlackCall) => void }[] = [];
  private uploads = 0;
  /** Socket Mode: sockets the client opened (newest last) and the JSON messages it sent on them. */
  readonly sockets: WebSocket[] = [];
  readonly socketMessages: Record<string, unknown>[] = [];
  private wss?: WebSocketServer;
  private socketWaiters: { pred: () => boolean; resolve: () => void }[] = [];
  private tickets = 0;

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
        return {
          id: name,
          name,
          user: f.user,
          size: f.bytes.length,
          mimetype: f.mimetype,
          created: f.created,
          url_private_download: `${this.origin}/files/${name}`,
        };
      };
      switch (method) {
        case 'apps.connections.open':
          if (!String(req.headers.authorization).startsWith('Bearer xapp-')) return send({ ok: false, error: 'not_allowed_token_type' });
          return send({ ok: true, url: `ws://127.0.0.1:${this.port}/socket?ticket=t${++this.tickets}` });
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
          return send({
            ok: true,
            user: {
              id: body.user,
              is_admin: this.admins.has(String(body.user)),
              // Slack gives the locale only when asked (include_locale=true).
              ...(String(body.include_locale) === 'true' && this.locales.has(String(body.user)) ? { locale: this.locales.get(String(body.user)) } : {}),
            },
          });
        case 'conversations.open':
          return send({ ok: true, channel: { id: 'D1' } });
        default:
          if (method.startsWith('upload/') || url.pathname.startsWith('/upload/') || url.pathname.startsWith('/respond/'))
            return void res.writeHead(200).end('OK');
          return send({ ok: false, error: 'unknown_method' });
      }
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      if (!new URL(req.url!, this.origin).pathname.startsWith('/socket')) return void socket.destroy();
      this.wss!.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.push(ws);
        ws.on('message', (data) => {
          try {
            this.socketMessages.push(JSON.parse(String(data)) as Record<string, unknown>);
          } catch {
            this.socketMessages.push({ unparsed: String(data) });
          }
          this.wakeSocketWaiters();
        });
        this.wakeSocketWaiters();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private wakeSocketWaiters() {
    this.socketWaiters = this.socketWaiters.filter((w) => (w.pred() ? (w.resolve(), false) : true));
  }

  /** Resolves once `pred` holds after a Socket Mode connection or message (up to `ms`). */
  private waitSocket(pred: () => boolean, what: string, ms: number): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`fake Slack: ${what} within ${ms} ms; socket messages: ${JSON.stringify(this.socketMessages)}`)), ms);
      this.socketWaiters.push({ pred, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  /** The newest open Socket Mode connection (waits for one). */
  async waitForSocket(ms = 10_000): Promise<WebSocket> {
    await this.waitSocket(() => this.sockets.some((s) => s.readyState === s.OPEN), 'no Socket Mode connection', ms);
    return this.sockets.filter((s) => s.readyState === s.OPEN).at(-1)!;
  }

  /** The first message the client sent on a socket matching `pred` (an ack: { envelope_id, payload }). */
  async waitForSocketMessage(pred: (m: Record<string, unknown>) => boolean, ms = 10_000): Promise<Record<string, unknown>> {
    await this.waitSocket(() => this.socketMessages.some(pred), 'no matching Socket Mode message', ms);
    return this.socketMessages.find(pred)!;
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
    for (const s of this.sockets) s.terminate();
    this.wss?.close();
    return new Promise((r) => this.server.close(() => r()));
  }
}
