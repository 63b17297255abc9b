/** /pairstyle list: the user's styles, and the styles shared in their server / workspace. */
import { msg, t } from '../src/i18n/message.ts';
import { defineCommand, reply } from './types.ts';

export const list = defineCommand({
  name: 'list',
  description: msg('describe.list'),
  ephemeral: true,
  options: [],
  async run(ctx) {
    const { own, shared } = await ctx.registry.list(ctx.who);
    if (!own.length && !shared.length) return reply(t(ctx.locale, 'list.empty'));
    const line = (e: (typeof own)[number]) =>
      t(ctx.locale, 'list.own-line', {
        name: e.name,
        subject: String(e.info.subject ?? '?'),
        steps: String(e.info.steps ?? '?'),
        date: e.createdAt.slice(0, 10),
        shared: e.shared ? msg('list.shared-mark') : '',
      });
    const parts = [];
    if (own.length) parts.push(t(ctx.locale, 'list.own', { lines: own.map(line).join('\n') }));
    if (shared.length)
      parts.push(
        t(ctx.locale, 'list.shared', { lines: shared.map((e) => t(ctx.locale, 'list.shared-line', { name: e.name, owner: e.owner.user })).join('\n') }),
      );
    return reply(parts.join('\n\n'));
  },
});
