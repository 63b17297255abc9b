/**
 * A size refused for being over a limit is never shown as if it were within it
 * ("the upload is 18.0 MB; the limit is 18 MB"). Through the command path (readImageUpload, the
 * announced size of an attachment) and over every size just past a range of limits.
 */
import { describe, expect, it } from 'vitest';
import { readImageUpload } from '../../commands/attachments.ts';
import { overLimitText } from '../../commands/size-text.ts';
import { say } from '../../src/i18n/message.ts';
import { attached } from './fixture.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);

/** The two numbers of "<a> MB; the limit is <b> MB" in bytes (or as written in bytes). */
function shown(text: string): [number, number] {
  const m = /^([\d.,]+) (MB|KB|bytes); the limit is ([\d.,]+) (MB|KB|bytes)$/.exec(text);
  if (!m) throw new Error(`unexpected wording: ${text}`);
  const unit = { MB: 1e6, KB: 1e3, bytes: 1 } as const;
  const n = (v: string, u: keyof typeof unit) => Number(v.replace(/,/g, '')) * unit[u];
  return [n(m[1], m[2] as keyof typeof unit), n(m[3], m[4] as keyof typeof unit)];
}

describe('sizes over a limit', () => {
  it('an 18 MB upload against a limit just under 18 MB reads as over the limit', async () => {
    const message = await report.refused(
      'Bad input',
      'an attachment announced as 18,000,000 bytes against a limit of 17,980,000',
      () => readImageUpload(attached('big.png', new Uint8Array(0), 'image/png', 18_000_000), 'content', 17_980_000),
      /is 18\.0 MB; the limit is 17\.98 MB/,
    );
    expect(message).not.toMatch(/18\.0 MB; the limit is 18 MB/);
  });

  it('every size just past a limit is shown larger than the limit (limits 1 KB to 100 MB)', () => {
    const bad: string[] = [];
    let tried = 0;
    for (const limit of [1000, 5000, 999_999, 1_000_000, 1_048_576, 3_097_152, 8_388_608, 17_777_216, 18_000_000, 100 * 1_048_576]) {
      for (const extra of [1, 7, 499, 500, 4_999, 5_000, 49_999, 50_000, 222_784, 1_000_000]) {
        tried++;
        const text = say(overLimitText(limit + extra, limit));
        const [size, max] = shown(text);
        if (!(size > max)) bad.push(`${limit + extra} over ${limit}: '${text}'`);
      }
    }
    report.row({
      section: 'Bad input',
      case: `${tried} sizes just past 10 limits (1 KB to 100 MiB) in words`,
      expected: 'the size shown is always larger than the limit shown',
      result: `${tried - bad.length} of ${tried} read as over the limit${bad.length ? `; e.g. ${bad[0]}` : ''}`,
      pass: bad.length === 0,
    });
    expect(bad).toEqual([]);
  });
});
