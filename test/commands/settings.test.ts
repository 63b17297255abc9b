/**
 * /pairstyle settings through runCommand / runButton with the real registry, settings store and
 * in-process queue: a person's defaults in their draws, stylizes and blends; the server's rules
 * (channels, the role to train, styles per person, sharing, quotas); every refusal, which changes nothing.
 */
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import { runButton, runCommand, type Attachment, type CommandContext, type Outcome } from '../../commands/index.ts';
import { DEFAULT_COMMAND_LIMITS } from '../../commands/types.ts';
import { DRAW_DEFAULTS } from '../../commands/user-defaults.ts';
import { STYLIZE_DEFAULTS } from '../../src/pair/stylize.ts';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import type { DrawArgs, Job, JobQueue } from '../../src/queue/job.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { SettingsStore } from '../../src/store/settings.ts';
import { StyleRegistry, type Scope } from '../../src/store/style-registry.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';
import { reliabilityReport } from '../reliability/report.ts';

const report = reliabilityReport(import.meta.url);

const who = (user: string, workspace = 'g1'): Scope => ({ platform: 'discord', workspace, user });
const png = async (color: string) =>
  new Uint8Array(
    await sharp({ create: { width: 32, height: 32, channels: 3, background: color } })
      .png()
      .toBuffer(),
  );
const file = (name: string, bytes: Uint8Array): Attachment => ({ name, size: bytes.length, contentType: 'image/png', download: async () => bytes });

let queue: InProcessQueue;
let registry: StyleRegistry;
let store: SettingsStore;
/** A member of server g1, in channel c1 unless told otherwise, with no roles. */
let ctx: (user: string, more?: Partial<CommandContext>) => CommandContext;
beforeEach(async () => {
  queue = new InProcessQueue({ executors: [new FakeExecutor()] });
  registry = new StyleRegistry(await openKeyv('memory:'), { maxStylesPerUser: 50 });
  store = SettingsStore.beside(registry);
  ctx = (user, more = {}) => ({ who: who(user), isAdmin: false, registry, queue, limits: DEFAULT_COMMAND_LIMITS, channel: 'c1', roles: [], ...more });
});
const text = (o: Outcome) => (o.type === 'reply' ? o.reply.text : `job ${o.job.kind}`);
const jobOf = (o: Outcome): Job => {
  if (o.type !== 'job') throw new Error(`expected a job, got: ${text(o)}`);
  return o.job;
};
const drawArgs = (o: Outcome) => jobOf(o).args as DrawArgs;

