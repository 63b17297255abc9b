/**
 * Fuzzing of the files and options a stranger hands PairStyle. Mutated and forged
 * safetensors style files go through the style loader (decodeStyle: the bot's worker and the CLI read
 * styles with it) and the model check (checkStyleFitsModel); random command lines go through the CLI
 * (runCli, as src/bot/cli-main.ts calls it). No input may crash: a style file is accepted with finite
 * weights that fit the model, or refused with a StyleFileError / SafetensorsError; a command line
 * ends in an answer or in an error the CLI prints as one line (exit 2). Seeded (fixture.ts fuzzSeed).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/bot/cli.ts';
import { isCliUserError } from '../../src/bot/cli-main.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';
import { decodeStyle, encodeStyle } from '../../src/pair/style-file.ts';
import { checkStyleFitsModel, loraProjectionsOf } from '../../src/pair/style-fit.ts';
import type { Style } from '../../src/pair/style.ts';
import { tinyModel } from '../helpers/tiny-model.ts';
import { fuzzCount, fuzzSeed, fuzzTimeout, seeded, type Seeded } from './fixture.ts';
import { FuzzTally } from './fuzz-tally.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
let model: TextToImageModel;
let style: Style;
let styleBytes: Uint8Array;

beforeAll(async () => {
  model = await tinyModel();
  const rank = 2;
  const r = seeded(7);
  style = {
    info: {
      name: 'fuzz',
      baseModel: model.id,
      baseModelHash: model.hash,
      rank,
      styleToken: '<s1>',
      contentToken: '<c1>',
      subject: 'cat face',
      contentPrompt: 'cat face <c1>',
      stylePrompt: 'cat face <c1> in <s1> style',
      steps: 10,
      seconds: 1,
      seed: 0,
      created: '2026-01-01T00:00:00.000Z',
    },
    modules: [...loraProjectionsOf(model)].map(([module, { inDim, outDim }]) => ({
      module,
      inDim,
      outDim,
      A: Float32Array.from({ length: rank * inDim }, () => r.next() - 0.5),
      B: Float32Array.from({ length: outDim * rank }, () => r.next() - 0.5),
    })),
  };
  styleBytes = encodeStyle(style);
});

const STYLE_ERRORS = new Set(['StyleFileError', 'SafetensorsError']);

/** Loads a style as the worker does, then checks it against the model; an accepted one must be usable. */
function loadStyle(bytes: Uint8Array): Style {
  const s = decodeStyle(bytes, "style 'fuzz'");
  checkStyleFitsModel(s, model);
  for (const m of s.modules) {
    for (const v of m.A) if (!Number.isFinite(v)) throw new Error(`accepted a non-finite weight in ${m.module}`);
    for (const v of m.B) if (!Number.isFinite(v)) throw new Error(`accepted a non-finite weight in ${m.module}`);
  }
  return s;
}

/** The header of a safetensors file as JSON, and a function putting a changed one back in front of the data. */
function splitHeader(bytes: Uint8Array): { header: Record<string, unknown>; rebuild: (h: unknown) => Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const data = bytes.subarray(8 + n);
  return {
    header,
    rebuild: (h) => {
      const json = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(data, 8 + json.length);
      return out;
    },
  };
}

const WEIRD_VALUES: unknown[] = [
  null,
  true,
  -1,
  0,
  1,
  2.5,
  2 ** 53,
  1e308,
  -1e308,
  '',
  'F32',
  'I32',
  'F64',
  'U8',
  'BOOL',
  'x'.repeat(600),
  [],
  [0],
  [1, 2],
  [-1, 4],
  [2 ** 40, 2 ** 40],
  [1e308],
  {},
  { a: 1 },
  '\u202e\u0000',
];

