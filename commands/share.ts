/** /pairstyle share name: lets everyone in the server / workspace draw with one of the user's styles. */
import { styleNameOption, withStyleSuggestions } from './style-names.ts';
import { defineCommand, reply } from './types.ts';

export const share = defineCommand({
  name: 'share',
  description: 'Let everyone in this server/workspace draw with one of your styles',
  ephemeral: true,
  // A server / workspace may let only its admins share (sharing:admins in /pairstyle settings).
  needsAdmin: true,
  options: [styleNameOption('the style to share')],
  async run(ctx, o) {
    const e = await withStyleSuggestions(ctx, o.name, () => ctx.registry.setShared(ctx.who, o.name, true));
    return reply(`🔓 '${e.name}' is now shared here: anyone can draw with it (only you can delete it)`);
  },
});
