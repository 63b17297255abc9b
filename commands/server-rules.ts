/**
 * A server's / workspace's settings (src/store/settings.ts) applied to the commands and buttons that
 * run there, after the user's rate limit and before anything else is done:
 *   - allowed channels: every command but `settings` and `help`, every button but cancel;
 *   - the role needed to train (admins need none);
 *   - styles one person may keep here (a new name past it is refused; overwriting is not);
 *   - who may share styles;
 *   - per-user quotas, checked when the job is queued: draws, blends and stylizes queued or running
 *     here, trainings started today (UTC; a training that could not be queued is not counted).
 * The bot's own limits (config/bot.ts, the queue's caps, the rate limit) still hold: a server can only
 * narrow them. Refusals are CommandErrors, which every adapter shows to their user alone.
 */
import { msg } from '../src/i18n/message.ts';
import { isQuick, type JobQueue } from '../src/queue/job.ts';
import { SettingsStore, type ServerSettings } from '../src/store/settings.ts';
import { checkStyleName } from '../src/store/style-directory.ts';
import { CommandError, type CommandContext, type Options } from './types.ts';

/** Commands that work in every channel: the settings themselves (so admins can always change them) and help. */
const ANYWHERE = new Set(['settings', 'help']);

export const channelList = (ids: readonly string[]): string => ids.map((c) => `<#${c}>`).join(', ');

/**
 * `ctx` with the server's rules applied for `command` (a subcommand's name with its checked options, or
 * 'button'): refuses what the rules forbid, and returns a context whose queue keeps the quotas.
 */
export async function withServerRules(ctx: CommandContext, command: string, options: Options = {}): Promise<CommandContext> {
  if (ANYWHERE.has(command)) return ctx;
  const rules = await SettingsStore.beside(ctx.registry).server(ctx.who);
  if (rules.channels && !(ctx.channel && rules.channels.includes(ctx.channel))) {
    throw new CommandError(msg('rules.channel', { channels: channelList(rules.channels) }), 'not-allowed');
  }
  if (command === 'train' || command === 'retrain') await checkTraining(ctx, rules, options);
  if (command === 'share' && rules.sharing === 'admins' && !ctx.isAdmin) {
    throw new CommandError(msg('rules.share-admins'), 'not-allowed');
  }
  if (rules.queuedDraws === undefined && rules.trainingsPerDay === undefined) return ctx;
  return { ...ctx, queue: quotaQueue(ctx, rules) };
}

async function checkTraining(ctx: CommandContext, rules: ServerSettings, options: Options): Promise<void> {
  const role = rules.trainRole;
  // @everyone's role id is the server's id: everyone has it.
  if (role && role !== ctx.who.workspace && !ctx.isAdmin && !ctx.roles?.includes(role)) {
    throw new CommandError(msg('rules.train-role', { role }), 'not-allowed');
  }
  const limit = rules.maxStyles;
  if (limit === undefined || typeof options.name !== 'string') return;
  const name = checkStyleName(options.name);
  const { own } = await ctx.registry.list(ctx.who);
  if (own.length >= limit && !own.some((e) => e.name === name)) {
    throw new CommandError(msg('rules.max-styles', { count: own.length, limit }), 'limit');
  }
}

/** The context's queue, with the server's per-user quotas checked on every submit. */
function quotaQueue(ctx: CommandContext, rules: ServerSettings): JobQueue {
  const queue = ctx.queue;
  return {
    submit: async (owner, job, opts) => {
      if (isQuick(job.kind) && rules.queuedDraws !== undefined) {
        const mine = queue.jobsOf(owner).filter((j) => isQuick(j.job.kind)).length;
        if (mine >= rules.queuedDraws) {
          const drawings = mine === 1 ? msg('rules.one-drawing') : msg('rules.n-drawings', { count: mine });
          throw new CommandError(msg('rules.draws', { drawings, limit: rules.queuedDraws }), 'limit');
        }
      }
      if (job.kind !== 'train' || rules.trainingsPerDay === undefined) return queue.submit(owner, job, opts);
      const perDay = rules.trainingsPerDay;
      const giveBack = await SettingsStore.beside(ctx.registry).takeTraining(
        owner,
        perDay,
        (count) =>
          new CommandError(
            msg('rules.trainings-today', { trainings: count === 1 ? msg('rules.one-training') : msg('queue.n-trainings', { count }), limit: perDay }),
            'limit',
          ),
      );
      try {
        return await queue.submit(owner, job, opts);
      } catch (e) {
        await giveBack().catch(() => undefined);
        throw e;
      }
    },
    get: (id) => queue.get(id),
    jobsOf: (owner) => queue.jobsOf(owner),
    cancel: (id, by) => queue.cancel(id, by),
    finished: (id) => queue.finished(id),
    on: (listener) => queue.on(listener),
    delivered: (id) => queue.delivered(id),
    close: () => queue.close(),
  };
}
