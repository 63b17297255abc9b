/** /pairstyle status: the user's jobs, with their queue position and time left, and a cancel button each. */
import { msg, t } from '../src/i18n/message.ts';
import { describeJob, etaText } from './render.ts';
import { defineCommand, reply } from './types.ts';

export const status = defineCommand({
  name: 'status',
  description: msg('describe.status'),
  ephemeral: true,
  options: [],
  async run(ctx) {
    const jobs = ctx.queue.jobsOf(ctx.who);
    const locale = ctx.locale;
    if (!jobs.length) return reply(t(locale, 'status.empty'));
    const lines = jobs.map(({ job, position, etaSeconds, etaPhaseOnly }) =>
      job.status === 'running'
        ? t(locale, 'status.running', {
            what: describeJob(job, locale),
            progress: job.progress ? msg('status.progress', { step: job.progress.step, steps: job.progress.steps }) : '',
            time: etaText(job.status, etaSeconds, etaPhaseOnly),
          })
        : t(locale, 'status.queued', { what: describeJob(job, locale), position, time: etaText(job.status, etaSeconds) }),
    );
    return reply(lines.join('\n'), {
      buttons: jobs
        .slice(0, 5)
        .map(({ job }) => ({ id: `ps:cancel:${job.id}`, label: t(locale, 'status.cancel', { kind: msg(`kind.${job.kind}`) }), style: 'danger' as const })),
    });
  },
});
