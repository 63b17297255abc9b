/**
 * Reply texts of a running job: a training's pauses for quick jobs are worded in its user's language
 * from the structured progress the engine sends (workers/tasks/training-pauses.ts).
 */
import { describe, expect, it } from 'vitest';
import { phaseLine, progressReply } from '../../commands/render.ts';
import type { Job } from '../../src/queue/job.ts';

const training = (locale: string, progress: Job['progress']): Job =>
  ({
    id: 'j1',
    kind: 'train',
    owner: { platform: 'discord', guild: 'g', user: 'u' },
    args: { name: 'ink' },
    status: 'running',
    createdAt: 0,
    startedAt: 0,
    route: { platform: 'discord', locale },
    progress,
  }) as unknown as Job;

describe('a training that pauses for quick jobs', () => {
  it('says what it paused for, and then what it resumed after, counting each kind', () => {
    expect(phaseLine({ step: 3, steps: 10, phase: 'training', paused: true, pausedFor: ['draw'] })).toBe('paused for 1 draw');
    expect(phaseLine({ step: 4, steps: 10, phase: 'training', resumedAfter: ['draw', 'draw', 'stylize'] })).toBe(
      'training; resumed after 2 draws and 1 stylize',
    );
    expect(phaseLine({ step: 4, steps: 10, phase: 'training' })).toBe('training');
  });

  it('is said in German and French in the progress reply', () => {
    const de = progressReply(training('de', { step: 3, steps: 10, phase: 'training', paused: true, pausedFor: ['draw', 'blend'] }), 0);
    expect(de.text).toContain('pausiert für 1 Zeichnung und 1 Mischung');
    const fr = progressReply(training('fr', { step: 4, steps: 10, phase: 'training', resumedAfter: ['draw', 'draw'] }), 0);
    expect(fr.text).toContain('reprise après 2 dessins');
  });
});