/** One structural change of the header: a tensor's dtype / shape / offsets, a metadata field, a key. */
function mutateHeader(r: Seeded, header: Record<string, unknown>): { header: unknown; how: string } {
  const h = structuredClone(header);
  const tensors = Object.keys(h).filter((k) => k !== '__metadata__');
  const meta = (h.__metadata__ ?? {}) as Record<string, unknown>;
  switch (r.int(0, 7)) {
    case 0: {
      const k = r.pick(tensors);
      const field = r.pick(['dtype', 'shape', 'data_offsets']);
      (h[k] as Record<string, unknown>)[field] = r.pick(WEIRD_VALUES);
      return { header: h, how: `${k}.${field} changed` };
    }
    case 1: {
      const k = r.pick(tensors);
      delete h[k];
      return { header: h, how: `${k} removed` };
    }
    case 2: {
      const info = JSON.parse(String(meta['pairstyle.style'])) as Record<string, unknown>;
      const field = r.pick(['rank', 'name', 'baseModel', 'baseModelHash', 'styleToken', 'created', 'steps', '__proto__']);
      if (r.chance(0.3)) delete info[field];
      else info[field] = r.pick(WEIRD_VALUES);
      meta['pairstyle.style'] = JSON.stringify(info);
      if (r.chance(0.5)) delete meta['pairstyle.sha256'];
      return { header: h, how: `style metadata ${field} changed` };
    }
    case 3:
      meta[r.pick(['pairstyle.style', 'pairstyle.sha256', 'format'])] = r.pick(WEIRD_VALUES) as string;
      return { header: h, how: 'a metadata value replaced' };
    case 4:
      return { header: r.pick(WEIRD_VALUES), how: 'the whole header replaced' };
    case 5: {
      const k = r.pick(tensors);
      h[k.replace('lora_A', 'lora_B').replace(/lora_B(?=[\s\S]*$)/, r.pick(['lora_A', 'lora_C', 'alpha']))] = h[k];
      return { header: h, how: `${k} duplicated under another name` };
    }
    case 6: {
      const k = r.pick(tensors);
      const t = h[k] as { shape: number[] };
      t.shape = [...t.shape].reverse();
      return { header: h, how: `${k} shape transposed` };
    }
    default:
      h.__metadata__ = r.pick(WEIRD_VALUES);
      return { header: h, how: 'the metadata replaced' };
  }
}

/** One change of the raw bytes: bit flips, a cut, a wrong length prefix, bytes inserted. */
function mutateBytes(r: Seeded, src: Uint8Array): { bytes: Uint8Array; how: string } {
  const b = Uint8Array.from(src);
  switch (r.int(0, 4)) {
    case 0: {
      const n = r.int(1, 6);
      for (let i = 0; i < n; i++) b[r.int(0, b.length - 1)] ^= 1 << r.int(0, 7);
      return { bytes: b, how: `${n} bit flips` };
    }
    case 1: {
      const at = r.int(0, b.length - 1);
      return { bytes: b.subarray(0, at), how: `cut at ${at}` };
    }
    case 2: {
      const v = r.pick([0n, 1n, 7n, 2n ** 63n, BigInt(b.length), BigInt(b.length - 8), BigInt(r.int(0, 5000))]);
      new DataView(b.buffer).setBigUint64(0, v, true);
      return { bytes: b, how: `length prefix ${v}` };
    }
    case 3: {
      const at = r.int(0, 200);
      b[at] = r.pick([0x7b, 0x7d, 0x22, 0x5c, 0x00, 0xff, 0x2c]);
      return { bytes: b, how: `header byte ${at} = ${b[at]}` };
    }
    default: {
      const at = r.int(0, b.length);
      return { bytes: new Uint8Array([...b.subarray(0, at), ...r.bytes(r.int(1, 16)), ...b.subarray(at)]), how: `bytes inserted at ${at}` };
    }
  }
}

describe('style file fuzzing', () => {
  it('mutated style files: header fields, metadata, raw bytes', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(301);
    const r = seeded(seed);
    const n = fuzzCount(300);
    const t = new FuzzTally(report, (e) => STYLE_ERRORS.has((e as Error)?.name));
    const { header, rebuild } = splitHeader(styleBytes);
    for (let i = 0; i < n; i++) {
      const m = r.chance(0.5) ? (({ header: h, how }) => ({ bytes: rebuild(h), how }))(mutateHeader(r, header)) : mutateBytes(r, styleBytes);
      await t.run(
        () => `${m.how}, i=${i}`,
        () => loadStyle(m.bytes),
      );
    }
    expect(t.refusals).toBeGreaterThan(n / 2);
    t.record(
      `${n} mutated style files (header fields, metadata, bit flips, cuts, length prefixes) through decodeStyle + checkStyleFitsModel (seed ${seed})`,
      'no crash; accepted files have finite weights that fit the model; every refusal a StyleFileError / SafetensorsError with a clear message',
    );
  });

  it('forged style files: valid checksums over wrong contents', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(302);
    const r = seeded(seed);
    const n = fuzzCount(120);
    const t = new FuzzTally(report, (e) => STYLE_ERRORS.has((e as Error)?.name));
    for (let i = 0; i < n; i++) {
      const s = structuredClone(style);
      const m = r.pick(s.modules);
      const how = r.pick(['nan', 'inf', 'drop', 'extra', 'wider', 'rank', 'model', 'empty'] as const);
      if (how === 'nan' || how === 'inf') m.B[r.int(0, m.B.length - 1)] = how === 'nan' ? Number.NaN : -Infinity;
      else if (how === 'drop') s.modules.splice(s.modules.indexOf(m), 1);
      else if (how === 'extra') s.modules.push({ ...m, module: `${m.module}.x` });
      else if (how === 'wider') Object.assign(m, { inDim: m.inDim + 1, A: new Float32Array(s.info.rank * (m.inDim + 1)) });
      else if (how === 'rank') s.info.rank = r.pick([0, -1, 3, 1000]);
      else if (how === 'model') s.info.baseModelHash = 'sha256:forged';
      else s.modules = [];
      let bytes: Uint8Array;
      try {
        bytes = encodeStyle(s);
      } catch {
        continue; // Our own writer refuses it (e.g. shapes that do not match their data): nothing to load.
      }
      await t.run(
        () => `${how} ${m.module}, i=${i}`,
        () => loadStyle(bytes),
      );
    }
    expect(t.outcomes).toBe(0);
    t.record(
      `${n} forged style files with valid checksums (NaN / infinite weights, a module dropped or added, a wider input, a bad rank, another model) (seed ${seed})`,
      'every one refused with a clear StyleFileError',
    );
  });
});

