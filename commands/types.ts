/**
 * What a /pairstyle command is, independent of any chat platform: an option spec (the Discord slash
 * definition and the Slack text parser are both derived from it) and a handler that parses, validates,
 * authorises, then replies or enqueues a job. Adapters give a context and render the outcome.
 */
import type { Job, JobQueue, ReplyRoute, ResultImage } from '../src/queue/job.ts';
import type { Scope, StyleRegistry } from '../src/store/style-registry.ts';
import { UserError } from '../src/errors/user-error.ts';
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

export interface OptionSpec {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'attachment';
  description: string;
  required?: boolean;
  min?: number;
  max?: number;
  maxLength?: number;
  /** Style-name options: the adapter offers the user's own + shared styles. */
  autocomplete?: boolean;
}

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

export type Options = Record<string, OptionValue | undefined>;

export interface Command {
  name: string;
  description: string;
  /** Replies only the caller sees (chosen when acknowledging; it cannot change later on Discord). */
  ephemeral: boolean;
  options: OptionSpec[];
  run(ctx: CommandContext, options: Options): Promise<Outcome>;
}

/** An error meant for the person who typed the command (see src/errors/user-error.ts for the kinds). */
export class CommandError extends UserError {
  override name = 'CommandError';
}

export const reply = (text: string, extra: Omit<Reply, 'text'> = {}): Outcome => ({ type: 'reply', reply: { text, ...extra } });