describe('/pairstyle settings: a person’s defaults', () => {
  it('shows the settings privately when given no option', async () => {
    const out = await runCommand(ctx('ann'), 'settings', {});
    expect(out.type).toBe('reply');
    expect(text(out)).toMatch(
      /Your settings here[\s\S]*style: your last trained style[\s\S]*strength: 3 \(the bot's default; 1\.5 for stylize\)[\s\S]*seed: random/,
    );
    expect(text(out)).toMatch(/channels: every channel[\s\S]*role needed to train: none[\s\S]*who may share styles: everyone/);
    expect(text(out)).toMatch(/its admins can change these/);
  });

  it("a draw uses the user's default style, strength, steps and fixed seed when the options are left out", async () => {
    await registry.put(who('ann'), 'ink', new Uint8Array([1]), {});
    await registry.put(who('ann'), 'crayon', new Uint8Array([2]), {}); // the last trained: the default before
    const saved = await runCommand(ctx('ann'), 'settings', { style: 'ink', strength: '5', steps: '12', seed: '42' });
    expect(text(saved)).toMatch(/✅ saved[\s\S]*style: ink[\s\S]*strength: 5[\s\S]*steps: 12[\s\S]*seed: fixed at 42/);
    const args = drawArgs(await runCommand(ctx('ann'), 'draw', { prompt: 'cat' }));
    expect(args).toMatchObject({ seed: 42, steps: 12 });
    expect(args.styles.map((s) => [s.style.name, s.weight])).toEqual([['ink', 5]]);
    // Options given still win; another person keeps the bot's defaults.
    const given = drawArgs(await runCommand(ctx('ann'), 'draw', { prompt: 'cat', style: 'crayon', strength: '1', seed: '3' }));
    expect([given.styles[0].style.name, given.styles[0].weight, given.seed, given.steps]).toEqual(['crayon', 1, 3, 12]);
    await registry.put(who('bob'), 'wavy', new Uint8Array([3]), {});
    const bob = drawArgs(await runCommand(ctx('bob'), 'draw', { prompt: 'cat' }));
    expect([bob.styles[0].style.name, bob.styles[0].weight, bob.steps]).toEqual(['wavy', 3, 30]);
    // 'fixed' keeps one seed chosen now; 'random' goes back to a new seed each time.
    await runCommand(ctx('ann'), 'settings', { seed: 'fixed' });
    const fixed = (await store.user(who('ann'))).seed;
    expect(typeof fixed).toBe('number');
    expect(drawArgs(await runCommand(ctx('ann'), 'draw', { prompt: 'cat' })).seed).toBe(fixed);
  });

  it("stylize's own defaults when the user set none: its strength here, its keep in the worker (both STYLIZE_DEFAULTS)", async () => {
    await registry.put(who('ann'), 'ink', new Uint8Array([1]), {});
    const stylized = jobOf(await runCommand(ctx('ann'), 'stylize', { image: file('me.png', await png('#456')) }));
    expect(stylized.kind === 'stylize' && [stylized.args.styles.map((s) => [s.style.name, s.weight]), stylized.args.keep]).toEqual([
      [['ink', STYLIZE_DEFAULTS.strength]],
      undefined,
    ]);
    // A draw keeps draw's.
    expect(drawArgs(await runCommand(ctx('ann'), 'draw', { prompt: 'cat' })).styles[0].weight).toBe(DRAW_DEFAULTS.strength);
  });

  it('applies to stylize (style, strength) and blend (strength, steps, seed)', async () => {
    await registry.put(who('ann'), 'ink', new Uint8Array([1]), { subject: 'cat' });
    await registry.put(who('ann'), 'crayon', new Uint8Array([2]), {});
    await runCommand(ctx('ann'), 'settings', { style: 'ink', strength: '6', steps: '9', seed: '5' });
    const stylized = jobOf(await runCommand(ctx('ann'), 'stylize', { image: file('me.png', await png('#456')) }));
    expect(stylized.kind === 'stylize' && stylized.args.styles.map((s) => [s.style.name, s.weight])).toEqual([['ink', 6]]);
    const blended = jobOf(await runCommand(ctx('ann'), 'blend', { style_a: 'ink', style_b: 'crayon' }));
    expect(blended.kind === 'blend' && [blended.args.strength, blended.args.steps, blended.args.seed]).toEqual([6, 9, 5]);
  });

  it('a weighted style list given wins over the default style and shares the default strength; with none given, the default style alone', async () => {
    await registry.put(who('ann'), 'ink', new Uint8Array([1]), { subject: 'cat' });
    await registry.put(who('ann'), 'crayon', new Uint8Array([2]), {});
    await registry.put(who('ann'), 'wavy', new Uint8Array([3]), {});
    await runCommand(ctx('ann'), 'settings', { style: 'crayon', strength: '6', steps: '9', seed: '5' }); // not the last trained (wavy)
    const weighted = drawArgs(await runCommand(ctx('ann'), 'draw', { prompt: 'cat', style: 'ink::2 crayon::1' }));
    expect(weighted.styles.map((s) => [s.style.name, s.weight])).toEqual([
      ['ink', 4],
      ['crayon', 2],
    ]);
    expect([weighted.seed, weighted.steps]).toEqual([5, 9]);
    const plain = drawArgs(await runCommand(ctx('ann'), 'draw', { prompt: 'cat' }));
    expect(plain.styles.map((s) => [s.style.name, s.weight])).toEqual([['crayon', 6]]);
    const stylized = jobOf(await runCommand(ctx('ann'), 'stylize', { image: file('me.png', await png('#456')), style: 'ink::1 crayon::2' }));
    expect(stylized.kind === 'stylize' && stylized.args.styles.map((s) => [s.style.name, s.weight])).toEqual([
      ['ink', 2],
      ['crayon', 4],
    ]);
    // Weights on blend's names choose one picture at that mix; strength, steps and seed stay the user's
    // (bob's: ann has the most draws one person may queue).
    for (const [name, byte] of [
      ['ink', 1],
      ['crayon', 2],
    ] as const)
      await registry.put(who('bob'), name, new Uint8Array([byte]), { subject: 'cat' });
    await runCommand(ctx('bob'), 'settings', { strength: '6', steps: '9', seed: '5' });
    const blended = jobOf(await runCommand(ctx('bob'), 'blend', { style_a: 'ink::3', style_b: 'crayon::1' }));
    expect(blended.kind === 'blend' && [blended.args.ratio, blended.args.strength, blended.args.steps, blended.args.seed]).toEqual([0.25, 6, 9, 5]);
    // A bad list is refused even though a default style is set, and queues nothing.
    await expect(runCommand(ctx('bob'), 'draw', { prompt: 'cat', style: 'ink::0 crayon' })).rejects.toThrow(/the weight of 'ink' is 0/);
  });

  it('refuses a default style that is no longer the user’s to use, saying how to change it', async () => {
    await registry.put(who('carol'), 'shared-ink', new Uint8Array([1]), {});
    await registry.setShared(who('carol'), 'shared-ink', true);
    await runCommand(ctx('ann'), 'settings', { style: 'shared-ink' });
    expect(drawArgs(await runCommand(ctx('ann'), 'draw', { prompt: 'cat' })).styles[0].style.name).toBe('shared-ink');
    await registry.setShared(who('carol'), 'shared-ink', false);
    await expect(runCommand(ctx('ann'), 'draw', { prompt: 'cat' })).rejects.toThrow(
      /your default style 'shared-ink' is no longer available to you .* \/pairstyle settings style:<name>/,
    );
  });

  it('refuses bad values clearly and then saves nothing of the command', async () => {
    await registry.put(who('ann'), 'openmoji', new Uint8Array([1]), {});
    await runCommand(ctx('ann'), 'settings', { strength: '2' });
    const before = await store.read(who('ann'));
    const refused = async (options: Record<string, string>, message: RegExp, as = ctx('ann')) => {
      const typed = Object.entries(options)
        .map(([k, v]) => `${k}:${v}`)
        .join(' ');
      await report.refused('Bad input', `/pairstyle settings ${typed}`, () => runCommand(as, 'settings', options), message, {
        expected: 'refused with what is allowed; nothing saved',
      });
      expect(await store.read(who('ann'))).toEqual(before);
    };
    await refused(
      { strength: '7', seed: 'banana' },
      /'seed' must be 'random', 'fixed' or a whole number from 0 to 2147483647 \(got 'banana'\); nothing was changed/,
    );
    await refused({ strength: '11' }, /'strength' must be a number from 0 to 10/);
    await refused({ strength: '7', style: 'opnmoji' }, /no style named 'opnmoji' that you can use .*cannot be your default\. Did you mean 'openmoji'\?/);
    await refused({ style: 'bad name!' }, /not a valid style name/);
    await refused({ steps: '80' }, /'steps' is at most 40 here; nothing was changed/, {
      ...ctx('ann'),
      limits: { ...DEFAULT_COMMAND_LIMITS, maxDrawSteps: 40 },
    });
    await refused({ reset: 'strength colour' }, /'reset' names no setting 'colour' \(settings: style, strength, steps, seed, channels, train_role/);
    await refused({ colour: 'red' }, /unknown option 'colour'/);
    await refused({ reset: 'constructor' }, /'reset' names no setting 'constructor'/);
  });
});

describe('/pairstyle settings: the server’s rules', () => {
  const admin = (user = 'mod', more: Partial<CommandContext> = {}) => ctx(user, { isAdmin: true, ...more });

  it('lets only admins change them; a non-admin’s command changes nothing, not even their own part of it', async () => {
    await report.refused(
      'Isolation',
      'a member who is not an admin changes a server setting (and one of their own) with /pairstyle settings',
      () => runCommand(ctx('ann'), 'settings', { strength: '4', queued_draws: '1' }),
      /only admins of this server\/workspace can change its settings \(Discord: Manage Server or Administrator; Slack: workspace admins and owners\); nothing was changed/,
      { expected: 'refused; nothing saved, not even their own setting' },
    );
    await expect(runCommand(ctx('ann'), 'settings', { reset: 'server' })).rejects.toThrow(/only admins/);
    expect(await store.read(who('ann'))).toEqual({ user: {}, server: {} });
    expect(text(await runCommand(admin(), 'settings', { queued_draws: '1', sharing: 'admins' }))).toMatch(
      /you are an admin[\s\S]*queued: 1[\s\S]*share styles: admins/,
    );
    expect(await store.server(who('ann'))).toEqual({ queuedDraws: 1, sharing: 'admins' });
  });

  it('refuses bad server values clearly and saves nothing', async () => {
    await runCommand(admin(), 'settings', { sharing: 'admins' });
    const before = await store.read(who('mod'));
    const refused = async (options: Record<string, string>, message: RegExp, as = admin()) => {
      const typed = Object.entries(options)
        .map(([k, v]) => `${k}:${v}`)
        .join(' ');
      await report.refused('Bad input', `/pairstyle settings ${typed} (by an admin)`, () => runCommand(as, 'settings', options), message, {
        expected: 'refused with what is allowed; nothing saved',
      });
      expect(await store.read(who('mod'))).toEqual(before);
    };
    await refused({ channels: '#general' }, /'#general' is not a channel: pick it with #/);
    await refused({ channels: 'here' }, /'here' names no channel in this place/, admin('mod', { channel: undefined }));
    await refused({ sharing: 'nobody' }, /'sharing' must be 'everyone' or 'admins' \(got 'nobody'\)/);
    await refused({ train_role: 'artists' }, /'train_role' must be a role: pick it with @ \(got 'artists'\)/);
    await refused({ train_role: '<@&123>' }, /a role to train exists on Discord only/, admin('mod', { roles: undefined }));
    await refused({ max_styles: '60' }, /'max_styles' can be at most 50, the bot's own limit per person/);
    await refused({ queued_draws: '4' }, /'queued_draws' must be a whole number from 1 to 3/);
    await refused({ trainings_per_day: '0' }, /'trainings_per_day' must be a whole number from 1 to 1000/);
    await refused({ sharing: 'everyone', channels: 'here', trainings_per_day: '-1' }, /'trainings_per_day' must be a whole number/);
  });

  it('refuses a command in a channel that is not allowed, privately; settings and help work everywhere', async () => {
    await runCommand(admin('mod', { channel: 'art' }), 'settings', { channels: 'here <#c2>' });
    expect(await store.server(who('x'))).toEqual({ channels: ['art', 'c2'] });
    await report.refused(
      'Isolation',
      'a draw in a channel the server settings do not allow',
      () => runCommand(ctx('ann'), 'draw', { prompt: 'cat' }),
      /PairStyle is not used in this channel here: an admin allowed it in <#art>, <#c2> only/,
      { expected: 'refused, naming the allowed channels; no job' },
    );
    await expect(runCommand(ctx('ann'), 'list', {})).rejects.toThrow(/not used in this channel/);
    expect(jobOf(await runCommand(ctx('ann', { channel: 'c2' }), 'draw', { prompt: 'cat' })).kind).toBe('draw');
    expect(text(await runCommand(ctx('ann'), 'help', {}))).toMatch(/PairStyle/);
    expect(text(await runCommand(ctx('ann'), 'settings', {}))).toMatch(/channels: <#art>, <#c2>/);
    // Buttons under an earlier result follow the rule too; cancelling is always possible.
    const job = jobOf(await runCommand(ctx('ann', { channel: 'art' }), 'draw', { prompt: 'dog' }));
    await expect(runButton(ctx('ann'), `ps:reroll:${job.id}`)).rejects.toThrow(/not used in this channel/);
    expect(text(await runButton(ctx('ann'), `ps:cancel:${job.id}`))).toMatch(/cancelling/);
    // 'all' lifts it.
    await runCommand(admin(), 'settings', { channels: 'all' });
    expect(jobOf(await runCommand(ctx('bob'), 'draw', { prompt: 'cat' })).kind).toBe('draw');
  });

  it('asks for the role to train (admins need none); the @everyone role lets everyone', async () => {
    await runCommand(admin(), 'settings', { train_role: '<@&777000000000000001>' });
    const pair = { content: file('a.png', await png('#d22')), style: file('b.png', await png('#22d')) };
    await report.refused(
      'Isolation',
      'a training by a member without the role the server settings ask for',
      () => runCommand(ctx('ann', { roles: ['5'] }), 'train', { ...pair, name: 'reds' }),
      /training here needs the role <@&777000000000000001>/,
      { expected: 'refused, naming the role; no job' },
    );
    expect(jobOf(await runCommand(ctx('bea', { roles: ['777000000000000001'] }), 'train', { ...pair, name: 'reds' })).kind).toBe('train');
    expect(jobOf(await runCommand(admin('mod2'), 'train', { ...pair, name: 'reds' })).kind).toBe('train');
    // In a server whose id is a snowflake, as on Discord: its @everyone role has the server's id.
    const guild = '900000000000000009';
    await runCommand(admin('mod', { who: who('mod', guild) }), 'settings', { train_role: `<@&${guild}>` });
    expect(jobOf(await runCommand(ctx('cy', { who: who('cy', guild) }), 'train', { ...pair, name: 'reds' })).kind).toBe('train');
  });

  it('keeps the number of styles one person may keep here; overwriting one is not a new one', async () => {
    await runCommand(admin(), 'settings', { max_styles: '1' });
    await registry.put(who('ann'), 'ink', new Uint8Array([1]), {});
    await registry.put(who('ann', 'g2'), 'other', new Uint8Array([1]), {}); // another server: not counted here
    const pair = { content: file('a.png', await png('#d22')), style: file('b.png', await png('#22d')) };
    await expect(runCommand(ctx('ann'), 'train', { ...pair, name: 'wavy' })).rejects.toThrow(
      /you already keep 1 styles here, the most this server\/workspace allows \(1\)/,
    );
    expect(jobOf(await runCommand(ctx('ann'), 'train', { ...pair, name: 'ink', overwrite: 'true' })).kind).toBe('train');
  });

  it('lets only admins share when sharing is admins', async () => {
    await registry.put(who('ann'), 'ink', new Uint8Array([1]), {});
    await runCommand(admin(), 'settings', { sharing: 'admins' });
    await report.refused(
      'Isolation',
      'sharing a style where only admins may share',
      () => runCommand(ctx('ann'), 'share', { name: 'ink' }),
      /only admins may share styles here/,
      {
        expected: 'refused; the style stays private',
      },
    );
    expect((await registry.list(who('bob'))).shared).toEqual([]);
    await registry.put(who('mod'), 'ink2', new Uint8Array([1]), {});
    expect(text(await runCommand(admin(), 'share', { name: 'ink2' }))).toMatch(/now shared/);
  });

  it('keeps the drawings one person may have queued here', async () => {
    await runCommand(admin(), 'settings', { queued_draws: '1' });
    const first = jobOf(await runCommand(ctx('ann'), 'draw', { prompt: 'cat' }));
    await expect(runCommand(ctx('ann'), 'draw', { prompt: 'cat' })).rejects.toThrow(
      /you already have 1 drawing in the queue, the most this server\/workspace allows \(1\)/,
    );
    await expect(runButton(ctx('ann'), `ps:reroll:${first.id}`)).rejects.toThrow(/the most this server\/workspace allows/);
    // Per person: another member still may.
    expect(jobOf(await runCommand(ctx('bob'), 'draw', { prompt: 'cat' })).kind).toBe('draw');
  });

  it('counts trainings per day; one the queue refused is not counted', async () => {
    await runCommand(admin(), 'settings', { trainings_per_day: '1' });
    const pair = { content: file('a.png', await png('#d22')), style: file('b.png', await png('#22d')) };
    // The queue refuses the first try (it is shutting down): that training does not count.
    const closed = new InProcessQueue({ executors: [new FakeExecutor()] });
    await closed.close();
    await expect(runCommand(ctx('ann', { queue: closed as JobQueue }), 'train', { ...pair, name: 'a' })).rejects.toThrow(/shutting down/);
    expect(jobOf(await runCommand(ctx('ann'), 'train', { ...pair, name: 'a' })).kind).toBe('train');
    const job = queue.jobsOf(who('ann'))[0].job;
    queue.cancel(job.id, who('ann'));
    await queue.finished(job.id);
    await expect(runCommand(ctx('ann'), 'train', { ...pair, name: 'b' })).rejects.toThrow(
      /you have started 1 training here today, the most this server\/workspace allows \(1 a day\): try again tomorrow/,
    );
    expect(await store.trainingsToday(who('ann'))).toBe(1);
  });
});
