/**
 * The pairstyle command line under bad paths, full disks, forged
 * style files and bad arguments. Every case runs the real command in a child process
 * (test/helpers/cli-process.ts) on a tiny model; a refusal must be exit status 2 with one line on
 * stderr ("pairstyle: ..."), no stack trace, no escape sequence, nothing half-written left behind.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeStyle, encodeStyle } from '../../src/pair/style-file.ts';
import type { Style } from '../../src/pair/style.ts';
import { decodeSafetensors } from '../../src/formats/safetensors.ts';
import { runPairstyle, shareWithNobody, type CliRun, type CliRunOptions } from '../helpers/cli-process.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
const SECTION = 'Command line';
/** Each test runs a few command processes; on a loaded machine one can take several seconds. */
const CLI_TEST_MS = 600_000;
const work = mkdtempSync(join(tmpdir(), 'pairstyle-cli-rel-'));
const home = join(work, 'home');
const styles = join(home, 'styles');
let model: string;
let env: NodeJS.ProcessEnv;
let trained: Style;

/** Runs in the test's folder, so that a default output (styled.png) never lands in the repository. */
const cli = (args: readonly string[], opts: CliRunOptions = {}) => runPairstyle(args, { cwd: work, ...opts, env: { ...env, ...opts.env } });
const file = (name: string) => join(work, name);
/** stderr without the progress bar's lines (train draws one there while it works). */
const oneLine = (r: CliRun) =>
  r.stderr
    .split('\n')
    .filter((l) => !/^training \[/.test(l))
    .join('\n')
    .trim();
// biome-ignore lint/suspicious/noControlCharactersInRegex: showing escape characters is what this does
const visible = (s: string) => s.replace(/\u001b/g, '\\e');

/**
 * A command that must be refused: exit 2, one line "pairstyle: ..." on stderr matching `expected`,
 * no stack trace, no escape character. Records the case; returns the run for more checks.
 */
async function refused(
  what: string,
  args: readonly string[],
  expected: RegExp,
  opts: CliRunOptions & { check?: (r: CliRun) => string | undefined } = {},
): Promise<CliRun> {
  const r = await cli(args, opts);
  const line = oneLine(r);
  const problems = [
    r.code !== 2 && `exit ${r.code}`,
    line.split('\n').length !== 1 && `${line.split('\n').length} lines`,
    !line.startsWith('pairstyle: ') && 'not a pairstyle: line',
    !expected.test(line) && `no match for ${expected}`,
    /\n\s+at |TypeError|ReferenceError/.test(r.stderr) && 'a stack trace',
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding raw escape characters is what this does
    /[\u001b\u009b]/.test(r.stderr + r.stdout) && 'a raw escape sequence',
    opts.check?.(r),
  ].filter(Boolean);
  report.row({
    section: SECTION,
    case: what,
    expected: `exit 2, one line: ${expected.source.replace(/\\/g, '')}`,
    result: `exit ${r.code}: ${visible(line).slice(0, 240)}${problems.length ? ` (${problems.join(', ')})` : ''}`,
    pass: problems.length === 0,
  });
  expect(problems, `${what}: ${visible(r.stderr).slice(0, 2000)}`).toEqual([]);
  return r;
}

/** The files in a folder, temp files included. */
const filesIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
const noTraining = (r: CliRun) => (/training \[/.test(r.stderr) ? 'training ran before the check' : undefined);

/** A style file in our layout, written as given (the checksum recomputed: a forger can do that too). */
function forge(name: string, change: (s: Style) => Style): void {
  const s = change(structuredClone({ info: { ...trained.info, name }, modules: trained.modules }));
  writeFileSync(join(styles, `${name}.safetensors`), encodeStyle(s));
}

/** A safetensors file by hand (any dtype), for what our writer never writes. */
function rawSafetensors(tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [k, t] of Object.entries(tensors)) {
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

beforeAll(async () => {
  model = await writeTinyModelFolder();
  shareWithNobody(work, model, ...readdirSync(model).map((f) => join(model, f)));
  env = { PAIRSTYLE_MODEL: model, PAIRSTYLE_HOME: home };
  const disc = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="24" fill="#d22"/></svg>`;
  const square = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect x="12" y="12" width="40" height="40" fill="#22d"/></svg>`;
  await sharp(Buffer.from(disc)).png().toFile(file('content.png'));
  await sharp(Buffer.from(square)).png().toFile(file('style.png'));
  await sharp({ create: { width: 1, height: 1, channels: 3, background: '#888' } })
    .png()
    .toFile(file('dot.png'));
  const r = await cli(['train', '--content', file('content.png'), '--style', file('style.png'), '--name', 'ink', '--steps', '10']);
  expect(r.code, r.stderr).toBe(0);
  trained = decodeStyle(readFileSync(join(styles, 'ink.safetensors')));
  shareWithNobody(home, styles);
}, CLI_TEST_MS);

describe('paths are checked before any work (item 7)', { timeout: CLI_TEST_MS }, () => {
  it('PAIRSTYLE_HOME a file or read-only: train refused before training', async () => {
    writeFileSync(file('home-file'), 'not a folder');
    await refused(
      'train with PAIRSTYLE_HOME a file',
      ['train', '--content', file('content.png'), '--style', file('style.png'), '--name', 'x'],
      /PAIRSTYLE_HOME .*is a file, not a folder/,
      { env: { PAIRSTYLE_HOME: file('home-file') }, check: noTraining },
    );
    const ro = file('home-ro');
    mkdirSync(join(ro, 'styles'), { recursive: true });
    chmodSync(ro, 0o555);
    chmodSync(join(ro, 'styles'), 0o555);
    await refused(
      'train with PAIRSTYLE_HOME read-only (run as an ordinary user)',
      ['train', '--content', file('content.png'), '--style', file('style.png'), '--name', 'x'],
      /cannot write .*styles/,
      { env: { PAIRSTYLE_HOME: ro }, unprivileged: true, check: noTraining },
    );
    expect(filesIn(join(ro, 'styles'))).toEqual([]);
  });

  it('--out a folder, in a missing folder, an unwritable file, or the same file as --unstyled-out', async () => {
    mkdirSync(file('a-folder'), { recursive: true });
    await refused('draw --out a folder', ['draw', 'cat face', '--steps', '2', '--out', file('a-folder')], /--out .*is a folder/);
    await refused(
      'draw --out in a folder that does not exist',
      ['draw', 'cat face', '--steps', '2', '--out', join(work, 'no-such-dir', 'x.png')],
      /--out .*folder .*does not exist/,
    );
    writeFileSync(file('locked.png'), 'keep me');
    chmodSync(file('locked.png'), 0o444);
    chmodSync(work, 0o777);
    await refused(
      'draw --out an unwritable file (run as an ordinary user)',
      ['draw', 'cat face', '--steps', '2', '--out', file('locked.png')],
      /--out .*cannot be written/,
      { unprivileged: true },
    );
    chmodSync(work, 0o755);
    expect(readFileSync(file('locked.png'), 'utf8')).toBe('keep me');
    await refused(
      'draw --out x.png --unstyled-out x.png',
      ['draw', 'cat face', '--style', 'ink', '--steps', '2', '--out', file('same.png'), '--unstyled-out', join(work, '.', 'same.png')],
      /--out and --unstyled-out .*same file/,
    );
    expect(existsSync(file('same.png'))).toBe(false);
    await refused('blend --out a folder', ['blend', 'ink', 'ink', '--prompt', 'cat', '--steps', '2', '--out', file('a-folder')], /--out .*is a folder/);
    await refused('export --out a folder', ['export', 'ink', '--out', file('a-folder')], /--out .*is a folder/);
  });

  it('a full disk: one line, and nothing half-written (export keeps the old file, no temp files)', async () => {
    const disk = file('full');
    mkdirSync(disk);
    writeFileSync(join(disk, 'ink.safetensors'), 'the previous export');
    const full = { dir: disk, freeBytes: 4096 };
    await refused('export onto a full disk over an existing file', ['export', 'ink', '--out', join(disk, 'ink.safetensors')], /no space left on the disk/, {
      fullDisk: full,
    });
    expect(readFileSync(join(disk, 'ink.safetensors'), 'utf8')).toBe('the previous export');
    await refused(
      'draw onto a full disk',
      ['draw', 'cat face', '--style', 'ink', '--steps', '2', '--out', join(disk, 'cat.png')],
      /no space left on the disk/,
      { fullDisk: { dir: disk, freeBytes: 100 } },
    );
    const fullHome = join(disk, 'home');
    await refused(
      'train with PAIRSTYLE_HOME on a full disk',
      ['train', '--content', file('content.png'), '--style', file('style.png'), '--name', 'lost', '--steps', '10'],
      /no space left on the disk/,
      { env: { PAIRSTYLE_HOME: fullHome }, fullDisk: { dir: disk, freeBytes: 1000 } },
    );
    expect(filesIn(disk)).toEqual(['home', 'ink.safetensors']);
    expect(filesIn(join(fullHome, 'styles'))).toEqual([]);
  });

  it('outputs are written whole: a draw replaces an existing picture in one step', async () => {
    writeFileSync(file('cat.png'), 'old');
    const r = await cli(['draw', 'cat face', '--style', 'ink', '--steps', '2', '--out', file('cat.png')]);
    expect(r.code, r.stderr).toBe(0);
    expect((await sharp(file('cat.png')).metadata()).format).toBe('png');
    expect(filesIn(work).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('style files are checked before use (item 6)', { timeout: CLI_TEST_MS }, () => {
  const draw = (name: string) => ['draw', 'cat face', '--style', name, '--steps', '2', '--out', file(`${name}.png`)];
  const lastB = (s: Style) => s.modules.at(-1)!.B;

  it('NaN or infinite weights, missing modules, a wrong width, a huge rank, another model: refused by name', async () => {
    forge('nan', (s) => (lastB(s).fill(Number.NaN, 0, 1), s));
    await refused('a style file with one NaN weight', draw('nan'), /style 'nan'.*not finite/);
    forge('inf', (s) => ((s.modules[0].A[3] = Number.POSITIVE_INFINITY), s));
    await refused('a style file with an infinite weight', draw('inf'), /style 'inf'.*not finite/);
    forge('missing', (s) => ({ ...s, modules: s.modules.slice(1) }));
    await refused('a style file missing one module', draw('missing'), /style 'missing'.*has no weights for unet\./);
    forge('wide', (s) => {
      const m = s.modules[0];
      s.modules[0] = { ...m, inDim: m.inDim + 1, A: new Float32Array(s.info.rank * (m.inDim + 1)) };
      return s;
    });
    await refused('a style file with a wrong input width', draw('wide'), /style 'wide'.*is \d+ wide.*the model's .* is \d+/);
    forge('huge', (s) => {
      const rank = 512;
      return {
        info: { ...s.info, rank },
        modules: s.modules.map((m) => ({ ...m, A: new Float32Array(rank * m.inDim), B: new Float32Array(m.outDim * rank) })),
      };
    });
    await refused('a style file with rank 512 on 16/32-wide projections', draw('huge'), /style 'huge'.*rank 512/);
    forge('other', (s) => ({ ...s, info: { ...s.info, baseModelHash: 'sha256:0000' } }));
    await refused('a style file trained on another model', draw('other'), /style 'other' was trained on/);
  });

  it('an integer dtype, a damaged byte (checksum), metadata that is not a style: refused by name', async () => {
    const { tensors, metadata } = decodeSafetensors(readFileSync(join(styles, 'ink.safetensors')));
    const ints = Object.fromEntries(
      Object.entries(tensors).map(([k, t]) => [k, { dtype: 'I32', shape: t.shape, bytes: new Uint8Array(Int32Array.from(t.data, Math.round).buffer) }]),
    );
    writeFileSync(
      join(styles, 'ints.safetensors'),
      rawSafetensors(ints, { ...metadata, 'pairstyle.style': JSON.stringify({ ...trained.info, name: 'ints' }) }),
    );
    await refused('a style file with int32 weights', draw('ints'), /style 'ints'.*I32.*float/);
    const bytes = readFileSync(join(styles, 'ink.safetensors'));
    bytes[bytes.length - 3] ^= 0x40;
    writeFileSync(join(styles, 'flipped.safetensors'), bytes);
    await refused('a stored style file with one flipped data bit', draw('flipped'), /style 'flipped'.*damaged.*checksum/);
    writeFileSync(join(styles, 'junk.safetensors'), 'not a safetensors file at all');
    await refused('a style file that is not safetensors', draw('junk'), /style 'junk'.*(cannot be read|not a safetensors)/);
  });
});

describe('listing styles (item 8)', { timeout: CLI_TEST_MS }, () => {
  it('lists every readable style and marks the others; a file without "created" hides nothing', async () => {
    const dir = file('list-home');
    mkdirSync(join(dir, 'styles'), { recursive: true });
    const put = (name: string, info: Record<string, unknown>) =>
      writeFileSync(join(dir, 'styles', `${name}.safetensors`), encodeStyle({ info: info as never, modules: trained.modules }));
    put('alpha', { ...trained.info, name: 'alpha' });
    const { created: _, ...noCreated } = trained.info;
    put('beta', { ...noCreated, name: 'beta' });
    writeFileSync(join(dir, 'styles', 'gamma.safetensors'), 'garbage');
    put('zeta', { ...trained.info, name: 'zeta' });
    const r = await cli(['styles'], { env: { PAIRSTYLE_HOME: dir } });
    const lines = r.stdout.trim().split('\n');
    const json = await cli(['styles', '--json'], { env: { PAIRSTYLE_HOME: dir } });
    const listed = JSON.parse(json.stdout) as { name: string; problem?: string }[];
    const pass =
      r.code === 0 &&
      lines.length === 4 &&
      /^alpha/.test(lines[0]) &&
      /^beta .*created unknown/.test(lines[1]) &&
      /^gamma .*cannot be read/.test(lines[2]) &&
      /^zeta/.test(lines[3]) &&
      listed.map((s) => s.name).join() === 'alpha,beta,gamma,zeta' &&
      !!listed[2].problem &&
      !listed[1].problem;
    report.row({
      section: SECTION,
      case: "pairstyle styles with a style lacking 'created' and a garbage file among good ones",
      expected: 'every style listed in order; the unreadable one marked, not fatal',
      result: `exit ${r.code}: ${lines.map((l) => l.replace(/\s+/g, ' ')).join(' / ')}`,
      pass,
    });
    expect(pass, `${r.stdout}\n${r.stderr}\n${json.stdout}`).toBe(true);
  });

  it('removes temp files left by a killed write (dead process), keeps those of a live one', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const stale = `.lost.safetensors.${dead}.0a1b2c3d.tmp`;
    const live = `.busy.safetensors.${process.pid}.0a1b2c3d.tmp`;
    writeFileSync(join(styles, stale), 'half a style');
    writeFileSync(join(styles, live), 'being written');
    const r = await cli(['styles']);
    const left = filesIn(styles);
    const pass = r.code === 0 && !left.includes(stale) && left.includes(live);
    report.row({
      section: SECTION,
      case: 'a temp file .NAME.safetensors.PID.*.tmp of a process killed mid-write',
      expected: "removed by the next command on the registry; a live writer's temp file kept",
      result: `exit ${r.code}; stale ${left.includes(stale) ? 'kept' : 'removed'}, live ${left.includes(live) ? 'kept' : 'removed'}`,
      pass,
    });
    expect(pass).toBe(true);
  });
});

describe('arguments, prompts and pictures (item 10)', { timeout: CLI_TEST_MS }, () => {
  it('numbers parsed as the bot parses them', async () => {
    await refused('--strength "" (empty)', ['draw', 'cat', '--style', 'ink', '--strength', ''], /--strength must be a number from 0 to 10, got ''/);
    await refused('--seed 0x10 (hexadecimal)', ['draw', 'cat', '--seed', '0x10'], /--seed must be a whole number from 0 to 2147483647, got '0x10'/);
    await refused(
      '--strength -1 (negative, looks like an option)',
      ['draw', 'cat', '--style', 'ink', '--strength', '-1'],
      /--strength must be a number from 0 to 10, got '-1'/,
    );
    await refused('--steps Infinity', ['draw', 'cat', '--steps', 'Infinity'], /--steps must be a whole number from 1 to 200/);
  });

  it('prompts with C1 controls, bidi overrides, only zero-width characters or escape sequences', async () => {
    await refused('a prompt with a C1 control (U+0085)', ['draw', 'cat\u0085face'], /the prompt contains control characters/);
    await refused('a prompt with a right-to-left override (U+202E)', ['draw', '\u202ecat face'], /the prompt contains invisible text-direction characters/);
    await refused('a prompt of only a zero-width space', ['draw', '\u200b'], /give a prompt/);
    await refused('a prompt with an ANSI escape sequence', ['draw', '\u001b[31mred cat'], /the prompt contains control characters/);
    await refused('an escape sequence as the command name', ['\u001b[2Jwipe'], /unknown command '\?\[2Jwipe'/);
    await refused('an escape sequence in a style name', ['draw', 'cat', '--style', 'a\u001b]0;pwned\u0007'], /not a valid style name/);
  });

  it('a 1x1 picture and an identical before/after pair are refused before training', async () => {
    await refused(
      'train with a 1x1 content picture',
      ['train', '--content', file('dot.png'), '--style', file('style.png'), '--name', 'dot'],
      /--content .*only 1x1 pixels; use at least 16x16/,
      { check: noTraining },
    );
    await refused(
      'train with the same picture as content and style',
      ['train', '--content', file('content.png'), '--style', file('content.png'), '--name', 'same'],
      /the content and style pictures are the same/,
      { check: noTraining },
    );
  });

  it('PAIRSTYLE_MODEL a random .bin is not called a PyTorch pickle; a real pickle is', async () => {
    writeFileSync(file('random.bin'), Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 97 + 13) & 255)));
    const r = await refused('PAIRSTYLE_MODEL=random.bin (random bytes)', ['draw', 'cat'], /random\.bin is not a model file PairStyle reads/, {
      env: { PAIRSTYLE_MODEL: file('random.bin') },
    });
    expect(r.stderr).not.toMatch(/pickle/i);
    // torch.save's legacy format starts with a pickle protocol-2 stream: 0x80 0x02.
    writeFileSync(file('legacy.bin'), Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
    await refused('PAIRSTYLE_MODEL=legacy.bin (a pickle stream)', ['draw', 'cat'], /legacy\.bin is a PyTorch pickle checkpoint/, {
      env: { PAIRSTYLE_MODEL: file('legacy.bin') },
    });
  });
});
