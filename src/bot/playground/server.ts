/**
 * The local playground: a third thin adapter over commands/, served on 127.0.0.1 with node:http. One
 * page (page.html, plain HTML + vanilla JS) shows a chat-like channel; the person types
 * `/pairstyle draw prompt:cat face strength:3` (parsed by the Slack text parser) or fills a form per
 * subcommand (forms derived from the command specs), with file inputs for train. The user is a local
 * one: platform 'playground', workspace 'playground', user 'you' (an admin of their own playground).
 *
 * API (JSON unless noted):
 *   GET  /                       the page
 *   GET  /favicon.svg            the page's icon (also at /favicon.ico)
 *   GET  /api/commands           the command specs (name, description, options)
 *   GET  /api/messages           the channel so far
 *   GET  /api/events             Server-Sent Events: `message` with each new or updated message
 *                                (the whole channel first, so a client needs nothing else)
 *   GET  /api/files/<msg>/<i>    an image or file of a message (PNG / octet-stream)
 *   GET  /api/styles?prefix=     style-name completions (own + shared)
 *   POST /api/command            multipart/form-data or JSON: `text` (a command line), or `subcommand`
 *                                + option fields; files `content` / `style` for train. Answers
 *                                { command, reply } (the echoed command and the bot's first reply;
 *                                a job's reply is then updated through /api/events until `final`).
 *   POST /api/button             { id }: a reply button (reroll, strength -/+, cancel)
 * Requests from another origin (or with a Host other than the loopback one) are refused: the page is
 * for the person at this machine. Cross-site request forgery: every POST must carry the header
 * `x-pairstyle-token` with this server's random token, which is written into the page it serves (a
 * page elsewhere can neither read it nor, without a CORS preflight this server never grants, send a
 * custom header; a plain HTML form can send no header at all). `Origin: null` (sandboxed frames,
 * file: pages) and an Origin that is not a URL are refused with 403.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  autocompleteStyles,
  COMMANDS,
  errorText,
  findCommand,
  followJob,
  isUserError,
  runButton,
  runCommand,
  type Attachment,
  type Button,
  type CommandContext,
  type OptionValue,
  type Outcome,
  type Reply,
} from '../../../commands/index.ts';
import { progressReply } from '../../../commands/render.ts';
import type { CommandLimits } from '../../../commands/types.ts';
import type { Job, JobQueue } from '../../queue/job.ts';
import { finalizeJob } from '../../../commands/finalize.ts';
import type { Scope, StyleRegistry } from '../../store/style-registry.ts';
import { parseCommandText } from '../../../commands/text.ts';
import { overLimitText } from '../../../commands/size-text.ts';
import { say } from '../../i18n/message.ts';

export interface PlaygroundOptions {
  registry: StyleRegistry;
  queue: JobQueue;
  limits: CommandLimits;
  /** Progress updates at most this often (default 500 ms: no platform rate limit here). */
  minEditIntervalMs?: number;
  /** Messages kept in the channel (default 200; older ones and their images are dropped). */
  history?: number;
  log?: (msg: string, e?: unknown) => void;
}

export const PLAYGROUND_SCOPE: Scope = { platform: 'playground', workspace: 'playground', user: 'you' };

export interface PlaygroundMessage {
  id: number;
  from: 'you' | 'bot';
  text: string;
  /** False while a job's reply still changes. */
  final: boolean;
  error?: boolean;
  images: { name: string; url: string }[];
  files: { name: string; url: string }[];
  buttons: Button[];
  version: number;
}

const PAGE = new URL('./page.html', import.meta.url);
/** The page's icon: a before/after pair of squares, the plain one and its styled counterpart. */
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="2" y="8" width="13" height="16" rx="3" fill="#949ba4"/>' +
  '<rect x="17" y="8" width="13" height="16" rx="3" fill="#5865f2"/></svg>';

/** The channel: messages in order, their binary parts, and the SSE listeners. */
class Channel {
  private readonly messages: PlaygroundMessage[] = [];
  private readonly blobs = new Map<number, { name: string; data: Uint8Array; type: string }[]>();
  private readonly listeners = new Set<(m: PlaygroundMessage) => void>();
  private nextId = 1;

  constructor(private readonly history: number) {}

  all(): PlaygroundMessage[] {
    return this.messages.map((m) => ({ ...m }));
  }

