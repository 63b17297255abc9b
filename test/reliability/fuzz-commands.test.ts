/**
 * Fuzzing of command arguments. Random and mutated option values go through
 * runCommand (and runButton, autocomplete), through the Slack text parser and through Discord's raw
 * interaction parsing, against the real commands, registry and in-process queue (fake executor). No
 * input may crash: every call ends in an outcome or in an error meant for the user with a clear message.
 * Seeded: a failure names its seed and input.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { autocompleteStyles, COMMANDS, errorText, isUserError, runButton, runCommand, type Attachment, type OptionValue } from '../../commands/index.ts';
import { parseRawInteraction } from '../../src/bot/discord/parse.ts';
import { parseCommandText } from '../../commands/text.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';
import { backend, detailed, fuzzCount, fuzzSeed, fuzzTimeout, png, seeded, who, type Seeded } from './fixture.ts';
import { FuzzTally } from './fuzz-tally.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
let b: Awaited<ReturnType<typeof backend>>;
let goodPng: Uint8Array;
let goodJpeg: Uint8Array;

beforeAll(async () => {
  b = await backend({ executor: new FakeExecutor({ auto: true }) });
  goodPng = await png(32, 32);
  goodJpeg = await detailed('jpeg');
  for (const [user, name] of [
    ['u0', 'ink'],
    ['u1', 'crayon'],
    ['u2', 'openmoji'],
  ] as const) {
    await b.registry.put(who(user), name, new Uint8Array([1, 2, 3]), { subject: 'dog face' });
    await b.registry.setShared(who(user), name, true);
  }
});

const STRINGS = [
  '',
  ' ',
  'cat',
  'dog face',
  'ink',
  'crayon',
  'openmoji',
  'opnmoji',
  'x'.repeat(33),
  'y'.repeat(201),
  '../etc',
  'bad name!',
  'café',
  '<script>',
  '@everyone',
  '<@&123>',
  '\u0000',
  'a\nb',
  '\u202eevil',
  '\ud800',
  '👨‍👩‍👧',
  '0',
  '-1',
  '1e400',
  '0x10',
  'NaN',
  'Infinity',
  '3.5',
  'true',
  'no',
  '  7  ',
  '__proto__',
  'constructor',
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  3.5,
  10,
  11,
  100,
  101,
  2 ** 31,
  2 ** 31 - 1,
  1e308,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.MAX_SAFE_INTEGER + 2,
  5e-324,
];

function randomText(r: Seeded, max = 40): string {
  const alphabet = 'abc xyz:="“”\'\\-_.!@#<>&%\u0000\u0007\n\t\u00e9\u202e\ud83d\ude00\u200d\ufeff';
  return Array.from({ length: r.int(0, max) }, () => alphabet[r.int(0, alphabet.length - 1)]).join('');
}

function randomAttachment(r: Seeded): Attachment {
  const kind = r.int(0, 6);
  const bytes =
    kind === 0
      ? goodPng
      : kind === 1
        ? goodJpeg
        : kind === 2
          ? r.bytes(r.int(0, 300))
          : kind === 3
            ? goodPng.subarray(0, r.int(0, goodPng.length))
            : new TextEncoder().encode(randomText(r, 80));
  const size = r.chance(0.1) ? r.pick([0, -1, Number.NaN, 50e6, 1e12]) : bytes.length;
  const contentType = r.pick([undefined, 'image/png', 'image/jpeg', 'text/html', 'application/octet-stream', '', 'image/svg+xml', randomText(r, 10)]);
  const fails = kind === 6;
  return {
    name: r.chance(0.2) ? randomText(r, 200) : 'file.png',
    size,
    contentType,
    download: async () => (fails ? Promise.reject(new Error(r.pick(['the download timed out', 'the file host answered 500']))) : bytes),
  };
}

function randomValue(r: Seeded): OptionValue | undefined {
  switch (r.int(0, 5)) {
    case 0:
      return r.pick(STRINGS);
    case 1:
      return r.pick(NUMBERS);
    case 2:
      return r.chance(0.5);
    case 3:
      return randomText(r);
    case 4:
      return randomAttachment(r);
    default:
      return undefined;
  }
}

/** Random options for a command: mostly its own option names (sometimes the right type), sometimes unknown ones. */
function randomOptions(r: Seeded, sub: string): Record<string, OptionValue | undefined> {
  const spec = COMMANDS.find((c) => c.name === sub)?.options ?? [];
  const out: Record<string, OptionValue | undefined> = {};
  for (const o of spec) {
    if (r.chance(0.3)) continue;
    if (r.chance(0.5)) out[o.name] = randomValue(r);
    else if (o.type === 'attachment') out[o.name] = randomAttachment(r);
    else if (o.type === 'string') out[o.name] = r.pick(STRINGS);
    else if (o.type === 'boolean') out[o.name] = r.pick([true, false, 'yes', 'maybe']);
    else out[o.name] = r.chance(0.5) ? r.pick(NUMBERS) : String(r.pick(NUMBERS));
  }
  if (r.chance(0.1)) out[r.pick(['colour', 'Prompt', 'constructor', randomText(r, 10)])] = randomValue(r);
  return out;
}

