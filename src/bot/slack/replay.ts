/**
 * Replay protection for Slack's signed HTTP requests. Bolt's HTTPReceiver checks the HMAC signature
 * (v0:timestamp:body with the signing secret) and refuses timestamps more than 5 minutes old, but it
 * accepts the same signed request again within those 5 minutes, and timestamps in the future. Here the
 * receiver also hands each request's signed content (timestamp + body hash) to the app, a global
 * middleware refuses a request seen before or dated more than 5 minutes ahead, and the refusal is
 * answered 401 like a bad signature. Socket Mode needs none of this (no HTTP requests to replay).
 */
import { HTTPModuleFunctions, HTTPReceiver, LogLevel, type App, type Middleware, type AnyMiddlewareArgs } from '@slack/bolt';
import { ReplayCache } from '../replay-cache.ts';

/** Slack's window for a request timestamp, either way (Bolt only checks the past side). */
export const SLACK_MAX_SKEW_SECONDS = 300;
const REPLAY_CODE = 'pairstyle_replayed_request';

export class ReplayedRequestError extends Error {
  override name = 'ReplayedRequestError';
  readonly code = REPLAY_CODE;
}

export const isReplayRefusal = (e: unknown): boolean => (e as { code?: string })?.code === REPLAY_CODE;

interface SignedRequest {
  key: string;
  timestamp: number;
}

/** Bolt's HTTP receiver with the signature check, plus what the replay middleware needs, plus 401 for replays. */
export function signedHttpReceiver(signingSecret: string): HTTPReceiver {
  return new HTTPReceiver({
    signingSecret,
    logLevel: LogLevel.ERROR,
    customPropertiesExtractor: (req) => {
      const timestamp = Number(req.headers['x-slack-request-timestamp']);
      const signed: SignedRequest = { key: ReplayCache.keyOf(timestamp, req.rawBody), timestamp };
      return { pairstyleSignedRequest: signed };
    },
    processEventErrorHandler: async (args) => {
      if (isReplayRefusal(args.error) && !args.response.headersSent) {
        args.response.writeHead(401);
        args.response.end();
        return true;
      }
      // A malformed interactive payload (signed, but not what Slack sends) is the sender's mistake: 400, not 500.
      const problem = interactivePayloadProblem((args.request as { rawBody?: Buffer }).rawBody);
      if (problem && !args.response.headersSent) {
        args.response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
        args.response.end(`malformed Slack payload: ${problem}`);
        return true;
      }
      return HTTPModuleFunctions.defaultProcessEventErrorHandler(args);
    },
  });
}

/**
 * What is wrong with an interactive payload (`payload=<json>`, form-encoded) for the handlers here, or
 * null when it has the shape Slack sends (or is not an interactive payload at all): an object of
 * type block_actions (the only interactive payload this app takes: button presses) with a `user` with a
 * string id and a non-empty list of actions, each with a string action_id. Only consulted when handling
 * the request failed.
 */
export function interactivePayloadProblem(rawBody: Buffer | string | undefined): string | null {
  if (rawBody === undefined) return null;
  const form = new URLSearchParams(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  const raw = form.get('payload');
  if (raw === null) return null;
  let p: unknown;
  try {
    p = JSON.parse(raw);
  } catch {
    return 'the payload is not JSON';
  }
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return 'the payload is not an object';
  const o = p as { type?: unknown; user?: { id?: unknown }; actions?: unknown };
  if (typeof o.type !== 'string') return 'no type';
  if (o.type !== 'block_actions') return `a ${o.type.slice(0, 40)} payload, which this app does not take`;
  if (typeof o.user !== 'object' || o.user === null || typeof o.user.id !== 'string') return 'no user id';
  if (!Array.isArray(o.actions) || o.actions.length === 0) return 'no actions';
  if (!o.actions.every((a) => typeof a === 'object' && a !== null && typeof (a as { action_id?: unknown }).action_id === 'string'))
    return 'an action without an action_id';
  return null;
}

/** Global middleware: a signed request is processed once, and only within 5 minutes of its timestamp either way. */
export function refuseReplays(cache = new ReplayCache(), now: () => number = Date.now): Middleware<AnyMiddlewareArgs> {
  return async ({ context, next }) => {
    const signed = context.pairstyleSignedRequest as SignedRequest | undefined;
    if (signed) {
      const t = now();
      if (!Number.isFinite(signed.timestamp) || signed.timestamp * 1000 > t + SLACK_MAX_SKEW_SECONDS * 1000)
        throw new ReplayedRequestError('request timestamp is in the future');
      // Remembered until Bolt's own check would refuse it as stale.
      if (!cache.firstSeen(signed.key, signed.timestamp * 1000 + SLACK_MAX_SKEW_SECONDS * 1000 + 1000, t)) throw new ReplayedRequestError('request replayed');
    }
    await next();
  };
}

/** Installs the middleware; the app's error handler must rethrow isReplayRefusal errors so the receiver answers 401. */
export function protectFromReplays(app: App, cache?: ReplayCache): void {
  app.use(refuseReplays(cache));
}
