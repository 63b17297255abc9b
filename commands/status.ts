/** /pairstyle status and /pairstyle help. */
import { describeJob } from './render.ts';
import { reply, type Command } from './types.ts';

export const status: Command = {
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
};

export const HELP = `**PairStyle** learns a style from ONE before/after pair and draws anything in it.
• \`/pairstyle train content:<image> style:<image> name:<name> [subject:<text>]\` — learn a style (a minute or two)
• \`/pairstyle draw prompt:<text> [style:<name>] [strength:0-10] [seed] [steps]\` — styled beside unstyled, same seed
• \`/pairstyle stylize image:<picture> [style:<name>] [strength:0-10] [keep:0-0.95]\` — your picture redrawn in the style, beside its plain reconstruction
• \`/pairstyle blend style_a:<name> style_b:<name> [prompt] [ratio:0-1]\` — a mix, or a strip from A to B
• \`/pairstyle list\` · \`delete name\` · \`share name\` · \`unshare name\` · \`export name\` · \`status\`
Styles are private to you until you share them in this server/workspace.`;

export const help: Command = {
  name: 'help',
  description: 'How to use PairStyle',
  ephemeral: true,
  options: [],
  async run() {
    return reply(HELP);
  },
};
