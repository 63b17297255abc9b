/**
 * Slack with @slack/bolt: `/pairstyle <subcommand> …` over the HTTP receiver (signing secret) or Socket
 * Mode (app token). ack() first, then work: short answers go back ephemerally through respond(); jobs
 * post a progress message that chat.update keeps current (at most every 2 s), with the progress preview
 * and then the final images shown inside it, above their buttons (src/bot/slack/message-images.ts). A
 * training first asks its user to confirm the pair (src/bot/slack/train-confirmation.ts).
 */
import { App, LogLevel, type AppOptions, type Middleware, type SlackActionMiddlewareArgs } from '@slack/bolt';
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
import { deleteFiles, uploadForMessage } from './message-images.ts';
import { askToTrain, checkTraining, CONFIRMATION_ACTION, PendingTrainings, postConfirmation, pressConfirmation } from './train-confirmation.ts';
import { formErrorBlock, TRAIN_FORM, trainFormOptions, trainFormView } from './train-form.ts';

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
  /** A new progress preview is uploaded at most this often (ms; default 6000): each costs Slack 4 calls or more. */
  previewEveryMs?: number;
  /** How long to wait for Slack to process an uploaded picture before the message goes without it (ms; default 15000). */
  imageProcessingWaitMs?: number;
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

/**
 * A message in the channel that chat.update keeps current (a new one, or `existing`: a training's
 * confirmation), showing the progress preview and then the final images inside it, above the buttons.
 * Images Slack could not show in the message (not processed in time) and other files (a style file)
 * are uploaded to the channel under it.
 */
