/** Reply texts shared by every adapter: progress, final results, errors. */
import { isUserError, messageIn } from '../src/errors/user-error.ts';
import { localeOf, msg, say, t, type Locale, type Message } from '../src/i18n/message.ts';
import type { Job, JobProgress } from '../src/queue/job.ts';
import type { Button, Reply } from './types.ts';

/** A duration in seconds, for people: '5 s', '3 min'. */
export const timeText = (s: number): Message =>
  s < 60 ? msg('time.seconds', { n: Math.max(1, Math.round(s)) }) : msg('time.minutes', { n: Math.round(s / 60) });

/** The language of a job's user: the one its reply route carries (English when none). */
export const jobLocale = (job: Job): Locale => localeOf(job.route?.locale);

const styleNames = (styles: readonly { style: { name: string } }[]) => styles.map((s) => `'${s.style.name}'`).join(' + ');

export function describeJob(job: Job, locale: Locale = jobLocale(job)): string {
  switch (job.kind) {
    case 'train':
      return job.args.pairLabels?.length
        ? t(locale, 'job.training-pairs', { name: job.args.name, count: job.args.pairLabels.length, pairs: job.args.pairLabels.join('; ') })
        : t(locale, 'job.training', { name: job.args.name });
    case 'draw':
      return job.args.styles.length
        ? t(locale, 'job.drawing-in', { prompt: job.args.prompt, styles: styleNames(job.args.styles) })
        : t(locale, 'job.drawing', { prompt: job.args.prompt });
    case 'blend':
      return t(locale, 'job.blending', { a: job.args.a.name, b: job.args.b.name, prompt: job.args.prompt });
    case 'stylize':
      return job.args.styles.length
        ? t(locale, 'job.stylizing-in', { image: job.args.imageName, styles: styleNames(job.args.styles) })
        : t(locale, 'job.stylizing', { image: job.args.imageName });
  }
}

/** The phases the worker reports (workers/tasks/bot-jobs.ts), in the user's language; another phase is shown as it is. */
function phaseText(phase: string, locale: Locale): string {
  const sample = /^drawing sample (\d+)\/(\d+)$/.exec(phase);
  if (sample) return t(locale, 'phase.drawing-sample', { n: sample[1]!, count: sample[2]! });
  const known = PHASES[phase];
  return known ? t(locale, known) : phase;
}

/** "1 draw", "2 draws and 1 blend": the quick jobs of each kind, in order of first appearance. */
function quickJobsText(kinds: readonly Job['kind'][], locale: Locale): string {
  const counts = new Map<Job['kind'], number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  const parts = [...counts].map(([k, n]) => t(locale, n === 1 ? `quick.one.${k}` : `quick.many.${k}`, { n }));
  return parts.length > 1 ? t(locale, 'list.and', { first: parts.slice(0, -1).join(', '), last: parts.at(-1)! }) : (parts[0] ?? '');
}

/** The phase of a running job in words, with a training's pauses for quick jobs ("paused for 1 draw", "training; resumed after 1 draw"). */
export function phaseLine(p: JobProgress, locale: Locale = 'en'): string | undefined {
  if (p.paused && p.pausedFor?.length) return t(locale, 'phase.paused-for', { jobs: quickJobsText(p.pausedFor, locale) });
  if (!p.phase) return undefined;
  const phase = phaseText(p.phase, locale);
  return p.resumedAfter?.length ? t(locale, 'phase.resumed-after', { phase, jobs: quickJobsText(p.resumedAfter, locale) }) : phase;
}

const PHASES: Record<string, 'phase.content-warm-up' | 'phase.training' | 'phase.drawing' | 'phase.blending' | 'phase.inverting' | 'phase.stylizing'> = {
  'content warm-up': 'phase.content-warm-up',
  training: 'phase.training',
  drawing: 'phase.drawing',
  blending: 'phase.blending',
  'inverting the picture': 'phase.inverting',
  stylizing: 'phase.stylizing',
};

const bar = (p: JobProgress) => {
  const frac = p.steps ? p.step / p.steps : 0;
  return `\`${'█'.repeat(Math.round(frac * 16)).padEnd(16, '░')}\` ${p.step}/${p.steps}`;
};

export const cancelButton = (job: Job, locale: Locale = jobLocale(job)): Button => ({
  id: `ps:cancel:${job.id}`,
  label: t(locale, 'button.cancel'),
  style: 'danger',
});

/**
 * A job's time as the queue measured it (src/queue/estimator.ts): until it starts (queued) or ends
 * (running); "estimating…" before anything is measured, never a guess.
 */
export function etaText(status: Job['status'], etaSeconds: number | undefined, phaseOnly = false): Message {
  if (etaSeconds === undefined) return msg(status === 'queued' ? 'eta.queued-unknown' : 'eta.running-unknown');
  const time = timeText(etaSeconds);
  if (status === 'queued') return msg('eta.queued', { time });
  return msg(phaseOnly ? 'eta.running-phase' : 'eta.running', { time });
}

/** The message while a job waits or runs, in its user's language; `etaSeconds` and `phaseOnly` as JobQueue.jobsOf gives them. */
export function progressReply(job: Job, position: number, etaSeconds?: number, phaseOnly = false): Reply {
  const locale = jobLocale(job);
  const what = describeJob(job, locale);
  const buttons = [cancelButton(job, locale)];
  const time = say(etaText(job.status, etaSeconds, phaseOnly), locale);
  if (job.status === 'queued') return { text: t(locale, 'progress.queued', { what, position, time }), buttons };
  const p = job.progress;
  if (!p) return { text: t(locale, 'progress.starting', { what }) + (etaSeconds === undefined ? '' : `, ${time}`), buttons };
  const loss = p.loss !== undefined ? msg('progress.loss', { loss: p.loss.toFixed(4) }) : '';
  const line = phaseLine(p, locale);
  const phase = line === undefined ? '' : msg('progress.phase', { phase: line });
  // The drawing as it looks now, when the worker sent one; the final reply's images replace it.
  const preview = p.preview ? { images: [{ name: 'preview.png', png: p.preview }] } : {};
  return { text: t(locale, 'progress.running', { what, phase, bar: bar(p), loss, time }), buttons, ...preview };
}

/** A job that did not finish well, in its user's language. */
export function unfinishedReply(job: Job): Reply {
  const locale = jobLocale(job);
  const what = describeJob(job, locale);
  if (job.status === 'cancelled') return { text: t(locale, 'job.cancelled', { what }) };
  return { text: t(locale, 'job.failed', { what, error: job.error ? messageIn(job.error, locale) : t(locale, 'job.unknown-error') }) };
}

/** The text for an error thrown by a command, in `locale`: its message if it is the user's (a UserError), a generic line otherwise. */
export function errorText(e: unknown, locale: Locale = 'en'): string {
  return t(locale, 'error.line', { message: isUserError(e) ? messageIn(e, locale) : t(locale, 'error.internal') });
}

export { isUserError };