/** The invariant: an outcome, or a user error (as the commands judge it) with a clear message. */
class Tally extends FuzzTally {
  constructor() {
    super(report, (e) => isUserError(e) && !/something went wrong/.test(errorText(e)));
  }
}

const SUBCOMMANDS = COMMANDS.map((c) => c.name);
const show = (o: unknown) =>
  JSON.stringify(o, (_k, v) =>
    typeof v === 'object' && v && 'download' in v
      ? `<attachment ${(v as Attachment).name.slice(0, 20)}>`
      : typeof v === 'number' && !Number.isFinite(v)
        ? String(v)
        : v,
  );

describe('command argument fuzzing', () => {
  it('runCommand: random option sets over every subcommand', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(101);
    const r = seeded(seed);
    const n = fuzzCount(400);
    const t = new Tally();
    for (let i = 0; i < n; i++) {
      const sub = r.chance(0.95) ? r.pick(SUBCOMMANDS) : randomText(r, 12);
      const opts = randomOptions(r, sub);
      const user = `f${r.int(0, 30)}`;
      await t.run(
        () => `${sub} ${show(opts)}`,
        () => runCommand(b.ctx(user, r.chance(0.2)), sub, opts),
      );
    }
    expect(t.outcomes).toBeGreaterThan(10);
    t.record(`${n} random option sets through runCommand, all subcommands (seed ${seed})`);
  });

  it('runButton and autocomplete: random and mutated button ids and prefixes', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(102);
    const r = seeded(seed);
    const n = fuzzCount(200);
    const t = new Tally();
    // A style of its own: the option sets above may have deleted or unshared the shared ones (as an admin
    // may) or changed the workspace's rules, so a refused draw leaves the ids to a job that never was.
    await b.registry.put(who('btn'), 'btn-ink', new Uint8Array([1, 2, 3]), { subject: 'dog face' });
    const out = await runCommand(b.ctx('btn'), 'draw', { prompt: 'cat', style: 'btn-ink' }).catch((e: unknown) => {
      if (!isUserError(e)) throw e;
      return null;
    });
    const real = out?.type === 'job' ? out.job.id : '00000000-0000-0000-0000-000000000000';
    await b.queue.finished(real).catch(() => undefined);
    for (let i = 0; i < n; i++) {
      let id = `ps:${r.pick(['reroll', 'weaker', 'stronger', 'cancel', 'frob'])}:${real}`;
      for (let k = r.int(0, 3); k > 0; k--) {
        const at = r.int(0, id.length);
        id = r.chance(0.5) ? id.slice(0, at) + randomText(r, 3) + id.slice(at + 1) : id.slice(0, at) + id.slice(at + 1);
      }
      const user = r.pick(['btn', 'other']);
      await t.run(
        () => `button ${JSON.stringify(id)} by ${user}`,
        () => runButton(b.ctx(user), id),
      );
      await t.run(
        () => `autocomplete ${JSON.stringify(id)}`,
        () => autocompleteStyles(b.ctx(user), randomText(r, 50)),
      );
    }
    t.record(`${n} random / mutated button ids through runButton, ${n} random autocomplete prefixes (seed ${seed})`);
  });

  it('Slack text: random and mutated command lines through parseCommandText, then runCommand', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(103);
    const r = seeded(seed);
    const n = fuzzCount(300);
    const t = new Tally();
    const lines = [
      'draw dog face strength:4 seed=7',
      'train name:ink subject:"cat face" content:F0123ABC style:F0456DEF',
      'blend ink crayon ratio:0.5',
      'draw “quoted prompt” style:openmoji steps:12',
      'delete ink',
      'share crayon',
      'list',
      'status',
      'help',
      'export openmoji',
    ];
    for (let i = 0; i < n; i++) {
      let text: string;
      if (r.chance(0.3)) text = randomText(r, 120);
      else {
        text = r.pick(lines);
        for (let k = r.int(1, 6); k > 0; k--) {
          const at = r.int(0, text.length);
          const op = r.int(0, 2);
          text =
            op === 0
              ? text.slice(0, at) + randomText(r, 4) + text.slice(at)
              : op === 1
                ? text.slice(0, at) + text.slice(at + r.int(1, 4))
                : text.slice(0, at) + r.pick([':', '=', '"', '“', ' ', 'x:']) + text.slice(at);
        }
      }
      if (r.chance(0.02)) text = `draw ${'a:'.repeat(r.int(1000, 3000))}`;
      const user = `s${r.int(0, 20)}`;
      await t.run(
        () => `slack ${JSON.stringify(text)}`,
        async () => {
          const p = parseCommandText(text);
          return runCommand(b.ctx(user), p.subcommand, p.options);
        },
      );
    }
    t.record(`${n} random / mutated Slack command lines through parseCommandText + runCommand (seed ${seed})`);
  });

  it('Discord: raw interactions with random option types and values through parseRawInteraction, then runCommand', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(104);
    const r = seeded(seed);
    const n = fuzzCount(200);
    const t = new Tally();
    const types = [3, 4, 10, 5, 11, 6, 7];
    for (let i = 0; i < n; i++) {
      const sub = r.chance(0.9) ? r.pick(SUBCOMMANDS) : randomText(r, 10);
      const spec = COMMANDS.find((c) => c.name === sub)?.options ?? [];
      const options = spec
        .filter(() => r.chance(0.7))
        .map((o) => ({
          name: o.name,
          type: r.chance(0.8) ? { string: 3, integer: 4, number: 10, boolean: 5, attachment: 11 }[o.type] : r.pick(types),
          value: o.type === 'attachment' ? r.pick(['a1', 'a2', 'missing']) : (randomValue(r) as string | number | boolean | undefined),
        }))
        .map((o) => (typeof o.value === 'object' ? { ...o, value: 'x' } : o));
      // Attachment URLs never on a Discord host here: downloads are refused before any network access.
      const resolved = {
        attachments: {
          a1: {
            filename: 'a.png',
            size: r.pick([100, 50e6]),
            url: r.pick([
              'https://example.invalid/a.png',
              'http://127.0.0.1:9/a.png',
              'file:///etc/passwd',
              'not a url',
              'https://cdn.discordapp.com.evil.invalid/a.png',
            ]),
            content_type: r.pick(['image/png', 'text/html', undefined]),
          },
          a2: { filename: randomText(r, 30), size: 10, url: 'javascript:alert(1)' },
        },
      };
      const interaction = {
        id: `i${i}`,
        application_id: 'app',
        token: 'tok',
        version: 1,
        type: r.pick([2, 2, 2, 4]),
        guild_id: r.chance(0.8) ? 'g1' : undefined,
        channel_id: 'c1',
        member: { user: { id: `d${r.int(0, 20)}`, username: 'x' }, permissions: r.pick(['0', '8', '32', '999999999999']) },
        data: {
          id: 'cmd',
          name: 'pairstyle',
          type: 1,
          options: [{ type: 1, name: sub, options: options.map((o, k) => (k === 0 && r.chance(0.3) ? { ...o, focused: true } : o)) }],
          resolved,
        },
      };
      await t.run(
        () => `discord ${show(interaction.data.options)}`,
        async () => {
          const p = parseRawInteraction(interaction as never);
          if (!p) return undefined;
          if (p.kind === 'autocomplete') return autocompleteStyles({ who: p.who, registry: b.registry }, p.value);
          if (p.kind === 'command') return runCommand({ ...b.ctx(p.who.user, p.isAdmin), who: p.who }, p.subcommand, p.options);
          return undefined;
        },
      );
    }
    t.record(`${n} raw Discord interactions with random option types / values / attachment URLs through parseRawInteraction + runCommand (seed ${seed})`);
  });
});
