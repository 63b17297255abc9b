/**
 * Slack with @slack/bolt: `/pairstyle <subcommand> …` over the HTTP receiver (signing secret) or Socket
 * Mode (app token). ack() first, then work: short answers go back ephemerally through respond(); jobs
 * post a progress message that chat.update keeps current (at most every 2 s) and finish with the final
 * text + buttons and the images uploaded with files.uploadV2.
 */
import { App, LogLevel, type AppOptions } from '@slack/bolt';
import type { webApi } from '@slack/bolt';

type WebClient = webApi.WebClient;
import {
  errorText,
  followJob,
  isUserError,
  runButton,
  runCommand,
  findCommand,
  type CommandContext,
  type Outcome,
  type Reply,
} from '../../../commands/index.ts';
import type { CommandLimits } from '../../../commands/types.ts';
import type { Job, JobQueue, ReplyRoute } from '../../queue/job.ts';
import { finalizeJob } from '../../../commands/finalize.ts';
import type { Scope, StyleRegistry } from '../../store/style-registry.ts';
import { afterPendingAcks } from '../after-acks.ts';
import { slackBlocks, slackText } from './blocks.ts';
import { slackAttachments, type SlackFileAccess } from './files.ts';
import { parseCommandText } from '../../../commands/text.ts';
import { localeOf, type Locale } from '../../i18n/message.ts';
import { isReplayRefusal, protectFromReplays, signedHttpReceiver } from './replay.ts';

export interface SlackOptions {
  registry: StyleRegistry;
  queue: JobQueue;
  limits: CommandLimits;
  botToken: string;
  /** HTTP mode. */
  signingSecret?: string;
  /** Socket Mode (xapp- token). */
  appToken?: string;
  minEditIntervalMs?: number;
  /** Tests: a loopback fake of the Web API, and its file host. */
  clientOptions?: AppOptions['clientOptions'];
  allowInsecureFileOrigins?: readonly string[];
  tokenVerificationEnabled?: boolean;
  log?: (msg: string, e?: unknown) => void;
}

type Respond = (msg: { response_type?: 'ephemeral' | 'in_channel'; text: string; replace_original?: boolean }) => Promise<unknown>;

/** What the bot needs to know of a user, from one users.info call: admin rights, and their language (include_locale). Neither when Slack does not answer. */
async function slackUser(client: WebClient, user: string): Promise<{ isAdmin: boolean; locale: Locale }> {
  try {
    const r = await client.users.info({ user, include_locale: true });
    return { isAdmin: Boolean(r.user?.is_admin || r.user?.is_owner), locale: localeOf(r.user?.locale) };
  } catch {
    return { isAdmin: false, locale: 'en' };
  }
}

async function uploadFiles(client: WebClient, channel: string, reply: Reply): Promise<void> {
  const files = [
    ...(reply.images ?? []).map((i) => ({ file: Buffer.from(i.png), filename: i.name })),
    ...(reply.files ?? []).map((f) => ({ file: Buffer.from(f.data), filename: f.name })),
  ];
  if (!files.length) return;
  await client.files.uploadV2({ channel_id: channel, file_uploads: files });
}

/** Runs an outcome: replies go back through respond (ephemeral or not), jobs get a live message in the channel. */
async function deliver(
  opts: SlackOptions,
  client: WebClient,
  outcome: Outcome,
  where: { channel: string; user: string; ephemeral: boolean },
  respond: Respond,
): Promise<void> {
  if (outcome.type === 'reply') {
    await respond({ response_type: where.ephemeral ? 'ephemeral' : 'in_channel', text: slackBlocks(outcome.reply).text });
    if (outcome.reply.files?.length || outcome.reply.images?.length) {
      // Files cannot be ephemeral on Slack: private ones (an export) go to the user's DM with the bot.
      const channel = where.ephemeral ? (await client.conversations.open({ users: where.user })).channel?.id : where.channel;
      if (!channel) throw new Error('could not open a direct message to send the file');
      await uploadFiles(client, channel, outcome.reply);
    }
    return;
  }
  await followSlackJob(opts, client, outcome.job, outcome.finalize, where.channel);
}

/** A job's reply route on Slack: the channel its progress message and final images go to. */
export interface SlackRoute extends ReplyRoute {
  platform: 'slack';
  channel: string;
  user: string;
}

/** Follows a job to its user on Slack after a restart, through the journaled route (a fresh message in the channel). */
export function resumeSlackJob(opts: SlackOptions, client: WebClient, job: Job): Promise<void> {
  const route = job.route as SlackRoute;
  return followSlackJob(opts, client, job, (j) => finalizeJob(opts.registry, j), route.channel);
}

