/**
 * The one error vocabulary: an error meant for the person who asked is a `UserError` (or a subclass
 * that names its module's concern: CommandError, QueueLimitError, RegistryError, ImageInputError, …).
 * Its `kind` says what sort of refusal it is, as plain data, so that it survives every boundary a job
 * crosses (the engine thread's messages, a BullMQ failure reason, the journal) and comes back as the
 * same kind: `errorRecord` writes it, `userErrorOf` reads it back. Anything that is not a UserError is
 * the bot's own failure, shown to users as "something went wrong on our side".
 *
 * Its text is a catalogue message (src/i18n) where one is given: `message` is the English (logs, the
 * command line), `text` the message itself, said in each user's language at the edge (`messageIn`).
 *
 * A leaf module: it imports only the catalogue (src/i18n, itself a leaf), and every layer may import it.
 */
import { isKey, say, type Locale, type Message, type Text } from '../i18n/message.ts';

export const USER_ERROR_KINDS = [
  /** The request is wrong (an option, an image, a style name, a style file): the user fixes it. */
  'invalid',
  /** What it names does not exist for this user (a style, a job). */
  'not-found',
  /** It exists, but this user may not do that to it (another's style or job). */
  'not-allowed',
  /** A limit was reached (rate, queue caps, styles kept): try again later, or free something. */
  'limit',
  /** The bot cannot serve it right now (a store or queue that does not answer, a full store, a missing model). */
  'unavailable',
  /** Stopped on purpose: a cancelled job. */
  'cancelled',
] as const;

export type UserErrorKind = (typeof USER_ERROR_KINDS)[number];

const KINDS: ReadonlySet<string> = new Set(USER_ERROR_KINDS);

/** A value quoted back in a message: short, on one line, nothing invisible (controls, bidi overrides, broken characters become '?'). */
export const printable = (v: unknown, max = 40): string =>
  String(v)
    .replace(/[\p{Cc}\p{Cs}\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff]/gu, '?')
    .slice(0, max);

export class UserError extends Error {
  override name = 'UserError';
  readonly kind: UserErrorKind;
  /** Seconds after which trying again makes sense (rate limits, a busy queue). */
  readonly retryAfterSeconds?: number;
  /** The catalogue message, when the error was made from one (its `message` is then the English). */
  text?: Message;

  constructor(message: Text, kind: UserErrorKind = 'invalid', options: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(say(message), options.cause === undefined ? undefined : { cause: options.cause });
    if (typeof message !== 'string') this.text = message;
    this.kind = kind;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A job that was stopped on purpose (the user's cancel, a shutdown), from any layer: engine thread, training loop, queue. */
export const cancelled = (): UserError => Object.assign(new UserError('cancelled', 'cancelled'), { name: 'CancelledError' });

/** An error as plain data: how a failure travels (job.error, the engine thread's message, a BullMQ reason). */
export interface ErrorRecord {
  name: string;
  message: string;
  /** Present for user errors only. */
  kind?: UserErrorKind;
  /** The catalogue message of a user error made from one. */
  text?: Message;
}

const kindOf = (e: unknown): UserErrorKind | undefined => {
  const k = (e as { kind?: unknown } | null | undefined)?.kind;
  return typeof k === 'string' && KINDS.has(k) ? (k as UserErrorKind) : undefined;
};

/** Whether `e` is meant for its user: a UserError, or one that came back over a boundary with its kind. */
export const isUserError = (e: unknown): boolean => e instanceof UserError || (e instanceof Error && kindOf(e) !== undefined);

/** A cancellation, thrown here or read back from a record. */
export const isCancelled = (e: unknown): boolean => kindOf(e) === 'cancelled';

/** `e` as a record: name and message, and the kind of a user error. */
export function errorRecord(e: unknown): ErrorRecord {
  const err = e as Partial<Error> | null | undefined;
  const name = typeof err?.name === 'string' && err.name ? err.name : 'Error';
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const kind = isUserError(e) ? kindOf(e) : undefined;
  const text = kind ? textOf(e) : undefined;
  return kind ? { name, message, kind, ...(text ? { text } : {}) } : { name, message };
}

const textOf = (e: unknown): Message | undefined => {
  const text = (e as { text?: unknown } | null | undefined)?.text;
  return text && typeof text === 'object' && isKey((text as Message).key) ? (text as Message) : undefined;
};

/** An error's text, not yet in a language: its catalogue message (any error may carry one as `text`), else its message. */
export const textOfError = (e: unknown): Text => textOf(e) ?? String((e as Error | null | undefined)?.message ?? e);

/** An error's text for its user in `locale`: the catalogue message said in that language, else its message as it is. */
export function messageIn(e: unknown, locale: Locale = 'en'): string {
  const text = textOf(e);
  return text ? say(text, locale) : String((e as Error | null | undefined)?.message ?? e);
}

/** A record read back as the error it was: a UserError of the same name and kind, or undefined when it was not a user error. */
export function userErrorOf(record: ErrorRecord | undefined): UserError | undefined {
  const kind = kindOf(record);
  if (!record || !kind) return undefined;
  const text = textOf(record);
  return Object.assign(new UserError(text ?? record.message, kind), { name: record.name, message: record.message });
}
