/**
 * /pairstyle settings [style] [strength] [steps] [seed] [channels] [train_role] [queued_draws]
 * [trainings_per_day] [max_styles] [sharing] [reset]: with no options, shows the caller's settings and
 * their server's / workspace's (privately); with options, changes them. The caller's own defaults apply
 * to their draws, stylizes and blends here (commands/user-defaults.ts); the server's settings are its
 * admins' to change (the platform says who is one: Discord's Manage Server or Administrator permission,
 * Slack's workspace admins and owners) and apply to everyone there (commands/server-rules.ts).
 * Everything given is checked before anything is saved, and saved at once or not at all.
 */
import { msg, t } from '../src/i18n/message.ts';
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
import { orList, withStyleSuggestions } from './style-names.ts';
import { CommandError, defineCommand, reply, type CommandContext } from './types.ts';
import { STYLIZE_OPTION_DEFAULTS } from '../src/pair/stylize-defaults.ts';
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
    {
      name: 'strength',
      type: 'number',
      min: 0,
      max: 10,
      description: msg('describe.settings.strength', { strength: DRAW_DEFAULTS.strength, stylize: STYLIZE_OPTION_DEFAULTS.strength }),
    },
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
      throw new CommandError(msg('settings.admins-only'), 'not-allowed');
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
    return reply(t(ctx.locale, 'settings.saved', { settings: describeSettings(ctx, saved) }));
  },
});

/** The default style: one the caller can use now (their own, or one shared here); 'none' clears it. */
async function defaultStyle(ctx: CommandContext, typed: string): Promise<string | undefined> {
  if (/^none$/i.test(typed.trim())) return undefined;
  const entry = await withStyleSuggestions(ctx, typed, async () => {
    const found = await ctx.registry.resolve(ctx.who, typed);
    if (!found) throw new RegistryError(msg('settings.no-default-style', { name: checkStyleName(typed) }), 'not-found');
    return found;
  });
  return entry.name;
}

function stepsWithin(steps: number, max: number): number {
  if (steps > max) throw new CommandError(msg('settings.steps-max', { max }));
  return steps;
}

function maxStylesWithin(n: number, botLimit: number | undefined): number {
  if (botLimit !== undefined && n > botLimit) throw new CommandError(msg('settings.max-styles-max', { max: botLimit }));
  return n;
}

/** 'random', 'fixed' (a seed chosen now, kept), or the seed itself. */
function seedSetting(typed: string): UserSettings['seed'] {
  const t = typed.trim().toLowerCase();
  if (t === 'random') return 'random';
  if (t === 'fixed') return randomSeed();
  const n = parseDecimal(t);
  if (!Number.isInteger(n) || n < 0 || n > MAX_SEED) throw new CommandError(msg('settings.bad-seed', { max: MAX_SEED, typed: printable(typed, 20) }));
  return n;
}

/** Channel mentions (<#id> or Slack's <#id|name>), channel ids, or 'here'; 'all' lifts the limit. */
function channelSetting(typed: string, here: string | undefined): string[] | undefined {
  const words = typed.split(/[\s,]+/).filter(Boolean);
  if (words.length === 1 && NO_LIMIT.test(words[0])) return undefined;
  if (!words.length) throw new CommandError(msg('settings.channels-empty'));
  const ids: string[] = [];
  for (const w of words) {
    const mention = /^<#([A-Za-z0-9]{1,40})(\|[^>]*)?>$/.exec(w);
    let id: string | undefined;
    if (w.toLowerCase() === 'here') {
      if (!here) throw new CommandError(msg('settings.here-no-channel'));
      id = here;
    } else if (mention) id = mention[1];
    else if (/^(\d{15,22}|[CG][A-Z0-9]{6,20})$/.test(w)) id = w;
    else throw new CommandError(msg('settings.not-a-channel', { word: printable(w, 40) }));
    if (!ids.includes(id)) ids.push(id);
  }
  if (ids.length > SETTING_BOUNDS.channels.max) throw new CommandError(msg('settings.too-many-channels', { max: SETTING_BOUNDS.channels.max }));
  return ids;
}

