/**
 * What a /pairstyle command is, independent of any chat platform: an option spec (the Discord slash
 * definition and the Slack text parser are both derived from it) and a handler that parses, validates,
 * authorises, then replies or enqueues a job. Adapters give a context and render the outcome.
 */
import type { Job, JobQueue, ReplyRoute, ResultImage } from '../src/queue/job.ts';
import type { Scope, StyleRegistry } from '../src/store/style-registry.ts';
import { UserError } from '../src/errors/user-error.ts';
import type { Locale, Text } from '../src/i18n/message.ts';
import type { UserRateLimiter } from './rate-limit.ts';

/** A file the user attached; `download` enforces the size cap and the platform's own hosts. */
export interface Attachment {
  name: string;
  /** Size the platform announced, in bytes (checked before downloading). */
  size: number;
  contentType?: string;
  download(maxBytes: number): Promise<Uint8Array>;
}

export type OptionValue = string | number | boolean | Attachment;

export type OptionType = 'string' | 'integer' | 'number' | 'boolean' | 'attachment';

export interface OptionSpec<Name extends string = string, Type extends OptionType = OptionType> {
  name: Name;
  type: Type;
  /** A catalogue message (said in each user's language; Discord's localisations come from it), or plain English. */
  description: Text;
  required?: boolean;
  min?: number;
  max?: number;
  maxLength?: number;
  /** Style-name options: the adapter offers the user's own + shared styles. */
  autocomplete?: boolean;
}

/** The value a checked option of this type has. */
export type ValueOf<Type extends OptionType> = Type extends 'string'
  ? string
  : Type extends 'integer' | 'number'
    ? number
    : Type extends 'boolean'
      ? boolean
      : Attachment;

/** The checked options of a spec, typed from it: required options always present, the others possibly absent. */
export type OptionValues<Specs extends readonly OptionSpec[]> = {
  [O in Extract<Specs[number], { required: true }> as O['name']]: ValueOf<O['type']>;
} & {
  [O in Exclude<Specs[number], { required: true }> as O['name']]?: ValueOf<O['type']>;
};

export interface Button {
  /** `ps:<action>:<jobId>` (Discord custom_id / Slack action_id, both <= 100 chars). */
  id: string;
  label: string;
  style?: 'primary' | 'secondary' | 'danger';
}

export interface Reply {
  text: string;
  images?: ResultImage[];
  /** Other files (a style export). */
  files?: { name: string; data: Uint8Array }[];
  buttons?: Button[];
  /** User ids this reply may ping (Discord); any other mention in the text (@everyone, roles, users typed into a prompt) stays silent. */
  mentions?: string[];
}

export interface CommandContext {
  who: Scope;
  /** A server / workspace admin (may delete or unshare others' shared styles). */
  isAdmin: boolean;
  registry: StyleRegistry;
  queue: JobQueue;
  limits: CommandLimits;
  /** Where a job's replies go (journaled with it, so they arrive after a restart too). */
  route?: ReplyRoute;
  /** The channel the command came from (server settings may allow only some channels). */
  channel?: string;
  /** The caller's role ids in this server, where the platform tells them (Discord); absent elsewhere. */
  roles?: readonly string[];
  /** The language the user reads (src/i18n); English when absent. Jobs carry it in their route. */
  locale?: Locale;
}

export interface CommandLimits {
  maxUploadBytes: number;
  maxTrainSteps: number;
  maxDrawSteps: number;
  /** Per-user command rate limit (commands/rate-limit.ts), shared by every command run with these limits; none when absent. */
  userRate?: UserRateLimiter;
}

export const DEFAULT_COMMAND_LIMITS: CommandLimits = { maxUploadBytes: 8 * 1024 * 1024, maxTrainSteps: 2000, maxDrawSteps: 100 };

