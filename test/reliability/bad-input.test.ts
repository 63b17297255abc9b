/**
 * Bad input: every kind of bad input gets a clear answer meant for the user (a CommandError or
 * another user error), never a crash, and nothing is queued or stored for it. Each case is a row of
 * docs/reliability.md.
 */
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { CommandError, isUserError, runCommand, type Attachment, type Outcome } from '../../commands/index.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';
import { backend, animated, attached, jpeg, png, pngBomb, seeded, who } from './fixture.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
let b: Awaited<ReturnType<typeof backend>>;
let good: Attachment;
/** Jobs submitted per user (jobs run at once here, so the queue's own view would miss a wrongly queued one). */
const submitted = new Map<string, number>();

beforeAll(async () => {
  b = await backend({ executor: new FakeExecutor({ auto: true }) });
  b.queue.on((e) => {
    if (e.type === 'queued') submitted.set(e.job.owner.user, (submitted.get(e.job.owner.user) ?? 0) + 1);
  });
  good = attached('good.png', await png(32, 32));
  // Styles for the name cases: u's own, one shared by s, one private of p.
  await b.registry.put(who('u'), 'openmoji', new Uint8Array([1]), { subject: 'dog face' });
  await b.registry.put(who('u'), 'crayon', new Uint8Array([2]), {});
  await b.registry.put(who('s'), 'watercolor', new Uint8Array([3]), {});
  await b.registry.setShared(who('s'), 'watercolor', true);
  await b.registry.put(who('p'), 'secretive', new Uint8Array([4]), {});
  for (const owner of ['x1', 'x2']) {
    await b.registry.put(who(owner), 'ink', new Uint8Array([5]), {});
    await b.registry.setShared(who(owner), 'ink', true);
  }
});

/** A refused command that left no job and no stored style behind. */
async function refused(section: string, what: string, user: string, sub: string, options: Record<string, unknown>, expected: RegExp) {
  const ctx = b.ctx(user);
  const jobsBefore = submitted.get(user) ?? 0;
  const stylesBefore = JSON.stringify(await b.registry.list(ctx.who));
  const message = await report.refused(section, what, () => runCommand(ctx, sub, options as never), expected);
  expect(submitted.get(user) ?? 0, `${what}: a job was queued`).toBe(jobsBefore);
  expect(JSON.stringify(await b.registry.list(ctx.who)), `${what}: the registry changed`).toBe(stylesBefore);
  return message;
}

const train = (what: string, content: Attachment, expected: RegExp, extra: Record<string, unknown> = {}) =>
  refused('Bad input', what, 'u', 'train', { content, style: good, name: 'fresh', ...extra }, expected);

/** Runs an accepted job to its end and returns its final reply text. */
async function finish(out: Outcome): Promise<string> {
  if (out.type !== 'job') throw new Error('expected a job');
  const done = await b.queue.finished(out.job.id);
  return (await out.finalize(done)).text;
}

