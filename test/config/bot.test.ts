/** Bot configuration: every missing or malformed setting is named, with what to set. */
import { describe, expect, it } from 'vitest';
import { loadBotConfig } from '../../config/bot.ts';

const load = (env: Record<string, string>) => () => loadBotConfig(env, { requireModel: false });

describe('loadBotConfig', () => {
  it('names what is missing', () => {
    expect(load({ PAIRSTYLE_PLAYGROUND: '0' })).toThrow(
      /nothing to serve: PAIRSTYLE_PLAYGROUND=0 and no chat platform is configured: set DISCORD_TOKEN \+ DISCORD_APP_ID/,
    );
    expect(load({ PAIRSTYLE_PLAYGROUND: 'yes' })).toThrow(/PAIRSTYLE_PLAYGROUND must be 1/);
    expect(load({ PAIRSTYLE_PORT: '99999' })).toThrow(/PAIRSTYLE_PORT must be a whole number from 0 to 65535/);
    expect(load({ DISCORD_TOKEN: 't' })).toThrow(/DISCORD_APP_ID is missing/);
    expect(load({ DISCORD_TOKEN: 't', DISCORD_APP_ID: '123456789012345678', DISCORD_MODE: 'http' })).toThrow(/DISCORD_PUBLIC_KEY is missing/);
    expect(load({ SLACK_BOT_TOKEN: 'xoxp-1' })).toThrow(/starting with xoxb-[\s\S]*SLACK_SIGNING_SECRET \(HTTP events\) or SLACK_APP_TOKEN/);
    expect(load({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'nope' })).toThrow(/xapp-/);
    expect(load({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', PAIRSTYLE_DEVICES: '0' })).toThrow(
      /PAIRSTYLE_DEVICES must be a whole number from 1 to 16/,
    );
    expect(() => loadBotConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', PAIRSTYLE_MODEL: '/nonexistent' })).toThrow(
      /PAIRSTYLE_MODEL=\/nonexistent does not exist/,
    );
    expect(() => loadBotConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', PAIRSTYLE_MODEL: '/models/sd15.safetensors' })).toThrow(
      /PAIRSTYLE_MODEL=\/models\/sd15.safetensors does not exist/,
    );
    // Device and precision are checked even where the model files are not (requireModel: false).
    expect(load({ PAIRSTYLE_DEVICE: 'gpu', PAIRSTYLE_PRECISION: 'half' })).toThrow(
      /the bot cannot start:\n {2}- PAIRSTYLE_DEVICE must be 'cpu' or 'cuda' \(got 'gpu'\)\n {2}- PAIRSTYLE_PRECISION must be 'fp32' or 'fp16' \(got 'half'\)/,
    );
  });

  it('serves the playground when no platform is configured, or beside them with PAIRSTYLE_PLAYGROUND=1', () => {
    const bare = load({})();
    expect(bare.playground).toEqual({ port: 8080 });
    expect(bare.discord ?? bare.slack).toBeUndefined();
    expect(load({ PAIRSTYLE_PORT: '9000' })().playground).toEqual({ port: 9000 });
    const slack = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
    expect(load(slack)().playground).toBeUndefined();
    expect(load({ ...slack, PAIRSTYLE_PLAYGROUND: '1' })()).toMatchObject({ playground: { port: 8080 }, slack: { botToken: 'xoxb-1' } });
  });

  it('reads DISCORD_API_URL and SLACK_API_URL, and names a value that is not an http(s) URL', () => {
    const base = { DISCORD_TOKEN: 't', DISCORD_APP_ID: '123456789012345678', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' };
    const cfg = load({ ...base, DISCORD_API_URL: 'http://127.0.0.1:9999/api', SLACK_API_URL: 'https://slack.example/api/' })();
    expect([cfg.discord?.apiUrl, cfg.slack?.apiUrl]).toEqual(['http://127.0.0.1:9999/api', 'https://slack.example/api/']);
    expect(load({ ...base, DISCORD_API_URL: 'discord.com/api', SLACK_API_URL: 'ftp://x/' })).toThrow(
      /DISCORD_API_URL must be an http:\/\/ or https:\/\/ URL \(got 'discord.com\/api'\)\n {2}- SLACK_API_URL must be an http:\/\/ or https:\/\/ URL \(got 'ftp:\/\/x\/'\)/,
    );
  });

  it('reads a complete configuration', () => {
    const cfg = loadBotConfig(
      {
        DISCORD_TOKEN: 't',
        DISCORD_APP_ID: '123456789012345678',
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_APP_TOKEN: 'xapp-1',
        PAIRSTYLE_STORE_URL: 'memory:',
        PAIRSTYLE_MAX_UPLOAD_MB: '4',
      },
      { requireModel: false },
    );
    expect(cfg.discord).toMatchObject({ mode: 'gateway', appId: '123456789012345678' });
    expect(cfg.slack).toMatchObject({ appToken: 'xapp-1', signingSecret: undefined });
    // The real services unless DISCORD_API_URL / SLACK_API_URL name another compatible endpoint.
    expect([cfg.discord?.apiUrl, cfg.slack?.apiUrl]).toEqual([undefined, undefined]);
    expect(cfg.maxUploadBytes).toBe(4 * 1024 * 1024);
    expect(cfg.storeUrl).toBe('memory:');
    expect(cfg.model).toMatchObject({ device: 'cpu', precision: 'fp32' });
    expect(
      load({ PAIRSTYLE_MODEL: '/m/sd15.safetensors', PAIRSTYLE_TOKENIZER: '/m/tokenizer', PAIRSTYLE_DEVICE: 'cuda', PAIRSTYLE_PRECISION: 'fp16' })().model,
    ).toEqual({
      path: '/m/sd15.safetensors',
      tokenizerDir: '/m/tokenizer',
      device: 'cuda',
      precision: 'fp16',
    });
  });
});
