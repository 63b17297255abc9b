/** The /pairstyle slash command as Discord JSON, derived from the platform-neutral command specs. */
import { ApplicationCommandOptionType, ApplicationCommandType, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord-api-types/v10';
import { COMMANDS, ROOT_COMMAND } from '../../../commands/index.ts';
import type { OptionSpec } from '../../../commands/types.ts';
import { discordLocalizations, say, type Text } from '../../i18n/message.ts';

/** A description in English (Discord's default) and in every language PairStyle speaks. Names are not localised: they are what Slack, the command line, the help and every message quote. */
const described = (text: Text) => ({ description: say(text).slice(0, 100), description_localizations: discordLocalizations(text) });

const TYPE: Record<OptionSpec['type'], ApplicationCommandOptionType> = {
  string: ApplicationCommandOptionType.String,
  integer: ApplicationCommandOptionType.Integer,
  number: ApplicationCommandOptionType.Number,
  boolean: ApplicationCommandOptionType.Boolean,
  attachment: ApplicationCommandOptionType.Attachment,
};

const option = (o: OptionSpec) => ({
  type: TYPE[o.type],
  name: o.name,
  ...described(o.description),
  required: o.required ?? false,
  ...(o.min !== undefined ? { min_value: o.min } : {}),
  ...(o.max !== undefined ? { max_value: o.max } : {}),
  ...(o.maxLength !== undefined ? { max_length: o.maxLength } : {}),
  ...(o.autocomplete ? { autocomplete: true } : {}),
});

export function slashCommands(): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return [
    {
      type: ApplicationCommandType.ChatInput,
      name: ROOT_COMMAND.name,
      ...described(ROOT_COMMAND.description),
      // Everyone may use /pairstyle: Discord sets one default permission per top-level command, and
      // every subcommand (draw, train, settings…) lives under this one. Changing a server's settings is
      // refused by the bot itself unless the member has Manage Server or Administrator (isGuildAdmin);
      // a server can still narrow who sees the command (Server Settings → Integrations).
      default_member_permissions: null,
      options: COMMANDS.map((c) => ({
        type: ApplicationCommandOptionType.Subcommand,
        name: c.name,
        ...described(c.description),
        // Discord wants required options first.
        options: [...c.options].sort((a, b) => Number(b.required ?? false) - Number(a.required ?? false)).map(option),
      })),
    } as RESTPostAPIChatInputApplicationCommandsJSONBody,
  ];
}
