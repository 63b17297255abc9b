/** /pairstyle delete name: deletes one of the user's styles (an admin may delete a style shared in their server / workspace). */
import { styleNameOption, withStyleSuggestions } from './style-names.ts';
import { defineCommand, reply } from './types.ts';

export const del = defineCommand({
  name: 'delete',
  description: 'Delete one of your styles',
  ephemeral: true,
  needsAdmin: true,
  options: [styleNameOption('the style to delete')],
  async run(ctx, o) {
    const e = await withStyleSuggestions(ctx, o.name, () => ctx.registry.delete(ctx.who, o.name, { isAdmin: ctx.isAdmin }));
    return reply(`🗑️ deleted style '${e.name}'${ctx.registry.isOwner(ctx.who, e) ? '' : ` (owned by ${e.owner.user})`}`);
  },
});
