/**
 * The bot as its own process, for tests that kill it (kill -9) and start it again on the same store:
 * `node --import tsx test/helpers/bot-process.ts '<json>'` with { env, overrides } (see startBot).
 * Prints one line `READY {"ports":…,"recovered":…}` once serving; SIGTERM stops it cleanly.
 */
import { loadBotConfig } from '../../config/bot.ts';
import { startBot, type BotOverrides } from '../../src/bot/main.ts';

const { env, overrides } = JSON.parse(process.argv[2] ?? '{}') as { env: NodeJS.ProcessEnv; overrides: BotOverrides };
const bot = await startBot(loadBotConfig(env), overrides);
process.stdout.write(`READY ${JSON.stringify({ ports: bot.ports, recovered: bot.recovered })}\n`);
process.once('SIGTERM', () => void bot.stop().then(() => process.exit(0)));
