/** /pairstyle help: how to use PairStyle. */
import { msg, t } from '../src/i18n/message.ts';
import { defineCommand, reply } from './types.ts';

/** The help text in English (the command line and tests); the command answers in its user's language. */
export const HELP = t('en', 'help.text');

export const help = defineCommand({
  name: 'help',
  description: msg('describe.help'),
  ephemeral: true,
  options: [],
  async run(ctx) {
    return reply(t(ctx.locale, 'help.text'));
  },
});
