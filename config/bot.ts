/**
 * Bot configuration from the environment, validated at start; every problem is listed with what to set.
 *
 *   DISCORD_TOKEN, DISCORD_APP_ID          Discord over the gateway (discord.js)
 *   DISCORD_PUBLIC_KEY + DISCORD_MODE=http Discord over HTTP interactions instead (DISCORD_HTTP_PORT, default 8787)
 *   SLACK_BOT_TOKEN (xoxb-) with SLACK_SIGNING_SECRET (HTTP receiver on SLACK_PORT, default 3000)
 *                          or with SLACK_APP_TOKEN (xapp-, Socket Mode)
 *   DISCORD_API_URL        the Discord REST API the bot talks to (default https://discord.com/api), e.g.
 *                          a compatible endpoint or a proxy; SLACK_API_URL likewise for Slack's Web API
 *                          (default https://slack.com/api/)
 *   PAIRSTYLE_STORE_URL    style registries (default: SQLite file ./data/pairstyle.sqlite; with the BullMQ
 *                          queue, the same Redis as REDIS_URL, so that every bot process sees every style)
 *   REDIS_URL              redis://[user:password@]host:port[/db]: jobs go to BullMQ on this Redis, run by
 *                          worker processes (npm run worker); unset: the in-process queue
 *   PAIRSTYLE_QUEUE        'in-process' or 'bullmq' (default: bullmq when REDIS_URL is set)
 *   PAIRSTYLE_QUEUE_PREFIX Redis key prefix shared by one deployment's bots and workers (default 'pairstyle')
 *   PAIRSTYLE_BOT_ID       this bot process's id for the BullMQ queue (default: random per start; a stable
 *                          id lets a restarted process take over its unfinished replies at once)
 *   PAIRSTYLE_MODEL        a model folder, a diffusers Stable Diffusion folder or a .safetensors checkpoint
 *                          (default: the embedded emoji-mini model); PAIRSTYLE_TOKENIZER: a single file's
 *                          tokenizer folder (config/model.ts)
 *   PAIRSTYLE_DEVICE       'cpu' (default) or 'cuda' (onnxruntime-node installed with
 *                          --onnxruntime-node-install=cuda12; checked at start when this process runs jobs)
 *   PAIRSTYLE_PRECISION    'fp32' (default) or 'fp16' (half-precision compute, for GPUs)
 *   PAIRSTYLE_DEVICES      engine threads, one job each (default 1)
 *   PAIRSTYLE_MAX_QUEUED   global queue cap (default 50); PAIRSTYLE_MAX_UPLOAD_MB (default 8)
 *   PAIRSTYLE_COMMANDS_PER_MINUTE  per-user command rate limit (default 20; a training counts as 3)
 *   PAIRSTYLE_MAX_STYLES_PER_USER  styles one person may keep, over all servers/workspaces (default 50)
 *   PAIRSTYLE_PORT         the local playground's port on 127.0.0.1 (default 8080); the playground serves
 *                          when no platform is configured, or with PAIRSTYLE_PLAYGROUND=1 beside them
 *                          (PAIRSTYLE_PLAYGROUND=0 turns it off)
 */
import { ConfigError, modelConfig, type ModelConfig } from './model.ts';

export { ConfigError };

/** Where jobs run: in this process (engine threads), or BullMQ on Redis (worker processes). */
export type QueueConfig = { backend: 'in-process' } | { backend: 'bullmq'; redisUrl: string; prefix: string; botId?: string };

export interface BotConfig {
  queue: QueueConfig;
  /** `apiUrl`: DISCORD_API_URL, when set (else the real service). */
  discord?: { token: string; appId: string; mode: 'gateway' | 'http'; publicKey?: string; port: number; apiUrl?: string };
  /** `apiUrl`: SLACK_API_URL, when set (else the real service). */
  slack?: { botToken: string; signingSecret?: string; appToken?: string; port: number; apiUrl?: string };
  /** The local playground web page (src/bot/playground). */
  playground?: { port: number };
  storeUrl?: string;
  model: ModelConfig;
  devices: number;
  maxQueued: number;
  maxUploadBytes: number;
  /** Per-user command rate limit: commands a minute (commands/rate-limit.ts). */
  commandsPerMinute: number;
  /** Styles one person (platform + user) may keep (src/store/style-registry.ts). */
  maxStylesPerUser: number;
}

