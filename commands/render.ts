/** Reply texts shared by every adapter: progress, final results, errors. */
import { isUserError, messageIn } from '../src/errors/user-error.ts';
import { t, type Locale } from '../src/i18n/message.ts';
import type { Job, JobProgress } from '../src/queue/job.ts';
import type { Button, Reply } from './types.ts';

const fmtTime = (s: number) => (s < 60 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} min`);

export function describeJob(job: Job): string {
  switch (job.kind) {
    case 'train':
      return job.args.pairLabels?.length
        ? `training style '${job.args.name}' from ${job.args.pairLabels.length} pairs (${job.args.pairLabels.join('; ')})`
        : `training style '${job.args.name}'`;
    case 'draw':
      return job.args.styles.length
        ? `drawing '${job.args.prompt}' in ${job.args.styles.map((s) => `'${s.style.name}'`).join(' + ')}`
        : `drawing '${job.args.prompt}'`;
    case 'blend':
      return `blending '${job.args.a.name}' and '${job.args.b.name}' for '${job.args.prompt}'`;
    case 'stylize':
      return `stylizing '${job.args.imageName}'${job.args.styles.length ? ` in ${job.args.styles.map((s) => `'${s.style.name}'`).join(' + ')}` : ''}`;
  }
}

const bar = (p: JobProgress) => {
  const frac = p.steps ? p.step / p.steps : 0;
  return `\`${'█'.repeat(Math.round(frac * 16)).padEnd(16, '░')}\` ${p.step}/${p.steps}`;
};

export const cancelButton = (job: Job): Button => ({ id: `ps:cancel:${job.id}`, label: 'Cancel', style: 'danger' });

/** The message while a job waits or runs. */
export function progressReply(job: Job, position: number, etaSeconds: number): Reply {
  const what = describeJob(job);
  if (job.status === 'queued') return { text: `⏳ ${what}: #${position} in the queue, starts in about ${fmtTime(etaSeconds)}`, buttons: [cancelButton(job)] };
  const p = job.progress;
  if (!p) return { text: `⚙️ ${what}: starting…`, buttons: [cancelButton(job)] };
  const elapsed = job.startedAt ? (Date.now() - job.startedAt) / 1000 : 0;
  const eta = p.step ? (elapsed / p.step) * (p.steps - p.step) : 0;
  const loss = p.loss !== undefined ? `, loss ${p.loss.toFixed(4)}` : '';
  // The drawing as it looks now, when the worker sent one; the final reply's images replace it.
  const preview = p.preview ? { images: [{ name: 'preview.png', png: p.preview }] } : {};
  return { text: `⚙️ ${what}${p.phase ? ` (${p.phase})` : ''}: ${bar(p)}${loss}, about ${fmtTime(eta)} left`, buttons: [cancelButton(job)], ...preview };
}

/** A job that did not finish well. */
export function unfinishedReply(job: Job): Reply {
  if (job.status === 'cancelled') return { text: `✖️ ${describeJob(job)}: cancelled` };
  return { text: `⚠️ ${describeJob(job)} failed: ${job.error?.message ?? 'unknown error'}` };
}

/** The text for an error thrown by a command, in `locale`: its message if it is the user's (a UserError), a generic line otherwise. */
export function errorText(e: unknown, locale: Locale = 'en'): string {
  return t(locale, 'error.line', { message: isUserError(e) ? messageIn(e, locale) : t(locale, 'error.internal') });
}

export { isUserError };
