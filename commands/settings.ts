/**
 * /pairstyle settings [style] [strength] [steps] [seed] [channels] [train_role] [queued_draws]
 * [trainings_per_day] [max_styles] [sharing] [reset]: with no options, shows the caller's settings and
 * their server's / workspace's (privately); with options, changes them. The caller's own defaults apply
 * to their draws, stylizes and blends here (commands/user-defaults.ts); the server's settings are its
 * admins' to change (the platform says who is one: Discord's Manage Server or Administrator permission,
 * Slack's workspace admins and owners) and apply to everyone there (commands/server-rules.ts).
 * Everything given is checked before anything is saved, and saved at once or not at all.
 */
import { msg } from '../src/i18n/message.ts';
import { DEFAULT_LIMITS } from '../src/queue/job-book.ts';
import {
  SERVER_SETTING_NAMES,
  SETTING_BOUNDS,
  SettingsStore,
  SHARING,
  USER_SETTING_NAMES,
  type ServerSettings,
  type Settings,
  type SettingsChange,
  type Sharing,
  type UserSettings,
} from '../src/store/settings.ts';
import { checkStyleName } from '../src/store/style-directory.ts';
import { RegistryError } from '../src/store/style-registry.ts';
import { parseDecimal, printable, randomSeed } from './options.ts';
import { channelList } from './server-rules.ts';
import { withStyleSuggestions } from './style-names.ts';
import { CommandError, defineCommand, reply, type CommandContext } from './types.ts';
import { DRAW_DEFAULTS } from './user-defaults.ts';

/** Option names (as typed) of the server's settings, and the stored field each sets. */
const SERVER_OPTIONS = {
  channels: 'channels',
  train_role: 'trainRole',
  queued_draws: 'queuedDraws',
  trainings_per_day: 'trainingsPerDay',
  max_styles: 'maxStyles',
  sharing: 'sharing',
} as const satisfies Record<string, keyof ServerSettings>;

const NO_LIMIT = /^(all|any|anyone|everyone|everywhere|none|off)$/i;
const MAX_SEED = SETTING_BOUNDS.seed.max;

export const settings = defineCommand({
  name: 'settings',
  description: msg('describe.settings'),
  ephemeral: true,
  // Only admins change the server's settings: the adapter must find out whether the caller is one.
  needsAdmin: true,
  options: [
    { name: 'style', type: 'string', autocomplete: true, maxLength: 32, description: msg('describe.settings.style') },
    { name: 'strength', type: 'number', min: 0, max: 10, description: msg('describe.settings.strength', { strength: DRAW_DEFAULTS.strength }) },
    { name: 'steps', type: 'integer', min: 1, max: 100, description: msg('describe.settings.steps', { steps: DRAW_DEFAULTS.steps }) },
    { name: 'seed', type: 'string', maxLength: 12, description: msg('describe.settings.seed') },
    { name: 'channels', type: 'string', maxLength: 1000, description: msg('describe.settings.channels') },
    { name: 'train_role', type: 'string', maxLength: 40, description: msg('describe.settings.train_role') },
    { name: 'queued_draws', type: 'integer', min: 1, max: DEFAULT_LIMITS.perUserDraws, description: msg('describe.settings.queued_draws') },
    { name: 'trainings_per_day', type: 'integer', min: 1, max: 1000, description: msg('describe.settings.trainings_per_day') },
    { name: 'max_styles', type: 'integer', min: 1, max: 100_000, description: msg('describe.settings.max_styles') },
    { name: 'sharing', type: 'string', maxLength: 12, description: msg('describe.settings.sharing', { choices: SHARING.join(' / ') }) },
    { name: 'reset', type: 'string', maxLength: 200, description: msg('describe.settings.reset') },
  ],
  async run(ctx, o) {
    const store = SettingsStore.beside(ctx.registry);
    const given = Object.keys(o);
    if (!given.length) return reply(describeSettings(ctx, await store.read(ctx.who)));
    const reset = o.reset !== undefined ? resetNames(o.reset) : { user: [], server: [] };
    // The server's settings are its admins' alone: refused before any value is even read.
    const forServer = given.some((k) => Object.hasOwn(SERVER_OPTIONS, k)) || reset.server.length > 0;
    if (forServer && !ctx.isAdmin) {
      throw new CommandError(
        'only admins of this server/workspace can change its settings (Discord: Manage Server or Administrator; Slack: workspace admins and owners); nothing was changed',
        'not-allowed',
      );
    }
    const user: NonNullable<SettingsChange['user']> = {};
    if (o.style !== undefined) user.style = await defaultStyle(ctx, o.style);
    if (o.strength !== undefined) user.strength = o.strength;
    if (o.steps !== undefined) user.steps = stepsWithin(o.steps, ctx.limits.maxDrawSteps);
    if (o.seed !== undefined) user.seed = seedSetting(o.seed);
    const server: NonNullable<SettingsChange['server']> = {};
    if (o.channels !== undefined) server.channels = channelSetting(o.channels, ctx.channel);
    if (o.train_role !== undefined) server.trainRole = roleSetting(ctx, o.train_role);
    if (o.queued_draws !== undefined) server.queuedDraws = o.queued_draws;
    if (o.trainings_per_day !== undefined) server.trainingsPerDay = o.trainings_per_day;
    if (o.max_styles !== undefined) server.maxStyles = maxStylesWithin(o.max_styles, ctx.registry.opts.maxStylesPerUser);
    if (o.sharing !== undefined) server.sharing = sharingSetting(o.sharing);
    const change: SettingsChange = {
      ...(Object.keys(user).length || reset.user.length ? { user, resetUser: reset.user } : {}),
      ...(forServer ? { server, resetServer: reset.server } : {}),
    };
    const saved = await store.update(ctx.who, change);
    return reply(`✅ saved.\n${describeSettings(ctx, saved)}`);
  },
});

