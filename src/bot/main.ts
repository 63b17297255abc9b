/**
 * npm start / npm run bot: the PairStyle bot on the configured platforms (config/bot.ts), and the local
 * playground web page when no platform is configured (or PAIRSTYLE_PLAYGROUND=1); one in-process queue
 * with an engine thread per device, style registries in Keyv. Stops cleanly on SIGINT / SIGTERM.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REST } from '@discordjs/rest';
import { ConfigError, loadBotConfig, type BotConfig } from '../../config/bot.ts';
import { checkDevice, DeviceUnavailableError } from '../graph/providers.ts';
import { DEFAULT_COMMAND_LIMITS } from '../../commands/types.ts';
import { UserRateLimiter } from '../../commands/rate-limit.ts';
import { WorkerExecutor } from '../../workers/executor.ts';
import type { TaskOptions } from '../../workers/tasks/bot-jobs.ts';
import { InProcessQueue } from '../queue/in-process.ts';
import { BullmqQueue } from '../queue/bullmq.ts';
import { openKeyv } from '../store/open-keyv.ts';
import { StyleRegistry } from '../store/style-registry.ts';
import { finalizeJob } from '../../commands/finalize.ts';
import type { Job } from '../queue/job.ts';
import { JobJournal } from '../queue/journal.ts';
import { resumeDiscordJob } from './discord/flow.ts';
import { startDiscordGateway } from './discord/gateway.ts';
import { startDiscordHttp } from './discord/http.ts';
import { startPlayground } from './playground/server.ts';
import { createSlackApp, resumeSlackJob } from './slack/app.ts';

/** Test seams: loopback fakes of the platform APIs (over DISCORD_API_URL / SLACK_API_URL, with test client settings), faster engine settings. */
export interface BotOverrides {
  discordApi?: string;
  slackApiUrl?: string;
  /** Loopback origins whose files may be downloaded over http. */
  fileOrigins?: string[];
  task?: Omit<TaskOptions, 'model'>;
  minEditIntervalMs?: number;
  host?: string;
}

