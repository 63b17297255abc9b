/**
 * Per-user rate limits: a token bucket per user (commands/rate-limit.ts), taken by
 * runCommand and runButton before anything else happens, with a clear "slow down … try again in N s";
 * configured by PAIRSTYLE_COMMANDS_PER_MINUTE (config/bot.ts), validated like the other limits.
 */
import { describe, expect, it } from 'vitest';
import { runButton, runCommand, UserRateLimiter } from '../../commands/index.ts';
import { loadBotConfig } from '../../config/bot.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';
import { attached, backend, png, who } from './fixture.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);

describe('UserRateLimiter', () => {
  it('allows a burst of perMinute commands, then one every 60/perMinute s, per person (platform + user)', () => {
    let t = 0;
    const rl = new UserRateLimiter({ perMinute: 6, now: () => t });
    for (let i = 0; i < 6; i++) rl.take(who('a'), 'draw');
    let message = '';
    try {
      rl.take(who('a'), 'draw');
    } catch (e) {
      message = (e as Error).message;
      expect((e as Error).name).toBe('RateLimitError');
    }
    expect(message).toBe('slow down: you can send 6 commands a minute; try again in 10 s');
    rl.take(who('b'), 'draw');
    rl.take({ ...who('a'), platform: 'other-platform' }, 'draw');
    expect(() => rl.take(who('a', 'other-workspace'), 'draw')).toThrow(/slow down/);
    t = 10_000;
    rl.take(who('a'), 'draw');
    expect(() => rl.take(who('a'), 'draw')).toThrow(/try again in 10 s/);
    t = 10_000 + 60_000;
    for (let i = 0; i < 6; i++) rl.take(who('a'), 'list');
    expect(() => rl.take(who('a'), 'list')).toThrow(/slow down/);
    expect(() => rl.take(who('a'), 'train')).toThrow(/\(a train counts as 3\); try again in 30 s/);
    report.row({
      section: 'Rate limits',
      case: '7 commands at once from one user, limit 6 a minute',
      expected: 'the 7th refused with when to try again, in every workspace of that user; other users unaffected; refills at 1 per 10 s',
      result: message,
      pass: true,
    });
  });

  it('keeps at most maxUsers buckets (a flood of distinct users cannot grow memory)', () => {
    const rl = new UserRateLimiter({ perMinute: 5, maxUsers: 1000, now: () => 0 });
    for (let i = 0; i < 5000; i++) rl.take(who(`u${i}`), 'draw');
    report.row({
      section: 'Rate limits',
      case: '5,000 distinct users, bucket cap 1,000',
      expected: 'at most 1,000 buckets kept',
      result: `${rl.size} buckets`,
      pass: rl.size <= 1000,
    });
    expect(rl.size).toBeLessThanOrEqual(1000);
  });
});