/** The default style: one the caller can use now (their own, or one shared here); 'none' clears it. */
async function defaultStyle(ctx: CommandContext, typed: string): Promise<string | undefined> {
  if (/^none$/i.test(typed.trim())) return undefined;
  const entry = await withStyleSuggestions(ctx, typed, async () => {
    const found = await ctx.registry.resolve(ctx.who, typed);
    if (!found)
      throw new RegistryError(`no style named '${checkStyleName(typed)}' that you can use (see /pairstyle list), so it cannot be your default`, 'not-found');
    return found;
  });
  return entry.name;
}

function stepsWithin(steps: number, max: number): number {
  if (steps > max) throw new CommandError(`'steps' is at most ${max} here; nothing was changed`);
  return steps;
}

function maxStylesWithin(n: number, botLimit: number | undefined): number {
  if (botLimit !== undefined && n > botLimit)
    throw new CommandError(`'max_styles' can be at most ${botLimit}, the bot's own limit per person; nothing was changed`);
  return n;
}

/** 'random', 'fixed' (a seed chosen now, kept), or the seed itself. */
function seedSetting(typed: string): UserSettings['seed'] {
  const t = typed.trim().toLowerCase();
  if (t === 'random') return 'random';
  if (t === 'fixed') return randomSeed();
  const n = parseDecimal(t);
  if (!Number.isInteger(n) || n < 0 || n > MAX_SEED)
    throw new CommandError(`'seed' must be 'random', 'fixed' or a whole number from 0 to ${MAX_SEED} (got '${printable(typed, 20)}'); nothing was changed`);
  return n;
}

/** Channel mentions (<#id> or Slack's <#id|name>), channel ids, or 'here'; 'all' lifts the limit. */
function channelSetting(typed: string, here: string | undefined): string[] | undefined {
  const words = typed.split(/[\s,]+/).filter(Boolean);
  if (words.length === 1 && NO_LIMIT.test(words[0])) return undefined;
  if (!words.length) throw new CommandError("'channels' needs at least one channel (#channel or 'here'), or 'all'; nothing was changed");
  const ids: string[] = [];
  for (const w of words) {
    const mention = /^<#([A-Za-z0-9]{1,40})(\|[^>]*)?>$/.exec(w);
    let id: string | undefined;
    if (w.toLowerCase() === 'here') {
      if (!here) throw new CommandError("'here' names no channel in this place; name the channels instead; nothing was changed");
      id = here;
    } else if (mention) id = mention[1];
    else if (/^(\d{15,22}|[CG][A-Z0-9]{6,20})$/.test(w)) id = w;
    else
      throw new CommandError(
        `'${printable(w, 40)}' is not a channel: pick it with # so that it becomes a link (on Slack, a channel typed as plain text cannot be told apart from a word), or write 'here' for this channel; nothing was changed`,
      );
    if (!ids.includes(id)) ids.push(id);
  }
  if (ids.length > SETTING_BOUNDS.channels.max) throw new CommandError(`at most ${SETTING_BOUNDS.channels.max} channels; nothing was changed`);
  return ids;
}

