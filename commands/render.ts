/** Reply texts shared by every adapter: progress, final results, errors. */
import { isUserError } from '../src/errors/user-error.ts';
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

/**
 * A job's time as the queue measured it (src/queue/estimator.ts): until it starts (queued) or ends
 * (running); "estimating…" before anything is measured, never a guess.
 */
export function timeText(status: Job['status'], etaSeconds: number | undefined, phaseOnly = false): string {
  if (etaSeconds === undefined) return status === 'queued' ? 'start time: estimating…' : 'time left: estimating…';
  if (status === 'queued') return `starts in about ${fmtTime(etaSeconds)}`;
  return `about ${fmtTime(etaSeconds)} left${phaseOnly ? ' in this phase' : ''}`;
}

/** The message while a job waits or runs; `etaSeconds` and `phaseOnly` as JobQueue.jobsOf gives them. */
export function progressReply(job: Job, position: number, etaSeconds?: number, phaseOnly = false): Reply {
  const what = describeJob(job);
  const time = timeText(job.status, etaSeconds, phaseOnly);
  if (job.status === 'queued') return { text: `⏳ ${what}: #${position} in the queue, ${time}`, buttons: [cancelButton(job)] };
  const p = job.progress;
  if (!p) return { text: `⚙️ ${what}: starting…${etaSeconds === undefined ? '' : `, ${time}`}`, buttons: [cancelButton(job)] };
  const loss = p.loss !== undefined ? `, loss ${p.loss.toFixed(4)}` : '';
  // The drawing as it looks now, when the worker sent one; the final reply's images replace it.
  const preview = p.preview ? { images: [{ name: 'preview.png', png: p.preview }] } : {};
  return { text: `⚙️ ${what}${p.phase ? ` (${p.phase})` : ''}: ${bar(p)}${loss}, ${time}`, buttons: [cancelButton(job)], ...preview };
}

/** A job that did not finish well. */
export function unfinishedReply(job: Job): Reply {
  if (job.status === 'cancelled') return { text: `✖️ ${describeJob(job)}: cancelled` };
  return { text: `⚠️ ${describeJob(job)} failed: ${job.error?.message ?? 'unknown error'}` };
}

/** The text for an error thrown by a command: its message if it is the user's (a UserError), a generic line otherwise. */
export function errorText(e: unknown): string {
  if (isUserError(e)) return `⚠️ ${(e as Error).message}`;
  return '⚠️ something went wrong on our side; please try again (the error was logged)';
}

export { isUserError };