describe('through the commands', () => {
  it('refuses before doing any work, counts buttons too, never blocks cancelling', async () => {
    let t = 0;
    const b = await backend({ executor: new FakeExecutor(), limits: { userRate: new UserRateLimiter({ perMinute: 4, now: () => t }) } });
    const first = await runCommand(b.ctx('u'), 'draw', { prompt: 'cat' });
    await runCommand(b.ctx('u'), 'list', {});
    await runCommand(b.ctx('u'), 'help', {});
    await runCommand(b.ctx('u'), 'status', {});
    let downloads = 0;
    const counted = { ...attached('a.png', await png()), download: async () => (downloads++, png()) };
    await report.refused(
      'Rate limits',
      'a 5th command within the minute (limit 4): a training with two uploads',
      () => runCommand(b.ctx('u'), 'train', { content: counted, style: counted, name: 'x' }),
      /^slow down: you can send 4 commands a minute \(a train counts as 3\); try again in 45 s$/,
    );
    expect(downloads).toBe(0);
    await report.refused(
      'Rate limits',
      'a reroll button over the limit',
      () => runButton(b.ctx('u'), `ps:reroll:${first.type === 'job' ? first.job.id : ''}`),
      /^slow down: .*try again in 15 s$/,
    );
    await report.refused('Rate limits', 'an unknown subcommand over the limit (spam costs too)', () => runCommand(b.ctx('u'), 'frob', {}), /^slow down/);
    const cancel = await runButton(b.ctx('u'), `ps:cancel:${first.type === 'job' ? first.job.id : ''}`);
    report.row({
      section: 'Rate limits',
      case: 'a cancel button over the limit',
      expected: 'never rate limited',
      result: cancel.type === 'reply' ? cancel.reply.text : 'job',
      pass: cancel.type === 'reply' && /cancelling/.test(cancel.reply.text),
    });
    expect(cancel.type === 'reply' && cancel.reply.text).toMatch(/cancelling/);
    t = 15_000;
    const again = await runCommand(b.ctx('u'), 'help', {});
    report.row({
      section: 'Rate limits',
      case: 'the same user 15 s later',
      expected: 'served again',
      result: again.type === 'reply' ? 'served' : 'job',
      pass: again.type === 'reply',
    });
    expect(again.type).toBe('reply');
    await runCommand(b.ctx('someone-else'), 'help', {});
    await b.queue.close();
  });

  it('counts one person in several servers and direct messages as one: rate limit and queue caps', async () => {
    const b = await backend({ executor: new FakeExecutor(), limits: { userRate: new UserRateLimiter({ perMinute: 4, now: () => 0 }) } });
    const places = ['server-1', 'server-2', 'server-3', 'dm'];
    const as = (workspace: string) => ({ ...b.ctx('u'), who: who('u', workspace) });
    let accepted = 0;
    for (let i = 0; i < 16; i++) {
      if (
        await runCommand(as(places[i % 4]), 'help', {}).then(
          () => true,
          () => false,
        )
      )
        accepted++;
    }
    report.row({
      section: 'Rate limits',
      case: 'one user sends 16 commands from 3 servers and a DM at once (limit 4 a minute)',
      expected: '4 served, 12 refused',
      result: `${accepted} served, ${16 - accepted} refused`,
      pass: accepted === 4,
    });
    expect(accepted).toBe(4);

    const q = await backend({ executor: new FakeExecutor() });
    const at = (workspace: string) => ({ ...q.ctx('u'), who: who('u', workspace) });
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'queued',
        (e: Error) => e.message,
      );
    const trainings = [];
    for (const w of places)
      trainings.push(
        await outcome(runCommand(at(w), 'train', { content: attached('a.png', await png()), style: attached('b.png', await png()), name: `t-${w}` })),
      );
    const draws = [];
    for (let i = 0; i < 12; i++) draws.push(await outcome(runCommand(at(places[i % 4]), 'draw', { prompt: 'cat', strength: 0 })));
    const trained = trainings.filter((t) => t === 'queued').length;
    const drawn = draws.filter((d) => d === 'queued').length;
    report.row({
      section: 'Rate limits',
      case: 'one user queues 4 trainings and 12 draws from 3 servers and a DM (caps 1 training + 3 draws)',
      expected: '1 training and 3 draws queued; the rest refused with the cap',
      result: `${trained} training(s), ${drawn} draws queued; then: ${trainings.find((t) => t !== 'queued') ?? '-'}`,
      pass: trained === 1 && drawn === 3,
    });
    expect([trained, drawn]).toEqual([1, 3]);
    expect(trainings[1]).toMatch(/you already have a training in the queue/);
    await b.queue.close();
    await q.queue.close();
  });

  it('is configured by PAIRSTYLE_COMMANDS_PER_MINUTE, validated', () => {
    const env = { PAIRSTYLE_PLAYGROUND: '1' };
    expect(loadBotConfig(env, { requireModel: false }).commandsPerMinute).toBe(20);
    expect(loadBotConfig({ ...env, PAIRSTYLE_COMMANDS_PER_MINUTE: '5' }, { requireModel: false }).commandsPerMinute).toBe(5);
    for (const bad of ['0', '-3', '2.5', 'lots', '601']) {
      let message = '';
      try {
        loadBotConfig({ ...env, PAIRSTYLE_COMMANDS_PER_MINUTE: bad }, { requireModel: false });
      } catch (e) {
        message = (e as Error).message;
      }
      const pass = message.includes(`PAIRSTYLE_COMMANDS_PER_MINUTE must be a whole number from 1 to 600 (got '${bad}')`);
      report.row({
        section: 'Rate limits',
        case: `PAIRSTYLE_COMMANDS_PER_MINUTE=${bad}`,
        expected: 'the bot refuses to start, naming the setting',
        result:
          message
            .split('\n')
            .find((l) => l.includes('PER_MINUTE'))
            ?.trim() ?? 'started',
        pass,
      });
      expect(pass, message).toBe(true);
    }
  });
});