describe('uploads', () => {
  it('refuses non-images, corrupt files, SVG/HTML posing as images, and other formats by their bytes', async () => {
    const text = new TextEncoder();
    const pngBytes = await png(48, 48);
    const jpg = await jpeg(64, 64);
    await train(
      'a text file named .png, declared image/png',
      attached('notes.png', text.encode('hello, this is not a picture')),
      /is not an image I can read \(send a PNG, JPEG, WebP, GIF or AVIF file\)/,
    );
    await train('1 KB of random bytes declared image/png', attached('noise.png', seeded(7).bytes(1024)), /is not an image I can read/);
    await train('an empty file', attached('empty.png', new Uint8Array(0)), /is empty/);
    await train(
      'a PNG cut short (last 20 bytes missing)',
      attached('cut.png', pngBytes.subarray(0, pngBytes.length - 20)),
      /is a damaged or incomplete PNG file/,
    );
    await train('a JPEG cut in half', attached('half.jpg', jpg.subarray(0, jpg.length >> 1), 'image/jpeg'), /damaged/);
    await train(
      'a PNG signature followed by garbage',
      attached('sig.png', new Uint8Array([...pngBytes.subarray(0, 8), ...seeded(8).bytes(200)])),
      /looks like a PNG file but is damaged/,
    );
    await train(
      'an SVG declared image/png',
      attached('logo.png', text.encode('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>')),
      /is an SVG drawing, which is not accepted/,
    );
    await train(
      'an SVG with an XML prolog declared image/svg+xml',
      attached(
        'logo.svg',
        text.encode('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>'),
        'image/svg+xml',
      ),
      /is an SVG drawing/,
    );
    await train(
      'a gzip-compressed SVG (svgz) declared image/png',
      attached('logo.svgz', new Uint8Array(gzipSync('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>'))),
      /compressed \(gzip\) file/,
    );
    await train(
      'an HTML page declared image/png',
      attached('page.png', text.encode('<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>')),
      /is a web page \(HTML\), not a picture/,
    );
    await train(
      'an HTML page declared text/html (refused before downloading)',
      attached('page.html', text.encode('<html></html>'), 'text/html'),
      /is text\/html, not an image/,
    );
    await train(
      'a TIFF file',
      attached('scan.tif', new Uint8Array(await sharp(Buffer.from(pngBytes)).tiff().toBuffer()), 'image/tiff'),
      /is a TIFF file, which is not accepted/,
    );
    await train(
      'a HEIC photo (ftyp heic header)',
      attached('photo.heic', new Uint8Array([0, 0, 0, 24, ...text.encode('ftypheic'), 0, 0, 0, 0, ...text.encode('mif1heic')]), 'image/heic'),
      /HEIC photo, which is not supported: export it as JPEG or PNG/,
    );
  });

  it('accepts every supported format, declared with any image type or none (control cases)', async () => {
    const base = sharp({ create: { width: 40, height: 32, channels: 4, background: { r: 200, g: 50, b: 50, alpha: 0.5 } } });
    for (const [format, type] of [
      ['png', 'image/png'],
      ['jpeg', 'image/jpeg'],
      ['webp', 'image/webp'],
      ['gif', 'image/gif'],
      ['avif', 'image/avif'],
      ['png', undefined],
      ['jpeg', 'application/octet-stream'],
    ] as const) {
      const bytes = new Uint8Array(await base.clone().toFormat(format).toBuffer());
      const out = await runCommand(b.ctx(`ok-${format}-${type}`), 'train', { content: attached(`a.${format}`, bytes, type), style: good, name: 'ok' });
      report.row({
        section: 'Bad input',
        case: `a valid 40x32 ${format.toUpperCase()} declared ${type ?? 'with no type'} (control case)`,
        expected: 'accepted',
        result: out.type === 'job' ? 'queued as a training' : out.reply.text,
        pass: out.type === 'job',
      });
      expect(out.type).toBe('job');
    }
  });

  it('refuses decompression bombs, oversized files and tiny pictures, stating the limits', async () => {
    await train(
      'a tiny PNG whose header claims 100000x100000 pixels (decompression bomb)',
      attached('bomb.png', await pngBomb()),
      /is 100000x100000 pixels \(10000 megapixels\); the limit is 40 megapixels/,
    );
    await train(
      'a PNG whose header claims 8000x6000 pixels (48 MP, just over the limit)',
      attached('big.png', await pngBomb(8000, 6000)),
      /the limit is 40 megapixels/,
    );
    let downloaded = false;
    const announcedBig: Attachment = { name: 'huge.png', size: 50e6, contentType: 'image/png', download: async () => ((downloaded = true), new Uint8Array(0)) };
    await train('a file announced as 50 MB (refused before downloading)', announcedBig, /is 50\.0 MB; the limit is 8\.39 MB/);
    expect(downloaded).toBe(false);
    const lying: Attachment = { name: 'liar.png', size: 1000, contentType: 'image/png', download: async () => new Uint8Array(9 * 1024 * 1024) };
    await train('a file announced as 1 KB that turns out to be 9 MB', lying, /is 9\.4 MB; the limit is 8\.39 MB/);
    const failing: Attachment = {
      name: 'gone.png',
      size: 1000,
      contentType: 'image/png',
      download: async () => Promise.reject(new Error('the file host answered 404')),
    };
    await train('a file whose download fails (404)', failing, /could not download the content image 'gone.png': the file host answered 404/);
    await train('a 4x4 picture', attached('t.png', await png(4, 4)), /is only 4x4 pixels; send at least 16x16/);
    await train('a 200x15 strip (smaller side under the minimum)', attached('strip.png', await png(200, 15)), /is only 200x15 pixels; send at least 16x16/);
  });

  it('uses the first frame of an animated picture and says so; notes a pair shaped very differently', async () => {
    for (const format of ['gif', 'webp'] as const) {
      const ctx = b.ctx(`anim-${format}`);
      const out = await runCommand(ctx, 'train', {
        content: attached(`moving.${format}`, await animated(format, 3), `image/${format}`),
        style: good,
        name: 'moving',
      });
      expect(out.type === 'job' && out.job.kind === 'train' && out.job.args.notices?.join('\n')).toMatch(
        /is animated \(3 frames\): I use its first frame only/,
      );
      const text = await finish(out);
      const pass = /learned style \*\*moving\*\*[\s\S]*the content image 'moving\.\w+' is animated \(3 frames\): I use its first frame only/.test(text);
      report.row({
        section: 'Bad input',
        case: `an animated ${format.toUpperCase()} (3 frames) as the content image`,
        expected: 'accepted; its first frame is used and the reply says so',
        result: text.split('\n').at(-1)!,
        pass,
      });
      expect(pass, text).toBe(true);
    }
    const ctx = b.ctx('wide');
    const out = await runCommand(ctx, 'train', { content: attached('wide.jpg', await jpeg(200, 40), 'image/jpeg'), style: good, name: 'wide' });
    const text = await finish(out);
    const pass = /content 200x40, style 32x32\): both are centre-cropped to a square the same way/.test(text);
    report.row({
      section: 'Bad input',
      case: 'a 200x40 content picture with a 32x32 style picture',
      expected: 'accepted; both centre-cropped alike, and the reply says so',
      result: text.split('\n').at(-1)!,
      pass,
    });
    expect(pass, text).toBe(true);
  });
});

