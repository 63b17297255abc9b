/**
 * The fuzzers' invariant and bookkeeping: every attempt ends in an outcome, or in an error meant for the
 * user (as the code under test judges it) with a clear message (report.ts isClearMessage). Records one
 * row per fuzzer, naming the first failure and its input.
 */
import { expect } from 'vitest';
import { isClearMessage, type ReliabilityReport } from './report.ts';

export class FuzzTally {
  outcomes = 0;
  refusals = 0;
  readonly messages = new Set<string>();
  readonly failures: string[] = [];

  constructor(
    private readonly report: ReliabilityReport,
    private readonly isUserError: (e: unknown) => boolean,
    /** The longest clear message for an error (isClearMessage's maxLength). */
    private readonly maxLength: (e: unknown) => number = () => 500,
  ) {}

  /** Runs one attempt; `input` describes it (called only for a failure). */
  async run(input: () => string, attempt: () => Promise<unknown> | unknown): Promise<void> {
    try {
      await attempt();
      this.outcomes++;
    } catch (e) {
      const message = (e as Error)?.message;
      if (!this.isUserError(e) || !isClearMessage(message, this.maxLength(e))) {
        this.failures.push(`${(e as Error)?.name}: ${String(message).slice(0, 200)} <- ${input().slice(0, 300)}`);
      } else {
        this.refusals++;
        // Distinct kinds of answer: the message with its quoted values blanked.
        this.messages.add(message.replace(/'[^']*'/g, "'…'").replace(/\d+(\.\d+)?/g, 'N'));
      }
    }
  }

  /** A failure found outside `run` (e.g. an answer that is not an error but is still wrong). */
  fail(what: string): void {
    this.failures.push(what);
  }

  record(what: string, expected = 'no crash; every refusal a user error with a clear message') {
    const result = `${this.outcomes + this.refusals + this.failures.length} tried: ${this.outcomes} accepted, ${this.refusals} refused (${this.messages.size} kinds of message), ${this.failures.length} crashes or unclear messages${this.failures.length ? `: ${this.failures[0]}` : ''}`;
    this.report.row({ section: 'Fuzzing', case: what, expected, result, pass: this.failures.length === 0 });
    expect(this.failures, this.failures.slice(0, 5).join('\n')).toEqual([]);
  }
}
