/**
 * A loopback fake of the Slack Web API (127.0.0.1 only) for a real Bolt App: records calls (form or JSON
 * bodies), answers auth.test, chat.postMessage/update/delete (the channel's messages are kept: `message`),
 * files.getUploadURLExternal (an absolute loopback upload URL that takes the bytes raw or as multipart
 * form data) / completeUploadExternal, files.list/info/delete, conversations.history, users.info,
 * conversations.open, views.open (a trigger_id once), chat.postEphemeral; response_url posts at /respond/*; a file host at /files/<id> that demands the bot
 * token.
 * Files as Slack documents them: an upload completed without a channel stays private to the bot (it may
 * still show it in its own messages: an image block's `slack_file`); Slack processes an upload
 * asynchronously, so its `mimetype` is empty in files.info until then (`processingMs`), and a message
 * whose image block names a file that is unknown, not yet processed, not an image (png, jpeg, gif) or
 * not visible to the bot is refused with `invalid_blocks`, as Slack does.
 * Socket Mode: apps.connections.open (app token) answers a ws://127.0.0.1:<port>/socket?ticket=… URL
 * served by a `ws` WebSocket server on the same port; the test speaks for Slack on the connected
 * socket (hello, envelopes) and reads what the client sent back (acks with envelope_id).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** The bytes posted to an upload URL: the raw body, or the file part of a multipart form (as @slack/web-api sends it). */
async function uploadedBytes(raw: Buffer, contentType: string): Promise<Uint8Array> {
  if (!contentType.startsWith('multipart/form-data')) return new Uint8Array(raw);
  const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
  const file = [...form.values()].find((v): v is File => typeof v !== 'string');
  return file ? new Uint8Array(await file.arrayBuffer()) : new Uint8Array(0);
}

export interface SlackCall {
  method: string;
  body: Record<string, unknown>;
  auth?: string;
  bytes?: number;
}

/** A file in the fake workspace; its key in `files` is its id. */
export interface FakeSlackFile {
  bytes: Uint8Array;
  /** Who uploaded it ('UBOT' for the bot's own uploads). */
  user: string;
  created: number;
  mimetype: string;
  /** Its name (default: its id). */
  name?: string;
  /** Channels it was shared in; a file the test sets without any is taken as shared where its user posted it. */
  channels?: string[];
  /** When Slack has processed it (ms since the epoch); until then files.info shows no mimetype and blocks cannot show it. */
  readyAt?: number;
}

/** A message in a channel of the fake (the bot's, or a user's that shared files). */
export interface FakeSlackMessage {
  channel: string;
  ts: string;
  user: string;
  text: string;
  blocks?: unknown[];
  /** File ids in the order they were attached. */
  files?: string[];
}

/** The bot's user id in the fake (auth.test). */
export const FAKE_BOT_USER = 'UBOT';

/** png, jpeg or gif by magic bytes (the image types Slack shows in image blocks); '' otherwise. */
function imageType(b: Uint8Array): string {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
  return '';
}