/** A message in the channel that chat.update keeps current; the final images are uploaded under it. */
async function followSlackJob(opts: SlackOptions, client: WebClient, job: Job, finalize: (j: Job) => Promise<Reply>, channel: string): Promise<void> {
  const where = { channel };
  let ts: string | undefined;
  await followJob(opts.queue, job, finalize, {
    minIntervalMs: opts.minEditIntervalMs,
    onError: (e) => (opts.log ?? console.error)('slack job reply failed', e),
    update: async (reply, final) => {
      const b = slackBlocks(reply);
      if (!ts) {
        const r = await client.chat.postMessage({ channel: where.channel, text: b.text, blocks: b.blocks });
        ts = r.ts;
      } else await client.chat.update({ channel: where.channel, ts, text: b.text, blocks: b.blocks });
      // Progress previews (reply.images before the final reply) are not shown on Slack: a message
      // cannot swap its image in place, and a files.uploadV2 per progress edit (3 API calls, a new
      // file in the channel each time) is too heavy. Only the final images are uploaded.
      if (final) await uploadFiles(client, where.channel, reply);
    },
  });
}

export function createSlackApp(opts: SlackOptions): App {
  const log = opts.log ?? ((m: string, e?: unknown) => console.error(`[slack] ${m}`, e ?? ''));
  const socketMode = Boolean(opts.appToken) && !opts.signingSecret;
  if (!socketMode && !opts.signingSecret)
    throw new Error('Slack over HTTP needs the signing secret (SLACK_SIGNING_SECRET), or use Socket Mode (SLACK_APP_TOKEN)');
  const app = new App({
    token: opts.botToken,
    // HTTP: Bolt's signature check, plus replay refusal (src/bot/slack/replay.ts).
    ...(socketMode ? { socketMode: true, appToken: opts.appToken } : { receiver: signedHttpReceiver(opts.signingSecret!) }),
    clientOptions: opts.clientOptions,
    tokenVerificationEnabled: opts.tokenVerificationEnabled,
    logLevel: LogLevel.ERROR,
  });
  if (!socketMode) protectFromReplays(app);
  const access: SlackFileAccess = { botToken: opts.botToken, allowInsecureOrigins: opts.allowInsecureFileOrigins };
  // The user's language: replies, refusals and the job's route (its progress and final reply) are in it.
  const context = (user: { isAdmin: boolean; locale: Locale }, who: Scope, needAdmin: boolean, channel?: string): CommandContext => ({
    who,
    isAdmin: needAdmin ? user.isAdmin : false,
    registry: opts.registry,
    queue: opts.queue,
    limits: opts.limits,
    locale: user.locale,
    ...(channel ? { route: { platform: 'slack', channel, user: who.user, locale: user.locale } satisfies SlackRoute } : {}),
  });

  app.command('/pairstyle', async ({ command, ack, respond, client }) => {
    await ack();
    await afterPendingAcks();
    const who: Scope = { platform: 'slack', workspace: command.team_id, user: command.user_id };
    const user = await slackUser(client, command.user_id);
    let ephemeral = true;
    try {
      const { subcommand, options } = parseCommandText(command.text ?? '');
      const spec = findCommand(subcommand);
      ephemeral = spec.ephemeral;
      const files = await slackAttachments(client, access, { channel: command.channel_id, user: command.user_id }, spec, options);
      const ctx = context(user, who, spec.needsAdmin ?? false, command.channel_id);
      const outcome = await runCommand(ctx, subcommand, files);
      await deliver(opts, client, outcome, { channel: command.channel_id, user: command.user_id, ephemeral }, respond as Respond);
    } catch (e) {
      if (!isUserError(e)) log('command failed', e);
      await respond({ response_type: 'ephemeral', text: slackText(errorText(e, user.locale)) }).catch((err) => log('could not respond', err));
    }
  });

  app.action(/^ps:/, async ({ ack, body, action, client, respond }) => {
    await ack();
    await afterPendingAcks();
    const b = body as { team?: { id: string }; user: { id: string; team_id?: string }; channel?: { id: string } };
    const who: Scope = { platform: 'slack', workspace: b.team?.id ?? b.user.team_id ?? 'unknown', user: b.user.id };
    const id = (action as { action_id: string }).action_id;
    const user = await slackUser(client, b.user.id);
    try {
      const outcome = await runButton(context(user, who, false, b.channel?.id), id);
      if (!b.channel?.id) throw new Error('button without a channel');
      await deliver(opts, client, outcome, { channel: b.channel.id, user: b.user.id, ephemeral: true }, respond as Respond);
    } catch (e) {
      if (!isUserError(e)) log('button failed', e);
      await respond({ response_type: 'ephemeral', text: slackText(errorText(e, user.locale)), replace_original: false }).catch((err) =>
        log('could not respond', err),
      );
    }
  });

  app.error(async (e) => {
    if (isReplayRefusal(e)) throw e; // answered 401 by the receiver
    log('bolt error', e);
  });
  return app;
}