describe('prompts and numbers', () => {
  const draw = (what: string, options: Record<string, unknown>, expected: RegExp) => refused('Bad input', what, 'u', 'draw', options, expected);

  it('refuses empty, overlong and control-character prompts', async () => {
    await draw('an empty prompt', { prompt: '' }, /'prompt' is required/);
    await draw('a prompt of spaces', { prompt: '     ' }, /'prompt' is required/);
    await draw('a 201-character prompt', { prompt: 'x'.repeat(201) }, /'prompt' is 201 characters long; keep it under 200/);
    await draw('a 100,000-character prompt', { prompt: 'cat '.repeat(25_000) }, /keep it under 200/);
    await draw('a prompt with a line break', { prompt: 'cat\nface' }, /contains control characters/);
    await draw('a prompt with a NUL byte', { prompt: 'cat\u0000face' }, /contains control characters/);
    await draw('a prompt with an ANSI escape sequence', { prompt: 'cat \u001b[31mred' }, /contains control characters/);
    await draw('a prompt with a C1 control (U+0085)', { prompt: 'cat\u0085face' }, /contains control characters/);
    await draw('a prompt with a right-to-left override (U+202E)', { prompt: 'cat \u202eecaf' }, /invisible text-direction characters/);
    await draw('a prompt with a lone surrogate (broken UTF-16)', { prompt: 'cat \ud800 face' }, /contains broken characters/);
  });

  it('accepts emoji sequences with zero-width joiners', async () => {
    const out = await runCommand(b.ctx('emoji'), 'draw', { prompt: 'family 👨‍👩‍👧 at the beach' });
    report.row({
      section: 'Bad input',
      case: 'a prompt with an emoji ZWJ sequence (👨‍👩‍👧)',
      expected: 'accepted',
      result: out.type === 'job' ? 'queued as a draw' : out.reply.text,
      pass: out.type === 'job',
    });
    expect(out.type).toBe('job');
  });

  it('refuses strength, seed, steps and ratio out of range or not numbers', async () => {
    await draw('strength 11', { prompt: 'cat', strength: 11 }, /'strength' must be a number from 0 to 10, got '11'/);
    await draw('strength -1', { prompt: 'cat', strength: '-1' }, /'strength' must be a number from 0 to 10/);
    await draw("strength 'abc'", { prompt: 'cat', strength: 'abc' }, /'strength' must be a number from 0 to 10, got 'abc'/);
    await draw("strength 'NaN'", { prompt: 'cat', strength: 'NaN' }, /'strength' must be a number/);
    await draw("strength 'Infinity'", { prompt: 'cat', strength: 'Infinity' }, /'strength' must be a number/);
    await draw("strength '0x5' (hex)", { prompt: 'cat', strength: '0x5' }, /'strength' must be a number/);
    await draw('strength NaN (a typed number)', { prompt: 'cat', strength: Number.NaN }, /'strength' must be a number/);
    await draw('strength true (a boolean)', { prompt: 'cat', strength: true }, /'strength' must be a number/);
    await draw('seed -1', { prompt: 'cat', seed: -1 }, /'seed' must be a whole number from 0 to 2147483647/);
    await draw('seed 2^31', { prompt: 'cat', seed: 2 ** 31 }, /'seed' must be a whole number from 0 to 2147483647/);
    await draw('seed 1.5', { prompt: 'cat', seed: '1.5' }, /'seed' must be a whole number/);
    await draw("seed '7abc'", { prompt: 'cat', seed: '7abc' }, /'seed' must be a whole number/);
    await draw("seed '1e400' (overflows to Infinity)", { prompt: 'cat', seed: '1e400' }, /'seed' must be a whole number/);
    await draw('steps 0', { prompt: 'cat', steps: 0 }, /'steps' must be a whole number from 1 to 100/);
    await draw('steps 101', { prompt: 'cat', steps: 101 }, /'steps' must be a whole number from 1 to 100/);
    await refused(
      'Bad input',
      'train steps 5',
      'u',
      'train',
      { content: good, style: good, name: 'fresh', steps: 5 },
      /'steps' must be a whole number from 10 to 2000/,
    );
    await refused(
      'Bad input',
      'train steps 5000',
      'u',
      'train',
      { content: good, style: good, name: 'fresh', steps: '5000' },
      /'steps' must be a whole number from 10 to 2000/,
    );
    await refused('Bad input', 'blend ratio 1.5', 'u', 'blend', { style_a: 'openmoji', style_b: 'crayon', ratio: 1.5 }, /'ratio' must be a number from 0 to 1/);
    await refused(
      'Bad input',
      "overwrite 'maybe'",
      'u',
      'train',
      { content: good, style: good, name: 'fresh', overwrite: 'maybe' },
      /'overwrite' must be true or false/,
    );
    await refused(
      'Bad input',
      'an unknown option',
      'u',
      'draw',
      { prompt: 'cat', colour: 'red' },
      /unknown option 'colour' \(options: prompt, strength, style, seed, steps\)/,
    );
    await refused('Bad input', 'an unknown subcommand', 'u', 'frobnicate', {}, /unknown subcommand 'frobnicate' \(try: train, draw/);
  });
});

describe('style names', () => {
  it('suggests close names for an unknown style, from the names the user may use only', async () => {
    await refused(
      'Bad input',
      "draw with 'opnmoji' (a typo of the user's 'openmoji')",
      'u',
      'draw',
      { prompt: 'cat', style: 'opnmoji' },
      /no style named 'opnmoji' that you can use \(see \/pairstyle list\)\. Did you mean 'openmoji'\?/,
    );
    await refused(
      'Bad input',
      "draw with 'watercolour' (close to 'watercolor', shared by another user)",
      'u',
      'draw',
      { prompt: 'cat', style: 'watercolour' },
      /Did you mean 'watercolor'\?/,
    );
    await refused(
      'Bad input',
      "blend with 'crayn' as the second style",
      'u',
      'blend',
      { style_a: 'openmoji', style_b: 'crayn' },
      /no style named 'crayn'.*Did you mean 'crayon'\?/,
    );
    await refused('Bad input', "export 'openmojii'", 'u', 'export', { name: 'openmojii' }, /Did you mean 'openmoji'\?/);
    await refused('Bad input', "delete 'crayom'", 'u', 'delete', { name: 'crayom' }, /you have no style named 'crayom'\. Did you mean 'crayon'\?/);
    const m = await refused(
      'Bad input',
      "draw with 'secretiv' (close only to another user's PRIVATE style)",
      'u',
      'draw',
      { prompt: 'cat', style: 'secretiv' },
      /no style named 'secretiv' that you can use/,
    );
    expect(m).not.toMatch(/secretive/);
    await refused(
      'Bad input',
      "draw with 'zzzzzz' (nothing close)",
      'u',
      'draw',
      { prompt: 'cat', style: 'zzzzzz' },
      /^no style named 'zzzzzz' that you can use \(see \/pairstyle list\)$/,
    );
  });

  it('refuses bad weighted style lists (openmoji::2 crayon::1) with what to write, queuing nothing', async () => {
    const cases: [string, string, Record<string, unknown>, RegExp][] = [
      ['a list with an unknown name', 'draw', { prompt: 'cat', style: 'openmoji::2 crayn::1' }, /no style named 'crayn'.*Did you mean 'crayon'\?/],
      ['a weight of 0', 'draw', { prompt: 'cat', style: 'openmoji::0 crayon' }, /the weight of 'openmoji' is 0: leave 'openmoji' out instead/],
      ['a negative weight', 'draw', { prompt: 'cat', style: 'openmoji::-1 crayon' }, /the weight of 'openmoji' is negative/],
      ['a weight that is not a number', 'stylize', { image: good, style: 'openmoji::heavy' }, /the weight of 'openmoji' must be a number, got 'heavy'/],
      ['five styles', 'draw', { prompt: 'cat', style: 'openmoji crayon watercolor a b' }, /5 styles is too many: at most 4/],
      ['a name twice', 'draw', { prompt: 'cat', style: 'openmoji::2 crayon OpenMoji' }, /'openmoji' is in the list twice/],
      ['an empty entry', 'draw', { prompt: 'cat', style: 'openmoji,,crayon' }, /entry 2 of the style list is empty/],
      ['a single colon before the weight', 'draw', { prompt: 'cat', style: 'openmoji:2' }, /put two colons between a style and its weight/],
      ['blend weights and a ratio', 'blend', { style_a: 'openmoji::2', style_b: 'crayon', ratio: 0.5 }, /give weights .* or a ratio, not both/],
      ['a list in one blend style', 'blend', { style_a: 'openmoji crayon', style_b: 'crayon' }, /'style_a' takes one style/],
    ];
    for (const [what, sub, options, expected] of cases) await refused('Bad input', `${sub} with ${what}`, 'u', sub, options, expected);
  });

  it('refuses an ambiguous shared name, names with odd characters or too long, and a duplicate name', async () => {
    await refused(
      'Bad input',
      "draw with 'ink', shared by two other users",
      'u',
      'draw',
      { prompt: 'cat', style: 'ink' },
      /2 people share a style named 'ink' \(x1, x2\); ask one of them to rename theirs/,
    );
    for (const [what, name] of [
      ['a name with a space and "!"', 'bad name!'],
      ['a path as a name', '../../etc/passwd'],
      ['a name with markup', '<script>'],
      ['a name with accents', 'café'],
      ['a name starting with "-"', '-rf'],
    ]) {
      await refused(
        'Bad input',
        `train with ${what} ('${name}')`,
        'u',
        'train',
        { content: good, style: good, name },
        /is not a valid style name: use 1-32 letters, digits, '-' or '_'/,
      );
    }
    await refused(
      'Bad input',
      'train with a 33-character name',
      'u',
      'train',
      { content: good, style: good, name: 'a'.repeat(33) },
      /'name' is 33 characters long; keep it under 32/,
    );
    await refused('Bad input', "draw with style '../x'", 'u', 'draw', { prompt: 'cat', style: '../x' }, /'..\/x' is not a valid style name/);
    await refused(
      'Bad input',
      "train with a name the user already has ('OpenMoji')",
      'u',
      'train',
      { content: good, style: good, name: 'OpenMoji' },
      /you already have a style named 'openmoji': choose another name, or add overwrite:true/,
    );
    const ctx = b.ctx('u');
    const out = await runCommand(ctx, 'train', { content: good, style: good, name: 'openmoji', overwrite: 'true' });
    const text = await finish(out);
    const pass = /learned style \*\*openmoji\*\*/.test(text) && (await b.registry.list(ctx.who)).own.filter((e) => e.name === 'openmoji').length === 1;
    report.row({
      section: 'Bad input',
      case: "train 'openmoji' again with overwrite:true",
      expected: 'accepted; the style is replaced (still one entry)',
      result: text.split('\n')[0].slice(0, 80),
      pass,
    });
    expect(pass).toBe(true);
  });

  it('answers every refusal above as a user error (no generic "something went wrong")', () => {
    expect(report.rows.length).toBeGreaterThan(50);
    expect(report.rows.every((r) => r.pass)).toBe(true);
    expect(isUserError(new CommandError('x'))).toBe(true);
  });
});