/** A whole-number setting within [min, max] (default when unset); a bad value is added to `problems`. */
export const int = (env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number, problems: string[]): number => {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) problems.push(`${name} must be a whole number from ${min} to ${max} (got '${v}')`);
  return n;
};

/** An API base URL setting (http or https), undefined when unset; a bad value is added to `problems`. */
export function apiUrl(env: NodeJS.ProcessEnv, name: string, problems: string[]): string | undefined {
  const v = env[name]?.trim();
  if (!v) return undefined;
  let protocol = '';
  try {
    protocol = new URL(v).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'http:' && protocol !== 'https:') problems.push(`${name} must be an http:// or https:// URL (got '${v.slice(0, 80)}')`);
  return v;
}

/** REDIS_URL / PAIRSTYLE_QUEUE / PAIRSTYLE_QUEUE_PREFIX / PAIRSTYLE_BOT_ID (shared with config/worker.ts). */
export function queueConfig(env: NodeJS.ProcessEnv, problems: string[]): QueueConfig {
  const url = env.REDIS_URL?.trim() ?? '';
  const backend = env.PAIRSTYLE_QUEUE?.trim() || (url ? 'bullmq' : 'in-process');
  if (backend !== 'in-process' && backend !== 'bullmq') {
    problems.push(`PAIRSTYLE_QUEUE must be 'in-process' or 'bullmq' (got '${env.PAIRSTYLE_QUEUE}')`);
    return { backend: 'in-process' };
  }
  if (backend === 'in-process') return { backend };
  if (!url) problems.push('REDIS_URL is missing: PAIRSTYLE_QUEUE=bullmq needs the Redis server, e.g. redis://127.0.0.1:6379');
  else if (!/^rediss?:\/\/[^\s]+$/.test(url)) problems.push(`REDIS_URL must be a redis:// or rediss:// URL (got '${url.replace(/\/\/[^@/]*@/, '//***@')}')`);
  const prefix = env.PAIRSTYLE_QUEUE_PREFIX?.trim() || 'pairstyle';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) problems.push(`PAIRSTYLE_QUEUE_PREFIX must be 1-64 letters, digits, '_', '.' or '-' (got '${prefix}')`);
  const botId = env.PAIRSTYLE_BOT_ID?.trim() || undefined;
  if (botId && !/^[A-Za-z0-9_.-]{1,64}$/.test(botId)) problems.push(`PAIRSTYLE_BOT_ID must be 1-64 letters, digits, '_', '.' or '-' (got '${botId}')`);
  return { backend: 'bullmq', redisUrl: url, prefix, ...(botId ? { botId } : {}) };
}

