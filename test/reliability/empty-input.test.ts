/**
 * Issue #19, item 10: input with nothing in it is refused before anything is queued: a pair with nothing
 * to learn (the same file as content and style: the command line compares the two pictures at the
 * model's size, see cli.test.ts; a 1x1 picture, refused as every picture under 16x16 is), and a prompt
 * of only invisible characters.
 */
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../commands/index.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';
import { attached, backend, detailed, png } from './fixture.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);

describe('pairs with nothing to learn', () => {
  it('the same picture as content and style, and a 1x1 picture, are refused and nothing is queued', async () => {
    const b = await backend({ executor: new FakeExecutor({ auto: true }) });
    let queued = 0;
    b.queue.on((e) => void (e.type === 'queued' && queued++));
    const picture = await detailed('png');
    const dot = await png(1, 1);
    await report.refused('Bad input', 'train with the same picture as content and style', () => runCommand(b.ctx('u'), 'train', { name: 'same', content: attached('a.png', picture), style: attached('b.png', picture) }), /the content and style images are the same file/);
    await report.refused('Bad input', 'train with a 1x1 content picture', () => runCommand(b.ctx('u'), 'train', { name: 'dot', content: attached('dot.png', dot), style: attached('b.png', picture) }), /is only 1x1 pixels; send at least 16x16/);
    expect(queued).toBe(0);
  });

  it('a prompt of only zero-width characters is no prompt', async () => {
    const b = await backend({ executor: new FakeExecutor({ auto: true }) });
    await report.refused('Bad input', 'draw with a prompt of only a zero-width space and a word joiner', () => runCommand(b.ctx('u'), 'draw', { prompt: '\u200b\u2060' }), /'prompt' is required/);
  });
});