/** A role mention (<@&id>) or id; 'none' lifts it. Only where the platform tells the bot its users' roles. */
function roleSetting(ctx: CommandContext, typed: string): string | undefined {
  if (NO_LIMIT.test(typed.trim())) return undefined;
  if (ctx.roles === undefined) throw new CommandError(msg('settings.role-discord-only'));
  const m = /^(?:<@&(\d{1,22})>|(\d{15,22}))$/.exec(typed.trim());
  if (!m) throw new CommandError(msg('settings.bad-role', { typed: printable(typed, 40) }));
  return m[1] ?? m[2];
}

function sharingSetting(typed: string): Sharing {
  const t = typed.trim().toLowerCase();
  if (!(SHARING as readonly string[]).includes(t))
    throw new CommandError(msg('settings.bad-sharing', { choices: orList(SHARING.map((s) => `'${s}'`)), typed: printable(typed, 20) }));
  return t as Sharing;
}

/** Option names (as typed: train_role) or 'mine' / 'server' -> the stored fields to clear. */
function resetNames(typed: string): { user: (keyof UserSettings)[]; server: (keyof ServerSettings)[] } {
  const out = { user: [] as (keyof UserSettings)[], server: [] as (keyof ServerSettings)[] };
  const words = typed
    .toLowerCase()
    .split(/[\s,]+/)
    .filter(Boolean);
  if (!words.length) throw new CommandError(msg('settings.reset-empty'));
  for (const w of words) {
    if (w === 'mine') out.user.push(...USER_SETTING_NAMES);
    else if (w === 'server') out.server.push(...SERVER_SETTING_NAMES);
    else if ((USER_SETTING_NAMES as readonly string[]).includes(w)) out.user.push(w as keyof UserSettings);
    else if (Object.hasOwn(SERVER_OPTIONS, w)) out.server.push(SERVER_OPTIONS[w as keyof typeof SERVER_OPTIONS]);
    else
      throw new CommandError(
        msg('settings.reset-unknown', { word: printable(w, 30), settings: [...USER_SETTING_NAMES, ...Object.keys(SERVER_OPTIONS)].join(', ') }),
      );
  }
  return out;
}

/** The caller's settings and the server's, each with what applies when it is not set, in the caller's language. */
export function describeSettings(ctx: CommandContext, s: Settings): string {
  const u = s.user;
  const v = s.server;
  const l = ctx.locale;
  const botStyles = ctx.registry.opts.maxStylesPerUser;
  const botDefault = (value: number) => msg('settings.bot-default', { value });
  return [
    t(l, 'settings.yours'),
    t(l, 'settings.style', { style: u.style ?? msg('settings.last-trained') }),
    t(l, 'settings.strength', {
      strength: u.strength ?? msg('settings.bot-default-strength', { draw: DRAW_DEFAULTS.strength, stylize: STYLIZE_OPTION_DEFAULTS.strength }),
    }),
    t(l, 'settings.steps', { steps: u.steps ?? botDefault(DRAW_DEFAULTS.steps) }),
    t(l, 'settings.seed', { seed: typeof u.seed === 'number' ? msg('settings.seed-fixed', { seed: u.seed }) : 'random' }),
    t(l, 'settings.server', { who: ctx.isAdmin ? msg('settings.you-admin') : msg('settings.its-admins') }),
    t(l, 'settings.channels', { channels: v.channels ? channelList(v.channels) : msg('settings.every-channel') }),
    t(l, 'settings.train-role', { role: v.trainRole ? `<@&${v.trainRole}>` : msg('settings.no-role') }),
    t(l, 'settings.queued-draws', { count: v.queuedDraws ?? msg('settings.bot-limit', { value: DEFAULT_LIMITS.perUserDraws }) }),
    t(l, 'settings.trainings-per-day', { count: v.trainingsPerDay ?? msg('settings.no-limit') }),
    t(l, 'settings.max-styles', {
      count: v.maxStyles ?? (botStyles !== undefined ? msg('settings.bot-limit-all', { value: botStyles }) : msg('settings.no-limit')),
    }),
    t(l, 'settings.sharing', { who: v.sharing ?? 'everyone' }),
  ].join('\n');
}