  subscribe(fn: (m: PlaygroundMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  blob(id: number, index: number) {
    return this.blobs.get(id)?.[index];
  }

  post(from: 'you' | 'bot', reply: Reply, final: boolean, error = false): PlaygroundMessage {
    const m: PlaygroundMessage = { id: this.nextId++, from, text: '', final, images: [], files: [], buttons: [], version: 0 };
    this.messages.push(m);
    while (this.messages.length > this.history) this.blobs.delete(this.messages.shift()!.id);
    return this.set(m, reply, final, error);
  }

  /** Updates message `id` in place (a message that scrolled out of the history is updated for live listeners only). */
  update(id: number, reply: Reply, final: boolean, error = false): PlaygroundMessage {
    const m = this.messages.find((x) => x.id === id) ?? { id, from: 'bot', text: '', final, images: [], files: [], buttons: [], version: 0 };
    return this.set(m, reply, final, error);
  }

  private set(m: PlaygroundMessage, reply: Reply, final: boolean, error: boolean): PlaygroundMessage {
    const blobs = [
      ...(reply.images ?? []).map((i) => ({ name: i.name, data: i.png, type: 'image/png' })),
      ...(reply.files ?? []).map((f) => ({ name: f.name, data: f.data, type: 'application/octet-stream' })),
    ];
    const images = reply.images?.length ?? 0;
    if (blobs.length && this.messages.includes(m)) this.blobs.set(m.id, blobs);
    else if (final) this.blobs.delete(m.id);
    const url = (i: number) => `/api/files/${m.id}/${i}`;
    Object.assign(m, {
      text: reply.text,
      final,
      error: error || undefined,
      images: blobs.slice(0, images).map((b, i) => ({ name: b.name, url: url(i) })),
      files: blobs.slice(images).map((b, i) => ({ name: b.name, url: url(images + i) })),
      buttons: final || reply.buttons ? [...(reply.buttons ?? [])] : m.buttons,
      version: m.version + 1,
    });
    const copy = { ...m };
    for (const l of this.listeners) l(copy);
    return copy;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    // Past the cap the rest is read and dropped, so that the 413 answer reaches the browser.
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n <= max) chunks.push(c);
    });
    req.on('end', () => (n > max ? reject(new HttpError(413, `the upload is ${say(overLimitText(n, max))}`)) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
};

function fileAttachment(f: File): Attachment {
  return {
    name: f.name || 'file',
    size: f.size,
    contentType: f.type || undefined,
    download: async (maxBytes) => {
      if (f.size > maxBytes) throw new Error(`the file is ${say(overLimitText(f.size, maxBytes))}`);
      return new Uint8Array(await f.arrayBuffer());
    },
  };
}

/** A command request's fields and files (HttpError when the request itself is malformed). */
async function readCommandRequest(req: IncomingMessage, body: Buffer): Promise<{ fields: Map<string, string>; files: Map<string, File> }> {
  const type = String(req.headers['content-type'] ?? '');
  const fields = new Map<string, string>();
  const files = new Map<string, File>();
  if (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded')) {
    let form: FormData;
    try {
      form = await new Request('http://playground/', { method: 'POST', headers: { 'content-type': type }, body }).formData();
    } catch {
      throw new HttpError(400, 'the form could not be read');
    }
    for (const [k, v] of form) {
      if (typeof v === 'string') fields.set(k, v);
      else if (v.size > 0 || v.name) files.set(k, v);
    }
  } else if (type.startsWith('application/json')) {
    let data: unknown;
    try {
      data = JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpError(400, 'the body is not JSON');
    }
    const d = (data ?? {}) as { text?: unknown; subcommand?: unknown; options?: Record<string, unknown> };
    if (typeof d.text === 'string') fields.set('text', d.text);
    if (typeof d.subcommand === 'string') fields.set('subcommand', d.subcommand);
    for (const [k, v] of Object.entries(d.options ?? {})) if (v !== undefined && v !== null) fields.set(k, String(v));
  } else throw new HttpError(415, 'send multipart/form-data or JSON');
  return { fields, files };
}

/** Fields and files -> the echoed command line, the subcommand and its raw options (CommandError when wrong). */
function parseCommand(
  fields: Map<string, string>,
  files: Map<string, File>,
  echoed: { echo: string },
): { subcommand: string; options: Record<string, OptionValue | undefined> } {
  let subcommand: string;
  let options: Record<string, OptionValue | undefined>;
  let echo: string;
  const text = fields.get('text');
  if (text !== undefined) {
    const line = text
      .trim()
      .replace(/^\/?pairstyle\b/i, '')
      .trim();
    echoed.echo = echo = `/pairstyle ${line}`.trim();
    ({ subcommand, options } = parseCommandText(line));
  } else {
    options = {};
    for (const [k, v] of fields) if (k !== 'subcommand' && v.trim() !== '') options[k] = v;
    echoed.echo = `/pairstyle ${fields.get('subcommand') ?? ''}`.trim();
    subcommand = findCommand((fields.get('subcommand') ?? 'help').trim().toLowerCase()).name;
    echo = `/pairstyle ${subcommand}${Object.entries(options)
      .map(([k, v]) => ` ${k}:${/\s/.test(String(v)) ? `"${String(v)}"` : String(v)}`)
      .join('')}`;
  }
  const command = findCommand(subcommand);
  for (const [k, f] of files) {
    if (!command.options.some((o) => o.name === k && o.type === 'attachment')) continue;
    options[k] = fileAttachment(f);
    echo += ` ${k}:📎${f.name}`;
  }
  echoed.echo = echo;
  return { subcommand, options };
}

/** Refuses a request sent by a page of another origin, by an opaque origin (`null`) or with an Origin that is not a URL. */
function checkOrigin(origin: string | undefined, host: string): void {
  if (origin === undefined) return;
  let from: string;
  try {
    from = new URL(origin).host;
  } catch {
    throw new HttpError(403, `requests from other sites are refused (the Origin header '${origin.slice(0, 60)}' is not a web address)`);
  }
  if (origin === 'null' || from !== host) throw new HttpError(403, 'requests from other sites are refused');
}

/** A state-changing request must carry the page's token (header `x-pairstyle-token`). */
function checkToken(sent: string | string[] | undefined, token: string): void {
  const a = Buffer.from(typeof sent === 'string' ? sent : '');
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    throw new HttpError(403, 'this request did not come from the playground page (reload the page and try again)');
}

export function playgroundHandler(opts: PlaygroundOptions) {
  const log = opts.log ?? ((m: string, e?: unknown) => console.error(`[playground] ${m}`, e ?? ''));
  const channel = new Channel(opts.history ?? 200);
  const ctx: CommandContext = {
    who: PLAYGROUND_SCOPE,
    isAdmin: true,
    registry: opts.registry,
    queue: opts.queue,
    limits: opts.limits,
    route: { platform: 'playground' },
    // Its one channel (so that a channel setting made here, e.g. channels:here, applies here).
    channel: 'playground',
  };
  /** The page's request token (fresh per server; see the file comment). */
  const token = randomBytes(24).toString('base64url');
  const page = Buffer.from(readFileSync(PAGE, 'utf8').replace('__PAIRSTYLE_TOKEN__', token));
  const jobs = new Set<Promise<void>>();

  /** Posts the outcome's first reply; a job's reply is then updated until final. */
  const deliver = (outcome: Outcome): PlaygroundMessage => {
    if (outcome.type === 'reply') return channel.post('bot', outcome.reply, true);
    return follow(outcome.job, outcome.finalize);
  };

  /** A bot message that shows the job's state and is updated until its final reply. */
  const follow = (job: Job, finalize: (j: Job) => Promise<Reply>): PlaygroundMessage => {
    // The job's state now (followJob's own first update arrives a tick later and replaces it).
    const mine = opts.queue.jobsOf(job.owner).find((j) => j.job.id === job.id);
    const target = channel.post(
      'bot',
      mine || job.status === 'queued' || job.status === 'running'
        ? progressReply(job, mine?.position ?? 0, mine?.etaSeconds, mine?.etaPhaseOnly)
        : { text: '…' },
      false,
    );
    const p: Promise<void> = followJob(opts.queue, job, finalize, {
      minIntervalMs: opts.minEditIntervalMs ?? 500,
      onError: (e) => log('job reply failed', e),
      update: async (reply, final) => {
        channel.update(target.id, reply, final, final && /^(⚠️|✖️)/u.test(reply.text));
      },
    }).finally(() => jobs.delete(p));
    jobs.add(p);
    return target;
  };

  const run = async (fn: () => Promise<Outcome>): Promise<PlaygroundMessage> => {
    try {
      return deliver(await fn());
    } catch (e) {
      if (!isUserError(e)) log('command failed', e);
      return channel.post('bot', { text: errorText(e) }, true, true);
    }
  };

  const routes = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
      res.end(page);
      return;
    }
    if (req.method === 'GET' && (path === '/favicon.svg' || path === '/favicon.ico')) {
      res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=86400' });
      res.end(FAVICON);
      return;
    }
    if (req.method === 'GET' && path === '/api/commands') {
      return json(res, 200, {
        commands: COMMANDS.map((c) => ({
          name: c.name,
          description: say(c.description),
          options: c.options.map((o) => ({ ...o, description: say(o.description) })),
        })),
        user: PLAYGROUND_SCOPE,
      });
    }
    if (req.method === 'GET' && path === '/api/messages') return json(res, 200, { messages: channel.all() });
    if (req.method === 'GET' && path === '/api/styles') {
      return json(res, 200, { choices: await autocompleteStyles(ctx, url.searchParams.get('prefix') ?? '') });
    }
    if (req.method === 'GET' && path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
      const send = (m: PlaygroundMessage) => res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
      for (const m of channel.all()) send(m);
      const off = channel.subscribe(send);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      req.on('close', () => {
        off();
        clearInterval(ping);
      });
      return;
    }
    const file = /^\/api\/files\/(\d+)\/(\d+)$/.exec(path);
    if (req.method === 'GET' && file) {
      const b = channel.blob(Number(file[1]), Number(file[2]));
      if (!b) return json(res, 404, { error: 'no such file (it may have scrolled out of the playground history)' });
      const disposition = b.type === 'image/png' ? 'inline' : 'attachment';
      res.writeHead(200, {
        'content-type': b.type,
        'content-length': b.data.length,
        'content-disposition': `${disposition}; filename="${b.name.replace(/[^\w.-]/g, '_')}"`,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength));
      return;
    }
    if (req.method === 'POST' && path === '/api/command') {
      const body = await readBody(req, 2 * opts.limits.maxUploadBytes + 1_000_000);
      const { fields, files } = await readCommandRequest(req, body);
      // A user error in the command line itself (unknown subcommand / option) is a chat reply like any other.
      const echoed = { echo: fields.get('text') ?? '/pairstyle' };
      let parsed: ReturnType<typeof parseCommand> | undefined;
      let parseError: unknown;
      try {
        parsed = parseCommand(fields, files, echoed);
      } catch (e) {
        parseError = e;
      }
      const command = channel.post('you', { text: echoed.echo }, true);
      const reply = await run(async () => {
        if (!parsed) throw parseError;
        return runCommand(ctx, parsed.subcommand, parsed.options);
      });
      return json(res, 200, { command, reply });
    }
    if (req.method === 'POST' && path === '/api/button') {
      const body = await readBody(req, 10_000);
      let id: unknown;
      try {
        id = (JSON.parse(body.toString('utf8')) as { id?: unknown }).id;
      } catch {
        throw new HttpError(400, 'the body is not JSON');
      }
      if (typeof id !== 'string') throw new HttpError(400, "send { id: '<button id>' }");
      const reply = await run(() => runButton(ctx, id as string));
      return json(res, 200, { reply });
    }
    throw new HttpError(404, `no such page: ${req.method} ${path}`);
  };

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const host = String(req.headers.host ?? '');
      if (!/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i.test(host)) throw new HttpError(403, 'the playground answers on 127.0.0.1 / localhost only');
      checkOrigin(req.headers.origin, host);
      if (req.method !== 'GET' && req.method !== 'HEAD') checkToken(req.headers['x-pairstyle-token'], token);
      await routes(req, res, new URL(req.url ?? '/', `http://${host}`));
    } catch (e) {
      if (res.headersSent) return void res.end();
      if (e instanceof HttpError) return json(res, e.status, { error: e.message });
      log('request failed', e);
      json(res, 500, { error: errorText(e) });
    }
  };
  return Object.assign(handler, {
    channel,
    /** Follows a job read back from the journal after a restart: its reply appears in the channel. */
    resume: (job: Job) => void follow(job, (j) => finalizeJob(opts.registry, j)),
    /** Resolves when every job reply followed so far is final (tests, shutdown). */
    idle: async () => {
      while (jobs.size) await Promise.all([...jobs]);
    },
  });
}

export async function startPlayground(
  opts: PlaygroundOptions,
  port: number,
  host = '127.0.0.1',
): Promise<{ server: Server; port: number; url: string; resume: (job: Job) => void }> {
  const handler = playgroundHandler(opts);
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return { server, port: actual, url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/`, resume: handler.resume };
}