const OPTION_NAMES = [
  'content',
  'style',
  'name',
  'subject',
  'steps',
  'seed',
  'overwrite',
  'json',
  'device',
  'precision',
  'strength',
  'cfg',
  'sampler',
  'mode',
  'out',
  'unstyled-out',
  'scale',
  'prompt',
  'weights',
  'strip',
  'format',
  'frob',
];
const VALUES = [
  '',
  ' ',
  '0',
  '-1',
  '-0.5',
  '1e1',
  '1e400',
  '0x10',
  '0b1',
  'NaN',
  'Infinity',
  '3.5',
  '2147483648',
  '7 ',
  '.5',
  '5.',
  '+3',
  '1,2',
  '1,2,3',
  ',',
  'ink',
  'cat face',
  'cuda',
  'cpu',
  'fp16',
  'kohya',
  'ddim',
  'lora-scale',
  '\u001b[2J',
  '\u202eevil',
  '\u200b',
  'a\u0085b',
  '\ud800',
  '../../etc/passwd',
  '--json',
  '-',
  '--',
  'x'.repeat(300),
];

describe('command line fuzzing', () => {
  it('random command lines through runCli (no model: every one ends before drawing)', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(303);
    const r = seeded(seed);
    const n = fuzzCount(300);
    const work = mkdtempSync(join(tmpdir(), 'pairstyle-fuzz-cli-'));
    mkdirSync(join(work, 'home', 'styles'), { recursive: true });
    // Outputs only ever inside the test's folder (or nowhere): never a relative path in the repository.
    const outs = [join(work, 'out.png'), join(work, 'missing', 'x.png'), work, join(work, 'out.png'), '', '\u001b[2J.png'].map((p) =>
      p && !p.startsWith('/') ? join(work, p) : p,
    );
    const env = { PAIRSTYLE_MODEL: join(work, 'no-model'), PAIRSTYLE_HOME: join(work, 'home') };
    // A host without the CUDA provider answers --device cuda with how to install it: instructions, longer than a refusal.
    const t = new FuzzTally(report, isCliUserError, (e) => ((e as Error)?.name === 'DeviceUnavailableError' ? 1000 : 500));
    for (let i = 0; i < n; i++) {
      const command = r.chance(0.9) ? r.pick(['train', 'draw', 'blend', 'styles', 'delete', 'export', 'help']) : r.pick(VALUES);
      const argv = [command];
      for (let k = r.int(0, 6); k > 0; k--) {
        if (r.chance(0.3)) argv.push(r.pick(VALUES));
        else {
          const name = r.pick(OPTION_NAMES);
          argv.push(r.chance(0.1) ? `--${name}=${r.pick(VALUES)}` : `--${name}`);
          if (r.chance(0.8)) argv.push(name === 'out' || name === 'unstyled-out' ? r.pick(outs) : r.pick(VALUES));
        }
      }
      await t.run(
        () => JSON.stringify(argv),
        async () => {
          const code = await runCli(argv, { out: () => {}, err: () => {}, isTTY: false }, env);
          if (code !== 0) throw new Error(`exit ${code} without an error`);
        },
      );
    }
    t.record(
      `${n} random command lines (commands, options, negative / hex / empty numbers, escape sequences, paths) through runCli (seed ${seed})`,
      'no crash; every refusal an error the CLI prints as one line with exit 2',
    );
  });
});