/** A role mention (<@&id>) or id; 'none' lifts it. Only where the platform tells the bot its users' roles. */
function roleSetting(ctx: CommandContext, typed: string): string | undefined {
  if (NO_LIMIT.test(typed.trim())) return undefined;
  if (ctx.roles === undefined)
    throw new CommandError(
      "a role to train exists on Discord only: here the bot is not told its users' roles (Slack's user groups would need another permission and a paid plan); limit training with trainings_per_day or channels instead; nothing was changed",
    );
  const m = /^(?:<@&(\d{1,22})>|(\d{15,22}))$/.exec(typed.trim());
  if (!m) throw new CommandError(`'train_role' must be a role: pick it with @ (got '${printable(typed, 40)}'), or 'none'; nothing was changed`);
  return m[1] ?? m[2];
}

function sharingSetting(typed: string): Sharing {
  const t = typed.trim().toLowerCase();
  if (!(SHARING as readonly string[]).includes(t))
    throw new CommandError(`'sharing' must be ${SHARING.map((s) => `'${s}'`).join(' or ')} (got '${printable(typed, 20)}'); nothing was changed`);
  return t as Sharing;
}

/** Option names (as typed: train_role) or 'mine' / 'server' -> the stored fields to clear. */
function resetNames(typed: string): { user: (keyof UserSettings)[]; server: (keyof ServerSettings)[] } {
  const out = { user: [] as (keyof UserSettings)[], server: [] as (keyof ServerSettings)[] };
  const words = typed
    .toLowerCase()
    .split(/[\s,]+/)
    .filter(Boolean);
  if (!words.length) throw new CommandError("'reset' needs the settings to reset, e.g. 'strength seed', 'mine' or 'server'");
  for (const w of words) {
    if (w === 'mine') out.user.push(...USER_SETTING_NAMES);
    else if (w === 'server') out.server.push(...SERVER_SETTING_NAMES);
    else if ((USER_SETTING_NAMES as readonly string[]).includes(w)) out.user.push(w as keyof UserSettings);
    else if (Object.hasOwn(SERVER_OPTIONS, w)) out.server.push(SERVER_OPTIONS[w as keyof typeof SERVER_OPTIONS]);
    else
      throw new CommandError(
        `'reset' names no setting '${printable(w, 30)}' (settings: ${[...USER_SETTING_NAMES, ...Object.keys(SERVER_OPTIONS)].join(', ')}; or mine, server); nothing was changed`,
      );
  }
  return out;
}

/** The caller's settings and the server's, each with what applies when it is not set. */
export function describeSettings(ctx: CommandContext, s: Settings): string {
  const u = s.user;
  const v = s.server;
  const botStyles = ctx.registry.opts.maxStylesPerUser;
  const seed = u.seed === undefined || u.seed === 'random' ? 'random' : `fixed at ${u.seed}`;
  return [
    '**Your settings here** (for draw, stylize and blend when you leave the option out):',
    `• style: ${u.style ?? 'your last trained style'}`,
    `• strength: ${u.strength ?? `${DRAW_DEFAULTS.strength} (the bot's default)`}`,
    `• steps: ${u.steps ?? `${DRAW_DEFAULTS.steps} (the bot's default)`}`,
    `• seed: ${seed}`,
    `**This server/workspace** (${ctx.isAdmin ? 'you are an admin: you can change these' : 'its admins can change these'}):`,
    `• channels: ${v.channels ? channelList(v.channels) : 'every channel'}`,
    `• role needed to train: ${v.trainRole ? `<@&${v.trainRole}>` : 'none'}`,
    `• drawings one person may have queued: ${v.queuedDraws ?? `${DEFAULT_LIMITS.perUserDraws} (the bot's limit)`}`,
    `• trainings one person may start per day: ${v.trainingsPerDay ?? 'no limit'}`,
    `• styles one person may keep here: ${v.maxStyles ?? (botStyles !== undefined ? `${botStyles} (the bot's limit, over all servers)` : 'no limit')}`,
    `• who may share styles: ${v.sharing ?? 'everyone'}`,
  ].join('\n');
}