export function loadBotConfig(env: NodeJS.ProcessEnv = process.env, opts: { requireModel?: boolean } = {}): BotConfig {
  const problems: string[] = [];
  const has = (k: string) => Boolean(env[k]?.trim());
  const queue = queueConfig(env, problems);
  const cfg: BotConfig = {
    queue,
    storeUrl: env.PAIRSTYLE_STORE_URL?.trim() || (queue.backend === 'bullmq' ? queue.redisUrl : undefined),
    model: modelConfig(env, problems, { checkFiles: opts.requireModel !== false }),
    devices: int(env, 'PAIRSTYLE_DEVICES', 1, 1, 16, problems),
    maxQueued: int(env, 'PAIRSTYLE_MAX_QUEUED', 50, 1, 10_000, problems),
    maxUploadBytes: int(env, 'PAIRSTYLE_MAX_UPLOAD_MB', 8, 1, 100, problems) * 1024 * 1024,
    commandsPerMinute: int(env, 'PAIRSTYLE_COMMANDS_PER_MINUTE', 20, 1, 600, problems),
    maxStylesPerUser: int(env, 'PAIRSTYLE_MAX_STYLES_PER_USER', 50, 1, 100_000, problems),
  };

  if (has('DISCORD_TOKEN') || has('DISCORD_APP_ID') || has('DISCORD_PUBLIC_KEY')) {
    const mode = (env.DISCORD_MODE?.trim() || 'gateway') as 'gateway' | 'http';
    if (mode !== 'gateway' && mode !== 'http') problems.push(`DISCORD_MODE must be 'gateway' or 'http' (got '${env.DISCORD_MODE}')`);
    if (!has('DISCORD_TOKEN')) problems.push('DISCORD_TOKEN is missing: the bot token from the Discord developer portal (Bot tab)');
    if (!has('DISCORD_APP_ID')) problems.push('DISCORD_APP_ID is missing: the application id (General Information tab)');
    else if (!/^\d{15,22}$/.test(env.DISCORD_APP_ID!.trim())) problems.push(`DISCORD_APP_ID must be a numeric id (got '${env.DISCORD_APP_ID}')`);
    if (mode === 'http') {
      if (!has('DISCORD_PUBLIC_KEY')) problems.push('DISCORD_PUBLIC_KEY is missing: DISCORD_MODE=http needs the application public key (64 hex characters)');
      else if (!/^[0-9a-fA-F]{64}$/.test(env.DISCORD_PUBLIC_KEY!.trim())) problems.push('DISCORD_PUBLIC_KEY must be 64 hex characters');
    }
    cfg.discord = {
      token: env.DISCORD_TOKEN?.trim() ?? '',
      appId: env.DISCORD_APP_ID?.trim() ?? '',
      mode,
      publicKey: env.DISCORD_PUBLIC_KEY?.trim(),
      port: int(env, 'DISCORD_HTTP_PORT', 8787, 0, 65535, problems),
    };
    const api = apiUrl(env, 'DISCORD_API_URL', problems);
    if (api) cfg.discord.apiUrl = api;
  }

  if (has('SLACK_BOT_TOKEN') || has('SLACK_SIGNING_SECRET') || has('SLACK_APP_TOKEN')) {
    if (!has('SLACK_BOT_TOKEN')) problems.push('SLACK_BOT_TOKEN is missing: the xoxb- bot token (OAuth & Permissions)');
    else if (!env.SLACK_BOT_TOKEN!.trim().startsWith('xoxb-')) problems.push('SLACK_BOT_TOKEN must be a bot token starting with xoxb-');
    if (!has('SLACK_SIGNING_SECRET') && !has('SLACK_APP_TOKEN'))
      problems.push('Slack needs SLACK_SIGNING_SECRET (HTTP events) or SLACK_APP_TOKEN (Socket Mode, xapp-)');
    if (has('SLACK_APP_TOKEN') && !env.SLACK_APP_TOKEN!.trim().startsWith('xapp-'))
      problems.push('SLACK_APP_TOKEN must be an app-level token starting with xapp-');
    cfg.slack = {
      botToken: env.SLACK_BOT_TOKEN?.trim() ?? '',
      signingSecret: env.SLACK_SIGNING_SECRET?.trim() || undefined,
      appToken: env.SLACK_APP_TOKEN?.trim() || undefined,
      port: int(env, 'SLACK_PORT', 3000, 0, 65535, problems),
    };
    const api = apiUrl(env, 'SLACK_API_URL', problems);
    if (api) cfg.slack.apiUrl = api;
  }

  const playground = env.PAIRSTYLE_PLAYGROUND?.trim() ?? '';
  if (playground && !/^[01]$/.test(playground))
    problems.push(`PAIRSTYLE_PLAYGROUND must be 1 (serve the playground) or 0 (do not) (got '${env.PAIRSTYLE_PLAYGROUND}')`);
  const platforms = Boolean(cfg.discord || cfg.slack);
  if (playground === '1' || (!platforms && playground !== '0')) cfg.playground = { port: int(env, 'PAIRSTYLE_PORT', 8080, 0, 65535, problems) };
  if (!platforms && !cfg.playground) {
    problems.push(
      'nothing to serve: PAIRSTYLE_PLAYGROUND=0 and no chat platform is configured: set DISCORD_TOKEN + DISCORD_APP_ID (Discord) and/or SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET or SLACK_APP_TOKEN (Slack), or drop PAIRSTYLE_PLAYGROUND=0',
    );
  }
  if (problems.length) throw new ConfigError(`the bot cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return cfg;
}
