/** /pairstyle share name: lets everyone in the server / workspace draw with one of the user's styles. */
import { styleNameOption, withStyleSuggestions } from './style-names.ts';
import { t } from '../src/i18n/message.ts';
import { defineCommand, reply } from './types.ts';

export const share = defineCommand({
  name: 'share',
  description: 'Let everyone in this server/workspace draw with one of your styles',
  ephemeral: true,
  options: [styleNameOption('the style to share')],
  async run(ctx, o) {
    const e = await withStyleSuggestions(ctx, o.name, () => ctx.registry.setShared(ctx.who, o.name, true));
    return reply(t(ctx.locale, 'share.done', { name: e.name }));
  },
});
