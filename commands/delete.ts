/** /pairstyle delete name: deletes one of the user's styles (an admin may delete a style shared in their server / workspace). */
import { styleNameOption, withStyleSuggestions } from './style-names.ts';
import { msg, t } from '../src/i18n/message.ts';
import { defineCommand, reply } from './types.ts';

export const del = defineCommand({
  name: 'delete',
  description: msg('describe.delete'),
  ephemeral: true,
  needsAdmin: true,
  options: [styleNameOption(msg('describe.delete.name'))],
  async run(ctx, o) {
    const e = await withStyleSuggestions(ctx, o.name, () => ctx.registry.delete(ctx.who, o.name, { isAdmin: ctx.isAdmin }));
    return reply(t(ctx.locale, 'delete.done', { name: e.name, owner: ctx.registry.isOwner(ctx.who, e) ? '' : msg('delete.owner', { owner: e.owner.user }) }));
  },
});
