/**
 * The bot as its own process, for tests that kill it (kill -9) and start it again on the same store:
 * `node --import tsx test/helpers/bot-process.ts '<json>'` with { env, overrides } (see startBot), and
 * optionally `crashAt: { point, name }`: the point of the finalisation of style `name`'s training where
 * it stops for a kill -9 (test/helpers/crash-points.ts).
 * Prints one line `READY {"ports":…,"recovered":…}` once serving; SIGTERM stops it cleanly.
 */
import { loadBotConfig } from '../../config/bot.ts';
import { startBot, type BotOverrides } from '../../src/bot/main.ts';
import { installCrashPoint, type CrashPoint } from './crash-points.ts';

const { env, overrides, crashAt } = JSON.parse(process.argv[2] ?? '{}') as {
  env: NodeJS.ProcessEnv;
  overrides: BotOverrides;
  crashAt?: { point: CrashPoint; name: string };
};
if (crashAt) installCrashPoint(crashAt);
const bot = await startBot(loadBotConfig(env), overrides);
process.stdout.write(`READY ${JSON.stringify({ ports: bot.ports, recovered: bot.recovered })}\n`);
process.once('SIGTERM', () => void bot.stop().then(() => process.exit(0)));