export class FakeSlack {
  readonly calls: SlackCall[] = [];
  readonly files = new Map<string, FakeSlackFile>();
  /** Messages by `${channel}/${ts}`. */
  readonly messages = new Map<string, FakeSlackMessage>();
  admins = new Set<string>();
  /** How long Slack takes to process an upload before blocks may show it (ms). */
  processingMs = 30;
  /** Users' locales as users.info reports them with include_locale (e.g. 'fr-FR'); others have none. */
  locales = new Map<string, string>();
  port = 0;
  private server!: Server;
  private waiters: { pred: (c: SlackCall) => boolean; resolve: (c: SlackCall) => void }[] = [];
  private uploads = 0;
  /** Uploads under way: upload number -> what getUploadURLExternal was told and the bytes posted. */
  private pendingUploads = new Map<number, { id: string; filename: string; length: number; bytes?: Uint8Array }>();
  private messageCount = 0;
  /** Modals opened with views.open, by view id. */
  readonly views = new Map<string, Record<string, unknown>>();
  private viewCount = 0;
  private triggersUsed = new Set<string>();
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
        const f = this.files.get(decodeURIComponent(url.pathname.slice(7)));
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
      const fileOf = (id: string) => {
        const f = this.files.get(id)!;
        return {
          id,
          name: f.name ?? id,
          user: f.user,
          size: f.bytes.length,
          mimetype: this.isReady(f) ? f.mimetype : '',
          created: f.created,
          url_private: `${this.origin}/files/${encodeURIComponent(id)}`,
          url_private_download: `${this.origin}/files/${encodeURIComponent(id)}`,
        };
      };
      switch (method) {
        case 'apps.connections.open':
          if (!String(req.headers.authorization).startsWith('Bearer xapp-')) return send({ ok: false, error: 'not_allowed_token_type' });
          return send({ ok: true, url: `ws://127.0.0.1:${this.port}/socket?ticket=t${++this.tickets}` });
        case 'auth.test':
          return send({ ok: true, user_id: 'UBOT', team_id: 'T1', bot_id: 'B1' });
        case 'chat.postMessage': {
          const refused = this.blockErrors(body.blocks, String(body.channel));
          if (refused) return send(refused);
          const ts = `1700000000.${String(++this.messageCount).padStart(6, '0')}`;
          const channel = String(body.channel);
          this.messages.set(`${channel}/${ts}`, { channel, ts, user: FAKE_BOT_USER, text: String(body.text ?? ''), blocks: this.parsedBlocks(body.blocks) });
          return send({ ok: true, channel, ts });
        }
        case 'chat.update': {
          const m = this.messages.get(`${body.channel}/${body.ts}`);
          if (!m) return send({ ok: false, error: 'message_not_found' });
          if (m.user !== FAKE_BOT_USER) return send({ ok: false, error: 'cant_update_message' });
          const refused = this.blockErrors(body.blocks, m.channel);
          if (refused) return send(refused);
          m.text = String(body.text ?? '');
          m.blocks = this.parsedBlocks(body.blocks);
          return send({ ok: true, channel: body.channel, ts: body.ts });
        }
        case 'chat.delete': {
          const key = `${body.channel}/${body.ts}`;
          const m = this.messages.get(key);
          if (!m) return send({ ok: false, error: 'message_not_found' });
          if (m.user !== FAKE_BOT_USER) return send({ ok: false, error: 'cant_delete_message' });
          this.messages.delete(key);
          return send({ ok: true, channel: body.channel, ts: body.ts });
        }
        case 'views.open': {
          // A trigger_id is good for one view, for 3 seconds (https://docs.slack.dev/interactivity/handling-user-interaction).
          const trigger = String(body.trigger_id ?? '');
          if (!trigger || this.triggersUsed.has(trigger)) return send({ ok: false, error: 'invalid_trigger_id' });
          this.triggersUsed.add(trigger);
          const view = typeof body.view === 'string' ? JSON.parse(body.view) : body.view;
          const id = `V${String(++this.viewCount).padStart(8, '0')}`;
          this.views.set(id, view);
          return send({ ok: true, view: { id, ...view } });
        }
        case 'chat.postEphemeral':
          return send({ ok: true, message_ts: `1700000000.${String(++this.messageCount).padStart(6, '0')}` });
        case 'conversations.history': {
          // Newest first, between oldest and latest (exclusive unless inclusive), at most limit.
          const inclusive = body.inclusive === 'true' || body.inclusive === true;
          const after = (ts: string, bound: unknown) => bound === undefined || (inclusive ? Number(ts) >= Number(bound) : Number(ts) > Number(bound));
          const before = (ts: string, bound: unknown) => bound === undefined || (inclusive ? Number(ts) <= Number(bound) : Number(ts) < Number(bound));
          const found = [...this.messages.values()]
            .filter((m) => m.channel === body.channel && after(m.ts, body.oldest) && before(m.ts, body.latest))
            .sort((a, b) => Number(b.ts) - Number(a.ts))
            .slice(0, Number(body.limit ?? 100))
            .map((m) => ({ type: 'message', user: m.user, ts: m.ts, text: m.text, ...(m.files ? { files: m.files.map((id) => fileOf(id)) } : {}) }));
          return send({ ok: true, messages: found, has_more: false });
        }
        case 'files.getUploadURLExternal': {
          const length = Number(body.length);
          if (!body.filename || !Number.isInteger(length) || length <= 0) return send({ ok: false, error: 'invalid_arguments' });
          const n = ++this.uploads;
          const id = `FUP${String(n).padStart(8, '0')}`;
          this.pendingUploads.set(n, { id, filename: String(body.filename), length });
          return send({ ok: true, upload_url: `${this.origin}/upload/${n}`, file_id: id });
        }
        case 'files.completeUploadExternal': {
          const wanted = JSON.parse(String(body.files)) as { id: string; title?: string }[];
          const pending = wanted.map((w) => [...this.pendingUploads].find(([, u]) => u.id === w.id));
          if (pending.some((p) => !p?.[1].bytes)) return send({ ok: false, error: 'file_not_found' });
          const channel = body.channel_id ? String(body.channel_id) : undefined;
          const now = Date.now();
          const ids = pending.map((p, i) => {
            const [n, u] = p!;
            this.pendingUploads.delete(n);
            const bytes = u.bytes!;
            this.files.set(u.id, {
              bytes,
              user: FAKE_BOT_USER,
              created: Math.floor(now / 1000),
              mimetype: imageType(bytes) || 'application/octet-stream',
              name: wanted[i].title ?? u.filename,
              channels: channel ? [channel] : [],
              readyAt: now + this.processingMs,
            });
            return u.id;
          });
          // Shared in a channel: a message of the bot carries the files there.
          if (channel) {
            const ts = `1700000000.${String(++this.messageCount).padStart(6, '0')}`;
            this.messages.set(`${channel}/${ts}`, { channel, ts, user: FAKE_BOT_USER, text: String(body.initial_comment ?? ''), files: ids });
          }
          return send({ ok: true, files: ids.map((id) => ({ id, title: this.files.get(id)!.name })) });
        }
        case 'files.list':
          return send({
            ok: true,
            // Newest first; files of the same second in no order Slack promises (here: by id).
            files: [...this.files]
              .filter(([, f]) => f.user === body.user)
              .sort(([a, fa], [b, fb]) => fb.created - fa.created || (a < b ? -1 : a > b ? 1 : 0))
              .map(([n]) => fileOf(n)),
          });
        case 'files.info':
          return this.files.has(String(body.file)) ? send({ ok: true, file: fileOf(String(body.file)) }) : send({ ok: false, error: 'file_not_found' });
        case 'files.delete': {
          const f = this.files.get(String(body.file));
          if (!f) return send({ ok: false, error: 'file_not_found' });
          if (f.user !== FAKE_BOT_USER) return send({ ok: false, error: 'cant_delete_file' });
          this.files.delete(String(body.file));
          return send({ ok: true });
        }
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
          if (url.pathname.startsWith('/upload/')) {
            const u = this.pendingUploads.get(Number(url.pathname.slice(8)));
            if (!u) return void res.writeHead(404).end();
            u.bytes = await uploadedBytes(raw, String(type));
            return void res.writeHead(200).end(`OK - ${u.bytes.length}`);
          }
          if (url.pathname.startsWith('/respond/')) return void res.writeHead(200).end('OK');
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

  private isReady(f: FakeSlackFile): boolean {
    return f.readyAt === undefined || Date.now() >= f.readyAt;
  }

  /** A user's message in `channel` that shares the files `ids` (already in `files`), in that order. */
  shareFiles(channel: string, user: string, ids: string[], ts = `${Math.max(...ids.map((id) => this.files.get(id)!.created))}.000200`): FakeSlackMessage {
    for (const id of ids) this.files.get(id)!.channels = [channel];
    const m: FakeSlackMessage = { channel, ts, user, text: '', files: ids };
    this.messages.set(`${channel}/${ts}`, m);
    return m;
  }

  /** The message `ts` of `channel` as it is now (undefined once deleted). */
  message(channel: string, ts: string): FakeSlackMessage | undefined {
    return this.messages.get(`${channel}/${ts}`);
  }

  private parsedBlocks(blocks: unknown): unknown[] | undefined {
    if (blocks === undefined) return undefined;
    return typeof blocks === 'string' ? (JSON.parse(blocks) as unknown[]) : (blocks as unknown[]);
  }

  /**
   * Slack's refusal of blocks whose images it cannot show (`invalid_blocks` with a json-pointer per
   * problem), or undefined. Image blocks and image elements (section accessories, context elements)
   * may name a Slack file by `slack_file` {id} or {url}, never both.
   */
  private blockErrors(raw: unknown, channel: string): Record<string, unknown> | undefined {
    const blocks = this.parsedBlocks(raw) ?? [];
    const errors: string[] = [];
    const check = (image: Record<string, unknown>, pointer: string) => {
      const ref = image.slack_file as { id?: string; url?: string } | undefined;
      if (!ref) return;
      if (ref.id && ref.url) return void errors.push(`must provide either url or id [json-pointer:${pointer}/slack_file]`);
      const id = ref.id ?? [...this.files.keys()].find((k) => ref.url === `${this.origin}/files/${encodeURIComponent(k)}`);
      const f = id ? this.files.get(id) : undefined;
      const visible = f && (f.user === FAKE_BOT_USER || f.channels === undefined || f.channels.includes(channel));
      if (!f || !visible || !this.isReady(f) || !/^image\/(png|jpeg|gif)$/.test(f.mimetype))
        errors.push(`invalid slack file [json-pointer:${pointer}/slack_file]`);
    };
    blocks.forEach((b, i) => {
      const block = b as Record<string, unknown>;
      if (block.type === 'image') check(block, `/blocks/${i}`);
      const accessory = block.accessory as Record<string, unknown> | undefined;
      if (accessory?.type === 'image') check(accessory, `/blocks/${i}/accessory`);
      if (block.type === 'context')
        (block.elements as Record<string, unknown>[]).forEach((e, j) => e.type === 'image' && check(e, `/blocks/${i}/elements/${j}`));
    });
    return errors.length ? { ok: false, error: 'invalid_blocks', errors, response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } } : undefined;
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
