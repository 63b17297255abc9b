/** /pairstyle unshare name: makes a shared style private again (its owner, or an admin of the server / workspace). */
import { styleNameOption, withStyleSuggestions } from './style-names.ts';
import { msg, t } from '../src/i18n/message.ts';
import { defineCommand, reply } from './types.ts';

export const unshare = defineCommand({
  name: 'unshare',
  description: msg('describe.unshare'),
  ephemeral: true,
  needsAdmin: true,
  options: [styleNameOption(msg('describe.unshare.name'))],
  async run(ctx, o) {
    const e = await withStyleSuggestions(ctx, o.name, () => ctx.registry.setShared(ctx.who, o.name, false, { isAdmin: ctx.isAdmin }));
    return reply(t(ctx.locale, 'unshare.done', { name: e.name }));
  },
});
