/** Registers /pairstyle with Discord: guild commands (instant; for development) or global ones. */
import type { REST } from '@discordjs/rest';
import { Routes } from 'discord-api-types/v10';
import { slashCommands } from './definitions.ts';

export async function registerCommands(rest: REST, applicationId: string, guildId?: string): Promise<unknown> {
  const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
  return rest.put(route, { body: slashCommands() });
}
