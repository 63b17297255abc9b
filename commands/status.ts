/** /pairstyle status: the user's jobs, with their queue position and time left, and a cancel button each. */
import { describeJob, timeText } from './render.ts';
import { defineCommand, reply } from './types.ts';

export const status = defineCommand({
  name: 'status',
  description: 'Your jobs: queue position and time left',
  ephemeral: true,
  options: [],
  async run(ctx) {
    const jobs = ctx.queue.jobsOf(ctx.who);
    if (!jobs.length) return reply('You have no jobs in the queue.');
    const lines = jobs.map(({ job, position, etaSeconds, etaPhaseOnly }) =>
      job.status === 'running'
        ? `• ${describeJob(job)}: running${job.progress ? ` (${job.progress.step}/${job.progress.steps})` : ''}, ${timeText(job.status, etaSeconds, etaPhaseOnly)}`
        : `• ${describeJob(job)}: #${position} in the queue, ${timeText(job.status, etaSeconds)}`,
    );
    return reply(lines.join('\n'), {
      buttons: jobs.slice(0, 5).map(({ job }) => ({ id: `ps:cancel:${job.id}`, label: `Cancel ${job.kind}`, style: 'danger' as const })),
    });
  },
});
