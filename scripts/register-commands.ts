/**
 * npm run register-commands [-- --guild GUILD_ID]
 * Registers the /pairstyle slash command for DISCORD_APP_ID with DISCORD_TOKEN: in one guild (instant,
 * for development; also DISCORD_GUILD_ID) or globally (may take up to an hour to appear). Run it when
 * the commands change, not at every start (Discord limits daily command creations).
 */
import { parseArgs } from 'node:util';
import { REST } from '@discordjs/rest';
import { registerCommands } from '../src/bot/discord/register.ts';

const { values } = parseArgs({ options: { guild: { type: 'string' } } });
const token = process.env.DISCORD_TOKEN;
const appId = process.env.DISCORD_APP_ID;
const missing = [!token && 'DISCORD_TOKEN (the bot token)', !appId && 'DISCORD_APP_ID (the application id)'].filter(Boolean);
if (missing.length) {
  console.error(`register-commands: set ${missing.join(' and ')}`);
  process.exit(2);
}
const guild = values.guild ?? process.env.DISCORD_GUILD_ID;
const rest = new REST({ version: '10', ...(process.env.DISCORD_API_URL ? { api: process.env.DISCORD_API_URL } : {}) }).setToken(token!);
await registerCommands(rest, appId!, guild);
console.log(guild ? `registered /pairstyle in guild ${guild}` : 'registered /pairstyle globally (it may take up to an hour to appear everywhere)');
