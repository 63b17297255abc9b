/** /pairstyle list: the user's styles, and the styles shared in their server / workspace. */
import { defineCommand, reply } from './types.ts';

export const list = defineCommand({
  name: 'list',
  description: 'Your styles, and the styles shared in this server/workspace',
  ephemeral: true,
  options: [],
  async run(ctx) {
    const { own, shared } = await ctx.registry.list(ctx.who);
    if (!own.length && !shared.length) return reply('You have no styles yet. Train one: `/pairstyle train content:<image> style:<image> name:<name>`');
    const line = (e: (typeof own)[number]) =>
      `• **${e.name}** — subject '${String(e.info.subject ?? '?')}', ${String(e.info.steps ?? '?')} steps, ${e.createdAt.slice(0, 10)}${e.shared ? ' (shared)' : ''}`;
    const parts = [];
    if (own.length) parts.push(`Your styles:\n${own.map(line).join('\n')}`);
    if (shared.length) parts.push(`Shared here by others:\n${shared.map((e) => `• **${e.name}** (by ${e.owner.user})`).join('\n')}`);
    return reply(parts.join('\n\n'));
  },
});
