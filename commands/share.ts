/** /pairstyle share name: lets everyone in the server / workspace draw with one of the user's styles. */
import { styleNameOption, withStyleSuggestions } from './style-names.ts';
import { msg, t } from '../src/i18n/message.ts';
import { defineCommand, reply } from './types.ts';

export const share = defineCommand({
  name: 'share',
  description: msg('describe.share'),
  ephemeral: true,
  // A server / workspace may let only its admins share (sharing:admins in /pairstyle settings).
  needsAdmin: true,
  options: [styleNameOption(msg('describe.share.name'))],
  async run(ctx, o) {
    const e = await withStyleSuggestions(ctx, o.name, () => ctx.registry.setShared(ctx.who, o.name, true));
    return reply(t(ctx.locale, 'share.done', { name: e.name }));
  },
});