export type Outcome =
  | { type: 'reply'; reply: Reply }
  | {
      type: 'job';
      job: Job;
      /** Turns the finished job into the final reply (a train job stores its style here). */
      finalize: (job: Job) => Promise<Reply>;
    };

/** Checked options of a command whose spec is not known here (adapters, runCommand). */
export type Options = Record<string, OptionValue | undefined>;

/**
 * How a command takes files where a platform has no file options (Slack's slash commands): `options`
 * are filled, when the user names none of them by file id, from the user's latest images in the
 * channel, oldest first; `missing` is what to tell a user who has not shared enough images.
 */
export interface RecentUploads {
  options: readonly string[];
  missing: Text;
}

/** What a command declares; `defineCommand` turns it into a Command. */
export interface CommandSpec<Specs extends readonly OptionSpec[]> {
  name: string;
  /** A catalogue message, or plain English (see OptionSpec.description). */
  description: Text;
  /** Replies only the caller sees (chosen when acknowledging; it cannot change later on Discord). */
  ephemeral: boolean;
  options: Specs;
  /** The adapter must tell whether the caller is a server / workspace admin (ctx.isAdmin); off by default (asking may cost a platform call). */
  needsAdmin?: boolean;
  /** Where its files come from on platforms without file options (see RecentUploads). */
  recentUploads?: RecentUploads;
  /**
   * The options that the free words of a typed command fill (Slack's text, the playground's command
   * line): one option takes all the words, several take one word each. Default: its required text options.
   */
  textOptions?: readonly Specs[number]['name'][];
  /** Runs with the options checked against `options` (types, ranges, required): their types follow from the spec. */
  run(ctx: CommandContext, options: OptionValues<Specs>): Promise<Outcome>;
}

/**
 * A /pairstyle subcommand as adapters and runCommand see it. Made by defineCommand (a plain object of
 * this shape works too, with untyped options: prefer defineCommand).
 */
export interface Command {
  readonly name: string;
  readonly description: Text;
  readonly ephemeral: boolean;
  readonly options: readonly OptionSpec[];
  readonly needsAdmin?: boolean;
  readonly recentUploads?: RecentUploads;
  readonly textOptions?: readonly string[];
  /** Runs with options already checked against `options` (runCommand does that). */
  run(ctx: CommandContext, options: Options): Promise<Outcome>;
}

/** The options the free words of a typed command fill (CommandSpec.textOptions; default: its required text options). */
export const textOptionsOf = (c: Command): readonly string[] => c.textOptions ?? c.options.filter((o) => o.required && o.type === 'string').map((o) => o.name);

/**
 * A command from its spec. The option types of `run` are inferred from the spec (write the options as
 * a literal array; `required: true` makes an option always present), so a handler needs no casts:
 *
 *   export const hello = defineCommand({
 *     name: 'hello', description: 'Says hello', ephemeral: true,
 *     options: [{ name: 'who', type: 'string', required: true, description: 'whom to greet' }],
 *     async run(ctx, o) { return reply(`hello ${o.who}`); }, // o.who: string
 *   });
 */
export function defineCommand<const Specs extends readonly OptionSpec[]>(spec: CommandSpec<Specs>): Command {
  return {
    name: spec.name,
    description: spec.description,
    ephemeral: spec.ephemeral,
    options: spec.options,
    needsAdmin: spec.needsAdmin ?? false,
    ...(spec.recentUploads ? { recentUploads: spec.recentUploads } : {}),
    ...(spec.textOptions ? { textOptions: spec.textOptions } : {}),
    // The one place the checked options meet their types: runCommand checks them against this same spec first.
    run: (ctx, options) => spec.run(ctx, options as OptionValues<Specs>),
  };
}

/** An error meant for the person who typed the command (see src/errors/user-error.ts for the kinds). */
export class CommandError extends UserError {
  override name = 'CommandError';
}

export const reply = (text: string, extra: Omit<Reply, 'text'> = {}): Outcome => ({ type: 'reply', reply: { text, ...extra } });
