/** /pairstyle status: the user's jobs, with their queue position and time left, and a cancel button each. */
import { describeJob } from './render.ts';
import { defineCommand, reply } from './types.ts';

export const status = defineCommand({
  name: 'status',
  description: 'Your jobs: queue position and time left',
  ephemeral: true,
  options: [],
  async run(ctx) {
    const jobs = ctx.queue.jobsOf(ctx.who);
    if (!jobs.length) return reply('You have no jobs in the queue.');
    const fmt = (s: number) => (s < 60 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} min`);
    const lines = jobs.map(({ job, position, etaSeconds }) =>
      job.status === 'running'
        ? `• ${describeJob(job)}: running${job.progress ? ` (${job.progress.step}/${job.progress.steps})` : ''}, about ${fmt(etaSeconds)} left`
        : `• ${describeJob(job)}: #${position} in the queue, starts in about ${fmt(etaSeconds)}`,
    );
    return reply(lines.join('\n'), {
      buttons: jobs.slice(0, 5).map(({ job }) => ({ id: `ps:cancel:${job.id}`, label: `Cancel ${job.kind}`, style: 'danger' as const })),
    });
  },
});
