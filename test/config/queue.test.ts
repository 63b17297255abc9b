/** The queue backend from the environment: in-process by default, BullMQ with REDIS_URL; the worker's settings. */
import { describe, expect, it } from 'vitest';
import { loadBotConfig } from '../../config/bot.ts';
import { loadWorkerConfig } from '../../config/worker.ts';

const base = { PAIRSTYLE_PLAYGROUND: '1' };

describe('queue configuration', () => {
  it('is in-process by default and BullMQ when REDIS_URL is set; the registry then defaults to the same Redis', () => {
    expect(loadBotConfig(base).queue).toEqual({ backend: 'in-process' });
    expect(loadBotConfig(base).storeUrl).toBeUndefined();
    const cfg = loadBotConfig({ ...base, REDIS_URL: 'redis://10.0.0.5:6379/2' });
    expect(cfg.queue).toEqual({ backend: 'bullmq', redisUrl: 'redis://10.0.0.5:6379/2', prefix: 'pairstyle' });
    expect(cfg.storeUrl).toBe('redis://10.0.0.5:6379/2');
    expect(loadBotConfig({ ...base, REDIS_URL: 'redis://h:1', PAIRSTYLE_STORE_URL: 'postgres://db/x', PAIRSTYLE_BOT_ID: 'shard-0' })).toMatchObject({
      storeUrl: 'postgres://db/x',
      queue: { botId: 'shard-0' },
    });
    expect(loadBotConfig({ ...base, REDIS_URL: 'redis://h:1', PAIRSTYLE_QUEUE: 'in-process' }).queue).toEqual({ backend: 'in-process' });
  });

  it('names what to set when the queue settings are wrong', () => {
    expect(() => loadBotConfig({ ...base, PAIRSTYLE_QUEUE: 'bullmq' })).toThrow(/REDIS_URL is missing: PAIRSTYLE_QUEUE=bullmq needs/);
    expect(() => loadBotConfig({ ...base, PAIRSTYLE_QUEUE: 'kafka' })).toThrow(/PAIRSTYLE_QUEUE must be 'in-process' or 'bullmq'/);
    expect(() => loadBotConfig({ ...base, REDIS_URL: 'http://user:secret@h:1' })).toThrow(
      /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL \(got 'http:\/\/\*\*\*@h:1'\)/,
    );
    expect(() => loadBotConfig({ ...base, REDIS_URL: 'redis://h:1', PAIRSTYLE_QUEUE_PREFIX: 'a b' })).toThrow(/PAIRSTYLE_QUEUE_PREFIX must be/);
  });

  it('worker: needs REDIS_URL; lock and stalled-check periods', () => {
    expect(() => loadWorkerConfig({})).toThrow(/the worker cannot start:\n {2}- REDIS_URL is missing/);
    expect(loadWorkerConfig({ REDIS_URL: 'redis://h:1' })).toMatchObject({
      redisUrl: 'redis://h:1',
      prefix: 'pairstyle',
      devices: 1,
      lockMs: 30_000,
      stalledIntervalMs: 15_000,
    });
    expect(loadWorkerConfig({ REDIS_URL: 'redis://h:1', PAIRSTYLE_LOCK_SECONDS: '6', PAIRSTYLE_DEVICES: '2' })).toMatchObject({
      lockMs: 6000,
      stalledIntervalMs: 3000,
      devices: 2,
    });
    expect(() => loadWorkerConfig({ REDIS_URL: 'redis://h:1', PAIRSTYLE_LOCK_SECONDS: '1' })).toThrow(/PAIRSTYLE_LOCK_SECONDS must be a whole number from 2/);
  });

  it('worker: the model setting, with its device and precision', () => {
    expect(loadWorkerConfig({ REDIS_URL: 'redis://h:1', PAIRSTYLE_DEVICE: 'cuda', PAIRSTYLE_PRECISION: 'fp16' }).model).toMatchObject({
      device: 'cuda',
      precision: 'fp16',
    });
    expect(() => loadWorkerConfig({ REDIS_URL: 'redis://h:1', PAIRSTYLE_DEVICE: 'gpu' })).toThrow(
      /the worker cannot start:\n {2}- PAIRSTYLE_DEVICE must be 'cpu' or 'cuda' \(got 'gpu'\)/,
    );
    expect(() => loadWorkerConfig({ REDIS_URL: 'redis://h:1', PAIRSTYLE_MODEL: '/nonexistent' })).toThrow(/PAIRSTYLE_MODEL=\/nonexistent does not exist/);
  });
});
