/**
 * The error vocabulary (src/errors/user-error.ts): every error the commands show as it is is a
 * UserError with a kind, and the kind survives the boundaries a job crosses (a record, BullMQ's failure
 * reason); anything else is the bot's own failure.
 */
import { describe, expect, it } from 'vitest';
import { CommandError, errorText, RateLimitError } from '../../commands/index.ts';
import { cancelled, errorRecord, isCancelled, isUserError, messageIn, UserError, userErrorOf } from '../../src/errors/user-error.ts';
import { CATALOGUE, msg } from '../../src/i18n/message.ts';
import { ImageInputError } from '../../src/images/io.ts';
import { StyleFileError } from '../../src/pair/style-file.ts';
import { decodeFailure, encodeFailure } from '../../src/queue/bullmq-wire.ts';
import { JobNotFoundError, QueueLimitError } from '../../src/queue/job.ts';
import { StoreBusyError } from '../../src/store/atomic.ts';
import { StoreUnavailableError } from '../../src/store/open-keyv.ts';
import { StoreFullError } from '../../src/store/store-full.ts';
import { StyleNameError } from '../../src/store/style-directory.ts';
import { CorruptStyleError, RegistryError } from '../../src/store/style-registry.ts';

describe('UserError', () => {
  it('is the class of every error the commands show as it is, each with its name and kind', () => {
    const errors = [
      [new CommandError('a'), 'CommandError', 'invalid'],
      [new RateLimitError('b', 5), 'RateLimitError', 'limit'],
      [new QueueLimitError('c'), 'QueueLimitError', 'limit'],
      [new QueueLimitError('c2', 60, 'unavailable'), 'QueueLimitError', 'unavailable'],
      [new JobNotFoundError('d'), 'JobNotFoundError', 'not-found'],
      [new RegistryError('e'), 'RegistryError', 'invalid'],
      [new CorruptStyleError('f'), 'CorruptStyleError', 'invalid'],
      [new StyleNameError('g'), 'StyleNameError', 'invalid'],
      [new ImageInputError('h'), 'ImageInputError', 'invalid'],
      [new StyleFileError('i'), 'StyleFileError', 'invalid'],
      [new StoreUnavailableError('j'), 'StoreUnavailableError', 'unavailable'],
      [new StoreFullError('k'), 'StoreFullError', 'unavailable'],
      [new StoreBusyError('l'), 'StoreBusyError', 'unavailable'],
    ] as const;
    for (const [e, name, kind] of errors) {
      expect([e.name, e.kind, e instanceof UserError, isUserError(e)]).toEqual([name, kind, true, true]);
      expect(errorText(e)).toBe(`⚠️ ${e.message}`);
    }
    expect(new RateLimitError('x', 7).retryAfterSeconds).toBe(7);
    expect(new StoreUnavailableError('x', { cause: 'down' }).cause).toBe('down');
  });

  it("shows anything else as the bot's own failure, whatever its name", () => {
    for (const e of [new Error('boom'), Object.assign(new Error('x'), { name: 'CommandError' }), 'a string', undefined, { message: 'm' }]) {
      expect(isUserError(e)).toBe(false);
      expect(errorText(e)).toMatch(/something went wrong on our side/);
    }
  });

  it('cancelled() is a user error of kind cancelled, named CancelledError', () => {
    const c = cancelled();
    expect([c.name, c.message, c.kind, isCancelled(c), isUserError(c)]).toEqual(['CancelledError', 'cancelled', 'cancelled', true, true]);
    expect(isCancelled(new Error('cancelled'))).toBe(false);
  });

  it('keeps its name and kind through a record and back, and through a BullMQ failure reason', () => {
    const e = new QueueLimitError('you already have 3 draws', 30);
    const record = errorRecord(e);
    expect(record).toEqual({ name: 'QueueLimitError', message: 'you already have 3 draws', kind: 'limit' });
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
    const back = userErrorOf(record)!;
    expect([back instanceof UserError, back.name, back.kind, back.message]).toEqual([true, 'QueueLimitError', 'limit', 'you already have 3 draws']);
    expect(decodeFailure(encodeFailure(record))).toEqual(record);
    expect(decodeFailure(encodeFailure(errorRecord(cancelled())))).toEqual({ name: 'CancelledError', message: 'cancelled', kind: 'cancelled' });
    // Not a user error: name and message only, and nothing comes back as a user error.
    const bug = errorRecord(new TypeError('x is undefined'));
    expect(bug).toEqual({ name: 'TypeError', message: 'x is undefined' });
    expect(decodeFailure(encodeFailure(bug))).toEqual(bug);
    expect(userErrorOf(bug)).toBeUndefined();
    // An unknown kind on the wire is not trusted as a user error.
    expect(decodeFailure('[Error:root] x')).toEqual({ name: 'Error', message: 'x' });
  });

  it("made from a catalogue message, says it in English as its message and in the user's language at the edge, also after a record and a BullMQ reason", () => {
    const e = new QueueLimitError(msg('error.line', { message: msg('error.internal') }), 30);
    expect(e.message).toBe(`⚠️ ${'something went wrong on our side; please try again (the error was logged)'}`);
    const german = `⚠️ ${CATALOGUE.de['error.internal']}`;
    expect(messageIn(e, 'de')).toBe(german);
    expect(errorText(e, 'de')).toBe(`⚠️ ${german}`);
    const record = errorRecord(e);
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
    expect(messageIn(userErrorOf(record), 'de')).toBe(german);
    const wire = decodeFailure(encodeFailure(record));
    expect(wire).toEqual(record);
    expect(messageIn(userErrorOf(wire), 'de')).toBe(german);
    // A message whose key the catalogue no longer has is shown as its English message.
    expect(messageIn(userErrorOf({ ...record, text: { key: 'gone' as never } }), 'de')).toBe(e.message);
    // Without a catalogue message: the message as it is, in every language.
    expect(messageIn(new CommandError('plain'), 'fr')).toBe('plain');
  });
});
