/** The /pairstyle slash command as Discord JSON, derived from the platform-neutral command specs. */
import { ApplicationCommandOptionType, ApplicationCommandType, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord-api-types/v10';
import { COMMANDS, ROOT_COMMAND } from '../../../commands/index.ts';
import type { OptionSpec } from '../../../commands/types.ts';

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
  description: o.description.slice(0, 100),
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
      description: ROOT_COMMAND.description,
      // Everyone may use /pairstyle: Discord sets one default permission per top-level command, and
      // every subcommand (draw, train, settings…) lives under this one. Changing a server's settings is
      // refused by the bot itself unless the member has Manage Server or Administrator (isGuildAdmin);
      // a server can still narrow who sees the command (Server Settings → Integrations).
      default_member_permissions: null,
      options: COMMANDS.map((c) => ({
        type: ApplicationCommandOptionType.Subcommand,
        name: c.name,
        description: c.description.slice(0, 100),
        // Discord wants required options first.
        options: [...c.options].sort((a, b) => Number(b.required ?? false) - Number(a.required ?? false)).map(option),
      })),
    } as RESTPostAPIChatInputApplicationCommandsJSONBody,
  ];
}