async function followSlackJob(
  opts: SlackOptions,
  client: WebClient,
  job: Job,
  finalize: (j: Job) => Promise<Reply>,
  channel: string,
  existing?: string,
): Promise<void> {
  const log = (e: unknown) => (opts.log ?? console.error)('slack job reply failed', e);
  let ts = existing;
  /** The files the message shows, and the preview they are. */
  let shown: string[] = [];
  let shownPreview: Uint8Array | undefined;
  let previewAt = 0;
  const show = async (reply: Reply, final: boolean): Promise<string[]> => {
    const images = reply.images ?? [];
    if (!images.length) return [];
    if (final) return (await uploadForMessage(client, images, opts.imageProcessingWaitMs).catch((e) => void log(e))) ?? [];
    const fresh = !shownPreview || !Buffer.from(images[0].png).equals(shownPreview);
    if (!fresh || Date.now() - previewAt < (opts.previewEveryMs ?? 6000)) return shown;
    const ids = await uploadForMessage(client, images, opts.imageProcessingWaitMs).catch((e) => void log(e));
    if (!ids) return shown;
    [shownPreview, previewAt] = [images[0].png, Date.now()];
    return ids;
  };
  await followJob(opts.queue, job, finalize, {
    minIntervalMs: opts.minEditIntervalMs,
    onError: log,
    update: async (reply, final) => {
      let files = await show(reply, final);
      const put = async (images: string[]) => {
        const b = slackBlocks(reply, images);
        if (!ts) ts = (await client.chat.postMessage({ channel, text: b.text, blocks: b.blocks })).ts;
        else await client.chat.update({ channel, ts, text: b.text, blocks: b.blocks });
      };
      try {
        await put(files);
      } catch (e) {
        if (!files.length || files === shown) throw e;
        // Slack refused to show the new pictures: the message without them (the final ones go below it).
        log(e);
        await deleteFiles(client, files).catch(log);
        files = [];
        await put(files);
      }
      const gone = shown.filter((id) => !files.includes(id));
      shown = files;
      if (gone.length) await deleteFiles(client, gone).catch(log);
      if (final) await uploadFiles(client, channel, { ...reply, images: files.length ? [] : reply.images });
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
  const pending = new PendingTrainings();
  const access: SlackFileAccess = { botToken: opts.botToken, allowInsecureOrigins: opts.allowInsecureFileOrigins };
  // The user's language: replies, refusals and the job's route (its progress and final reply) are in it.
  const context = (user: { isAdmin: boolean; locale: Locale }, who: Scope, needAdmin: boolean, channel?: string): CommandContext => ({
    who,
    isAdmin: needAdmin ? user.isAdmin : false,
    registry: opts.registry,
    queue: opts.queue,
    limits: opts.limits,
    locale: user.locale,
    ...(channel ? { route: { platform: 'slack', channel, user: who.user, locale: user.locale } satisfies SlackRoute, channel } : {}),
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
      // `/pairstyle train` alone: the form with two file inputs (src/bot/slack/train-form.ts).
      if (spec.name === 'train' && !Object.keys(options).length)
        return void (await client.views.open({ trigger_id: command.trigger_id, view: trainFormView(command.channel_id, user.locale) }));
      const files = await slackAttachments(client, access, { channel: command.channel_id, user: command.user_id }, spec, options);
      const ctx = context(user, who, spec.needsAdmin ?? false, command.channel_id);
      if (spec.name === 'train') return await askToTrain(client, pending, ctx, files, command.channel_id);
      const outcome = await runCommand(ctx, subcommand, files);
      await deliver(opts, client, outcome, { channel: command.channel_id, user: command.user_id, ephemeral }, respond as Respond);
    } catch (e) {
      if (!isUserError(e)) log('command failed', e);
      await respond({ response_type: 'ephemeral', text: slackText(errorText(e, user.locale)) }).catch((err) => log('could not respond', err));
    }
  });

  // Every button but a training's confirmation: PairStyle's own (ps:…), and any other id (a button of an
  // earlier version, a forged payload), which runButton refuses with a private message. Acknowledged at
  // once either way: an action no listener takes is left unanswered, and Slack shows the user an error.
  const notConfirmation: Middleware<SlackActionMiddlewareArgs> = async ({ action, next }) => {
    if (!CONFIRMATION_ACTION.test(String((action as { action_id?: unknown }).action_id))) await next();
  };
  app.action(/[\s\S]*/, notConfirmation, async ({ ack, body, action, client, respond }) => {
    await ack();
    await afterPendingAcks();
    const b = body as { team?: { id: string }; user: { id: string; team_id?: string }; channel?: { id: string } };
    const who: Scope = { platform: 'slack', workspace: b.team?.id ?? b.user.team_id ?? 'unknown', user: b.user.id };
    const id = String((action as { action_id?: unknown }).action_id);
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

  // The buttons of a training's confirmation (only its user may press them; refusals are private).
  app.action(CONFIRMATION_ACTION, async ({ ack, body, action, client, respond }) => {
    await ack();
    await afterPendingAcks();
    const b = body as { team?: { id: string }; user: { id: string; team_id?: string }; channel?: { id: string } };
    const who: Scope = { platform: 'slack', workspace: b.team?.id ?? b.user.team_id ?? 'unknown', user: b.user.id };
    const user = await slackUser(client, b.user.id);
    try {
      await pressConfirmation(client, pending, context(user, who, false, b.channel?.id), (action as { action_id: string }).action_id, (job, finalize, at) =>
        followSlackJob(opts, client, job, finalize, at.channel, at.ts),
      );
    } catch (e) {
      if (!isUserError(e)) log('confirmation button failed', e);
      await respond({ response_type: 'ephemeral', text: slackText(errorText(e, user.locale)), replace_original: false }).catch((err) =>
        log('could not respond', err),
      );
    }
  });

  // The training form's submission: refused in the form, or closed and followed by the confirmation.
  app.view(TRAIN_FORM, async ({ ack, body, view, client }) => {
    const who: Scope = { platform: 'slack', workspace: body.team?.id ?? body.user.team_id ?? 'unknown', user: body.user.id };
    const form = trainFormOptions(view, access);
    const user = await slackUser(client, body.user.id);
    let options: Awaited<ReturnType<typeof checkTraining>>;
    try {
      options = await checkTraining(context(user, who, false, form.channel), form.options);
    } catch (e) {
      if (!isUserError(e)) log('training form failed', e);
      const text = errorText(e, user.locale).slice(0, 300);
      return void (await ack({ response_action: 'errors', errors: { [formErrorBlock(text)]: text } }));
    }
    await ack();
    await postConfirmation(client, pending, who, options, form.channel, user.locale).catch(async (e) => {
      log('training form: confirmation failed', e);
      await client.chat
        .postEphemeral({ channel: form.channel, user: who.user, text: slackText(errorText(e, user.locale)) })
        .catch((err) => log('could not tell', err));
    });
  });

  app.error(async (e) => {
    if (isReplayRefusal(e)) throw e; // answered 401 by the receiver
    log('bolt error', e);
  });
  return app;
}