export async function startBot(cfg: BotConfig, o: BotOverrides = {}) {
  const registry = new StyleRegistry(await openKeyv(cfg.storeUrl), { maxStylesPerUser: cfg.maxStylesPerUser });
  // In-process: engine threads here, a journal in the store for restarts. BullMQ: worker processes run
  // the jobs and Redis is the durable record (src/queue/bullmq.ts).
  const journal = cfg.queue.backend === 'in-process' ? new JobJournal(await openKeyv(cfg.storeUrl, 'pairstyle-jobs')) : undefined;
  // Measured times are kept per job kind and model (src/queue/estimator.ts).
  const model = `${cfg.model.path} on ${cfg.model.device} ${cfg.model.precision}`;
  const queue =
    cfg.queue.backend === 'bullmq'
      ? await BullmqQueue.open({ redisUrl: cfg.queue.redisUrl, prefix: cfg.queue.prefix, botId: cfg.queue.botId, limits: { maxQueued: cfg.maxQueued }, model })
      : new InProcessQueue({
          model,
          executors: Array.from({ length: cfg.devices }, () => new WorkerExecutor({ ...o.task, model: { config: cfg.model } })),
          limits: { maxQueued: cfg.maxQueued },
          journal,
        });
  /** Per platform: how a job read back from the journal is followed to its user. */
  const resumers = new Map<string, (job: Job) => void>();
  const limits = { ...DEFAULT_COMMAND_LIMITS, maxUploadBytes: cfg.maxUploadBytes, userRate: new UserRateLimiter({ perMinute: cfg.commandsPerMinute }) };
  const deps = { registry, queue, limits, minEditIntervalMs: o.minEditIntervalMs };
  const ports: { discord?: number; slack?: number; playground?: number } = {};
  let playgroundUrl: string | undefined;
  const stops: (() => Promise<unknown>)[] = [];
  if (cfg.discord?.mode === 'gateway') {
    const client = await startDiscordGateway(cfg.discord.token, deps, o.discordApi ?? cfg.discord.apiUrl);
    stops.push(() => client.destroy());
    resumers.set('discord', (job) => void resumeDiscordJob(deps, client.rest, job));
    console.log(`discord: gateway connected as ${client.user?.tag ?? '?'}`);
  } else if (cfg.discord) {
    const api = o.discordApi ?? cfg.discord.apiUrl;
    const rest = new REST({ version: '10', ...(api ? { api } : {}) }).setToken(cfg.discord.token);
    const { server, port } = await startDiscordHttp(
      { ...deps, publicKey: cfg.discord.publicKey!, applicationId: cfg.discord.appId, rest, fileAccess: { allowInsecureOrigins: o.fileOrigins } },
      cfg.discord.port,
      o.host,
    );
    ports.discord = port;
    resumers.set('discord', (job) => void resumeDiscordJob(deps, rest, job));
    stops.push(() => new Promise((r) => server.close(r)));
    console.log(`discord: interactions endpoint on :${port} (set it as the Interactions Endpoint URL)`);
  }
  if (cfg.slack) {
    const slackOptions = {
      ...deps,
      ...cfg.slack,
      ...(cfg.slack.apiUrl ? { clientOptions: { slackApiUrl: cfg.slack.apiUrl } } : {}),
      ...(o.slackApiUrl ? { clientOptions: { slackApiUrl: o.slackApiUrl, retryConfig: { retries: 0 } }, tokenVerificationEnabled: false } : {}),
      allowInsecureFileOrigins: o.fileOrigins,
    };
    const app = createSlackApp(slackOptions);
    resumers.set('slack', (job) => void resumeSlackJob(slackOptions, app.client, job));
    const server = (await app.start(o.host ? { port: cfg.slack.port, host: o.host } : cfg.slack.port)) as { address?: () => unknown };
    ports.slack = (server?.address?.() as { port?: number } | undefined)?.port;
    stops.push(() => app.stop());
    console.log(cfg.slack.signingSecret ? `slack: events on :${cfg.slack.port}/slack/events` : 'slack: connected in Socket Mode');
  }
  if (cfg.playground) {
    const pg = await startPlayground({ ...deps, minEditIntervalMs: o.minEditIntervalMs }, cfg.playground.port, '127.0.0.1');
    ports.playground = pg.port;
    resumers.set('playground', pg.resume);
    playgroundUrl = pg.url;
    stops.unshift(() => new Promise((r) => (pg.server.closeAllConnections(), pg.server.close(r))));
    console.log(`playground: open ${pg.url} in a browser`);
  }
  // Jobs journaled by the last run: queued ones run, an interrupted one is retried once, and every
  // reply goes to its user through the platform that took the command.
  const recovered = await queue.recover((job) => {
    const resume = job.route && resumers.get(job.route.platform);
    if (resume) return resume(job);
    // Nobody to tell (that platform is not configured now): a finished train still stores its style.
    void queue.finished(job.id).then(async (j) => {
      if (j.status === 'done' && j.kind === 'train') await finalizeJob(registry, j).catch((e) => console.error('[recover] could not store a style', e));
      await queue.delivered(j.id);
    });
  });
  const total = recovered.queued + recovered.retried + recovered.failed + recovered.finished;
  if (total || recovered.unreadable) {
    console.log(
      `recovered ${total} journaled jobs: ${recovered.queued} queued, ${recovered.retried} interrupted and started again, ${recovered.failed} failed after a second interruption, ${recovered.finished} finished but not yet delivered${recovered.unreadable ? `; ${recovered.unreadable} unreadable records dropped` : ''}`,
    );
  }
  return {
    registry,
    queue,
    ports,
    recovered,
    playgroundUrl,
    async stop() {
      for (const s of stops) await s().catch(() => undefined);
      await queue.close();
      await registry.close();
      await journal?.close();
    },
  };
}

async function main() {
  let cfg: BotConfig;
  try {
    cfg = loadBotConfig();
    // Engine threads run here only with the in-process queue (BullMQ: the workers run the jobs). A
    // GPU host without the CUDA provider fails now, with the cure, not on the first job.
    if (cfg.queue.backend === 'in-process') checkDevice(cfg.model.device);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof DeviceUnavailableError) {
      console.error(`pairstyle: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const bot = await startBot(cfg);
  const stop = async () => {
    console.log('stopping…');
    await bot.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
