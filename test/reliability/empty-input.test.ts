/**
 * Input with nothing in it. A pair with nothing to learn: the same file as content
 * and style is trained with a warning in the reply (the command line, which has no reply to warn in,
 * refuses it: cli.test.ts); a 1x1 picture is refused, as every picture under 16x16 is. A prompt of only
 * invisible characters is no prompt.
 */
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../commands/index.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';
import { attached, backend, detailed, png } from './fixture.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);

describe('pairs with nothing to learn', () => {
  it('the same picture as content and style is trained with a warning in the reply', async () => {
    const b = await backend({ executor: new FakeExecutor({ auto: true }) });
    const picture = await detailed('png');
    const out = await runCommand(b.ctx('u'), 'train', { name: 'same', content: attached('a.png', picture), style: attached('b.png', picture) });
    if (out.type !== 'job') throw new Error('expected a job');
    const text = (await out.finalize(await b.queue.finished(out.job.id))).text;
    const pass = /the content and style images are the same picture: .*this style changes nothing/.test(text);
    report.row({
      section: 'Bad input',
      case: 'train with the same picture as content and style',
      expected: 'trained, with a warning in the reply that the style changes nothing',
      result:
        text
          .split('\n')
          .filter((l) => /same picture/.test(l))
          .join(' ')
          .slice(0, 200) || text.slice(0, 120),
      pass,
    });
    expect(pass, text).toBe(true);
  });

  it('a 1x1 picture is refused and nothing is queued', async () => {
    const b = await backend({ executor: new FakeExecutor({ auto: true }) });
    let queued = 0;
    b.queue.on((e) => void (e.type === 'queued' && queued++));
    const dot = await png(1, 1);
    const style = await detailed('png');
    await report.refused(
      'Bad input',
      'train with a 1x1 content picture',
      () => runCommand(b.ctx('u'), 'train', { name: 'dot', content: attached('dot.png', dot), style: attached('b.png', style) }),
      /is only 1x1 pixels; send at least 16x16/,
    );
    expect(queued).toBe(0);
  });

  it('a prompt of only zero-width characters is no prompt', async () => {
    const b = await backend({ executor: new FakeExecutor({ auto: true }) });
    await report.refused(
      'Bad input',
      'draw with a prompt of only a zero-width space and a word joiner',
      () => runCommand(b.ctx('u'), 'draw', { prompt: '\u200b\u2060' }),
      /'prompt' is required/,
    );
  });
});
