/** Pair Customization on a tiny random model through the real engine: training, style files, drawing. */
import { beforeAll, describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';
import {
  blendStrip,
  drawMixes,
  drawStyled,
  STYLE_CFG_ALTERNATING,
  STYLE_EVERY_OTHER_STEP,
  STYLE_START,
  styleFrom,
  styleGuidanceSchedule,
} from '../../src/pair/draw.ts';
import { orthogonalDownProjections } from '../../src/pair/orthogonal.ts';
import { EVERY_STEP, type GuidanceSchedule } from '../../src/pipeline/guidance.ts';
import { decodeSafetensors, encodeSafetensors } from '../../src/formats/safetensors.ts';
import { decodeStyle, encodeStyle } from '../../src/pair/style-file.ts';
import type { Style } from '../../src/pair/style.ts';
import { PAIR_DEFAULTS, styleTrainsOn, trainPair } from '../../src/pair/train.ts';
import { tinyModel } from '../helpers/tiny-model.ts';
import { gaussianBlur } from '../../src/diffusion/structure-guidance.ts';

let model: TextToImageModel;
let style: Style;
let losses: number[];
const image = (seed: number) => Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i * 0.37 + seed) * 0.9);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

beforeAll(async () => {
  model = await tinyModel();
  const r = await trainPair({ model, content: image(1), style: image(2), name: 'wavy', subject: 'cat face', steps: 24, lr: 1e-2 });
  style = r.style;
  losses = r.losses;
});

describe('trainPair', () => {
  it('trains StyleLoRA on every attention projection; its A is the frozen orthogonal style rows', () => {
    expect(losses).toHaveLength(24);
    expect(losses.every(Number.isFinite)).toBe(true);
    // to_q, to_k, to_v, to_out.0 of attn1 and attn2 in 4 transformer blocks: 1 down, 1 mid, 2 up.
    expect(style.modules.length).toBe(4 * 8);
    for (const m of style.modules) {
      expect(m.A).toEqual(orthogonalDownProjections(m.inDim, 8, 0).style);
      expect(m.B.length).toBe(m.outDim * 8);
    }
    expect(style.modules.some((m) => m.B.some((v) => v !== 0))).toBe(true);
    expect(style.info).toMatchObject({ name: 'wavy', baseModel: 'tiny-test', baseModelHash: model.hash, rank: 8, styleToken: '<s1>', subject: 'cat face' });
  });

  it('leaves StyleLoRA at zero while the style branch is still warming up', async () => {
    const r = await trainPair({ model, content: image(1), style: image(2), name: 'w', steps: 4, styleStartShare: 1 });
    expect(r.style.modules.every((m) => m.B.every((v) => v === 0))).toBe(true);
    // Each step's wall time (what bench:engine's headline times), summing to the mean's total.
    expect(r.stepMs).toHaveLength(4);
    expect(r.stepMs.every((ms) => ms > 0)).toBe(true);
    expect(r.meanStepMs).toBeCloseTo(r.stepMs.reduce((a, b) => a + b, 0) / 4, 6);
  });

  it('trains the style row on the lowest share of the noise schedule with styleTimesteps; the warm-up and the default keep all of it', async () => {
    const opts = { model, content: image(1), style: image(2), name: 'low', subject: 'cat face', steps: 9, lr: 1e-2, styleStartShare: 1 / 3 };
    const all = await trainPair({ ...opts, styleTimesteps: 1 });
    const low = await trainPair({ ...opts, styleTimesteps: 0.5 });
    const T = model.schedule.betas.length;
    expect(all.timesteps).toHaveLength(9);
    // Warm-up (steps 0-2): the same draws; joint phase: the same uniform draws scaled into [0, T/2).
    expect(low.timesteps.slice(0, 3)).toEqual(all.timesteps.slice(0, 3));
    expect(low.losses.slice(0, 3)).toEqual(all.losses.slice(0, 3));
    low.timesteps.slice(3).forEach((t, i) => {
      expect(t).toBeLessThan(T / 2);
      expect(Math.abs(t - all.timesteps[3 + i] / 2)).toBeLessThanOrEqual(1);
    });
    expect(all.timesteps.slice(3).some((t) => t >= T / 2)).toBe(true);
    expect(low.style.modules.some((m, k) => maxDiff(m.B, all.style.modules[k].B) > 0)).toBe(true);
    // The default draws from all of the schedule, as the paper's training.
    expect(PAIR_DEFAULTS.styleTimesteps).toBe(1);
    const byDefault = await trainPair(opts);
    expect(byDefault.timesteps).toEqual(all.timesteps);
    expect(byDefault.style.modules.map((m) => Array.from(m.B))).toEqual(all.style.modules.map((m) => Array.from(m.B)));
    for (const bad of [0, -0.5, 1.5, Number.NaN])
      await expect(trainPair({ ...opts, styleTimesteps: bad })).rejects.toThrow(/styleTimesteps must be in \(0, 1\]/);
  });

  it('learns one style from several pairs: a repeated pair changes nothing, a different one does', async () => {
    const one = await trainPair({ model, content: image(1), style: image(2), name: 'one', subject: 'cat face', steps: 6, lr: 1e-2 });
    const same = await trainPair({
      model,
      content: image(1),
      style: image(2),
      extraPairs: [{ content: image(1), style: image(2) }],
      name: 'same',
      subject: 'cat face',
      steps: 6,
      lr: 1e-2,
    });
    expect(same.losses).toEqual(one.losses);
    expect(same.style.modules.map((m) => Array.from(m.B))).toEqual(one.style.modules.map((m) => Array.from(m.B)));
    const two = await trainPair({
      model,
      content: image(1),
      style: image(2),
      extraPairs: [{ content: image(3), style: image(4), subject: 'dog face' }],
      name: 'two',
      subject: 'cat face',
      steps: 6,
      lr: 1e-2,
    });
    expect(two.losses[0]).toBe(one.losses[0]);
    expect(two.losses[1]).not.toBe(one.losses[1]);
    expect(two.style.info).toMatchObject({ pairs: 2, subjects: ['cat face', 'dog face'], subject: 'cat face' });
    expect(one.style.info.pairs).toBeUndefined();
  });

  it('adapts the resnet convolutions too with convs (LoCon): orthogonal conv A, files round-trip, draws mix with attention-only styles', async () => {
    const r = await trainPair({ model, content: image(1), style: image(2), name: 'locon', subject: 'cat face', steps: 8, lr: 1e-2, convs: true });
    const convMods = r.style.modules.filter((m) => m.kernel !== undefined);
    expect(convMods.length).toBeGreaterThan(0);
    expect(convMods.every((m) => /resnets\.\d+\.conv[12]$/.test(m.module) && m.kernel === 3)).toBe(true);
    expect(r.style.modules.length).toBe(4 * 8 + convMods.length);
    for (const m of convMods) expect(m.A).toEqual(orthogonalDownProjections(m.inDim, 8, 0).style);
    expect(convMods.some((m) => m.B.some((v) => v !== 0))).toBe(true);
    const back = decodeStyle(encodeStyle(r.style));
    const m0 = back.modules.find((m) => m.module === convMods[0].module)!;
    expect([m0.kernel, m0.inDim, m0.outDim]).toEqual([3, convMods[0].inDim, convMods[0].outDim]);
    expect(m0.B).toEqual(convMods[0].B);
    const pipe = new DiffusionPipeline(model);
    const d = await drawMixes(
      pipe,
      [
        [],
        [{ style: back, weight: 3 }],
        [
          { style: back, weight: 2 },
          { style, weight: 2 },
        ],
      ],
      { prompt: 'dog', seed: 1, steps: 3, cfg: 3 },
    );
    await pipe.release();
    expect(maxDiff(d.images[0], d.images[1])).toBeGreaterThan(1e-4);
    expect(maxDiff(d.images[1], d.images[2])).toBeGreaterThan(1e-4);
    expect(d.images.every((img) => img.every(Number.isFinite))).toBe(true);
  });

  it("trains StyleLoRA on the up blocks only with styleLayers 'up-blocks' (B zero elsewhere, every module kept); the no-orthogonality A too", async () => {
    for (const trainableA of [false, true]) {
      const r = await trainPair({
        model,
        content: image(1),
        style: image(2),
        name: 'up',
        subject: 'cat face',
        steps: 8,
        lr: 1e-2,
        convs: true,
        styleLayers: 'up-blocks',
        trainableA,
      });
      const up = r.style.modules.filter((m) => m.module.startsWith('unet.up_blocks.'));
      const rest = r.style.modules.filter((m) => !m.module.startsWith('unet.up_blocks.'));
      expect(up.length).toBeGreaterThan(0);
      expect(rest.length).toBeGreaterThan(0);
      expect(up.some((m) => m.kernel !== undefined) && rest.some((m) => m.kernel !== undefined)).toBe(true);
      expect(up.some((m) => m.B.some((v) => v !== 0))).toBe(true);
      for (const m of rest) {
        expect(m.B.every((v) => v === 0)).toBe(true);
        expect(m.A).toEqual(orthogonalDownProjections(m.inDim, 8, 0).style);
      }
      // Without orthogonality the up blocks' A trains; outside them it stays where it started.
      expect(up.some((m) => maxDiff(m.A, orthogonalDownProjections(m.inDim, 8, 0).style) > 0)).toBe(trainableA);
    }
  });

  it("styleLayers 'cross-kv' and 'self-attention': StyleLoRA on the cross-attention keys and values only, or on the self-attention only", () => {
    const block = 'unet.down_blocks.1.attentions.0.transformer_blocks.0';
    expect(styleTrainsOn('cross-kv', `${block}.attn2.to_k`)).toBe(true);
    expect(styleTrainsOn('cross-kv', `${block}.attn2.to_v`)).toBe(true);
    for (const other of [`${block}.attn2.to_q`, `${block}.attn2.to_out.0`, `${block}.attn1.to_k`, 'unet.up_blocks.0.resnets.0.conv1'])
      expect(styleTrainsOn('cross-kv', other)).toBe(false);
    for (const own of [`${block}.attn1.to_q`, `${block}.attn1.to_out.0`]) expect(styleTrainsOn('self-attention', own)).toBe(true);
    expect(styleTrainsOn('self-attention', `${block}.attn2.to_k`)).toBe(false);
    expect(styleTrainsOn('all', `${block}.attn1.to_k`)).toBe(true);
    expect(styleTrainsOn('up-blocks', `${block}.attn2.to_k`)).toBe(false);
  });

  it('style files round-trip exactly in the diffusers LoRA key layout', () => {
    const back = decodeStyle(encodeStyle(style));
    expect(back.info).toEqual(style.info);
    expect(back.modules.map((m) => m.module).sort()).toEqual(style.modules.map((m) => m.module).sort());
    const m0 = back.modules.find((m) => m.module === style.modules[0].module)!;
    expect(m0.B).toEqual(style.modules[0].B);
    expect(style.modules[0].module).toMatch(/^unet\.(down|up|mid)_block/);
  });
});

describe('style-guided drawing', () => {
  const opts = { prompt: 'dog face', seed: 5, steps: 4, cfg: 3 };
  const EVERY_BOTH: GuidanceSchedule = { style: EVERY_STEP, cfg: EVERY_STEP };
  it('strength 0 gives exactly the unstyled image; strength > 0 changes it; same seed, same images', async () => {
    const pipe = new DiffusionPipeline(model);
    const zero = await drawStyled(pipe, [{ style, weight: 0 }], opts);
    expect(maxDiff(zero.styled, zero.unstyled)).toBeLessThan(1e-5);
    const r = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, styleSchedule: EVERY_BOTH });
    expect(r.rowsPerStep).toBe(5);
    expect(r.rowsRun).toBe(4 * 5);
    // Every other step: the style row at steps 0 and 2 of 4, the CFG rows only at 1 and 3.
    const everyOther = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, styleSchedule: STYLE_EVERY_OTHER_STEP });
    expect(everyOther.rowsPerStep).toBe(5);
    expect(everyOther.rowsRun).toBe(5 + 4 + 5 + 4);
    // By default the two directions alternate from half of the steps on (STYLE_START); before, the styled
    // trajectory is the unstyled draw: steps 0 and 1 run e(neg), e(c) for each, step 2 adds the style row.
    const byDefault = await drawStyled(pipe, [{ style, weight: 4 }], opts);
    const explicit = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, styleSchedule: styleFrom(2) });
    expect(STYLE_START).toBe(0.5);
    expect(byDefault.rowsRun).toBe(4 + 4 + 5 + 4);
    expect([explicit.styled, explicit.unstyled]).toEqual([byDefault.styled, byDefault.unstyled]);
    const fromFirst = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, styleSchedule: STYLE_CFG_ALTERNATING });
    expect(maxDiff(fromFirst.styled, byDefault.styled)).toBeGreaterThan(1e-4);
    expect(maxDiff(byDefault.styled, byDefault.unstyled)).toBeGreaterThan(1e-3);
    // A style that would start after the last step never acts: the styled draw is the unstyled one.
    const never = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, styleSchedule: styleFrom(4) });
    expect(never.rowsRun).toBe(4 * 4);
    // (to float rounding: e(c) + (cfg - 1)(e(c) - e(neg)) against (1 - cfg) e(neg) + cfg e(c))
    expect(maxDiff(never.styled, never.unstyled)).toBeLessThan(1e-4);
    expect(styleGuidanceSchedule(30)).toEqual(styleFrom(15));
    // A one-step draw still gets its style (at its only step).
    expect(styleGuidanceSchedule(1)).toEqual(styleFrom(0));
    const oneStep = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, steps: 1 });
    expect(maxDiff(oneStep.styled, oneStep.unstyled)).toBeGreaterThan(1e-3);
    expect(() => styleGuidanceSchedule(30, 1)).toThrow(/style start must be in/);
    expect(maxDiff(everyOther.unstyled, r.unstyled)).toBeLessThan(1e-5);
    expect(maxDiff(everyOther.styled, r.styled)).toBeGreaterThan(1e-5);
    expect(maxDiff(r.styled, r.unstyled)).toBeGreaterThan(1e-3);
    expect(maxDiff(r.unstyled, zero.unstyled)).toBeLessThan(1e-5);
    const again = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, styleSchedule: EVERY_BOTH });
    expect(again.styled).toEqual(r.styled);
    const other = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, seed: 6 });
    expect(maxDiff(other.unstyled, r.unstyled)).toBeGreaterThan(1e-3);
    await pipe.release();
  });

  it('the two directions alternating: 2 rows a step for a styled image after the first; its unstyled counterpart stays the plain CFG draw', async () => {
    const pipe = new DiffusionPipeline(model);
    const alternating = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, styleSchedule: STYLE_CFG_ALTERNATING });
    // Step 0: e(neg), e(c), e_{+style}(c_s) and the unstyled e(neg), e(c); then (e(c), e_{+style}) at the
    // style steps 2, 4 ... and (e(neg), e(c)) at the CFG steps 1, 3 ..., beside the unstyled pair.
    expect(alternating.rowsPerStep).toBe(5);
    expect(alternating.rowsRun).toBe(5 + 4 + 4 + 4);
    const plain = await drawMixes(pipe, [[]], opts);
    expect(plain.rowsRun).toBe(2 * 4);
    expect(maxDiff(alternating.unstyled, plain.images[0])).toBeLessThan(1e-5);
    // Strength 0 is the unstyled image here too (its CFG direction fresh at every step, not reused).
    const zero = await drawStyled(pipe, [{ style, weight: 0 }], { ...opts, styleSchedule: STYLE_CFG_ALTERNATING });
    expect(maxDiff(zero.styled, zero.unstyled)).toBeLessThan(1e-5);
    const everyOther = await drawStyled(pipe, [{ style, weight: 4 }], { ...opts, styleSchedule: STYLE_EVERY_OTHER_STEP });
    expect(maxDiff(alternating.styled, everyOther.styled)).toBeGreaterThan(1e-5);
    expect(maxDiff(alternating.styled, alternating.unstyled)).toBeGreaterThan(1e-3);
    // A blend: 4 rows at the first step, then 2 at the CFG steps and 3 (e(c) and both styles) at the style steps.
    const blend = await drawMixes(
      pipe,
      [
        [
          { style, weight: 2 },
          { style: { ...style, info: { ...style.info, name: 'copy' } }, weight: 1 },
        ],
      ],
      { ...opts, styleSchedule: STYLE_CFG_ALTERNATING },
    );
    expect(blend.rowsRun).toBe(4 + 2 + 3 + 2);
    await pipe.release();
  });

  it('a blend strip starts at style A alone and ends at style B alone', async () => {
    const pipe = new DiffusionPipeline(model);
    const b = (await trainPair({ model, content: image(3), style: image(4), name: 'b', steps: 12, lr: 1e-2, seed: 1 })).style;
    const strip = await blendStrip(pipe, style, b, 3, 3, opts);
    expect(strip.images).toHaveLength(3);
    const onlyA = await drawMixes(pipe, [[{ style, weight: 3 }]], opts);
    const onlyB = await drawMixes(pipe, [[{ style: b, weight: 3 }]], opts);
    expect(maxDiff(strip.images[0], onlyA.images[0])).toBeLessThan(1e-4);
    expect(maxDiff(strip.images[2], onlyB.images[0])).toBeLessThan(1e-4);
    expect(maxDiff(strip.images[1], strip.images[0])).toBeGreaterThan(1e-4);
    await pipe.release();
  });

  it("structure guidance holds a styled draw's low frequencies to the unstyled draw's; without an unstyled mix it runs and is left out", async () => {
    const pipe = new DiffusionPipeline(model);
    const S = model.imageSize;
    const layout = { weight: 1, sigma: 1 / 4, until: 1, match: 'layout' as const };
    const free = await drawStyled(pipe, [{ style, weight: 6 }], opts);
    const held = await drawStyled(pipe, [{ style, weight: 6 }], { ...opts, structure: layout });
    const off = await drawStyled(pipe, [{ style, weight: 6 }], { ...opts, structure: { ...layout, weight: 0 } });
    const alone = await drawMixes(pipe, [[{ style, weight: 6 }]], { ...opts, structure: layout });
    expect(maxDiff(off.styled, free.styled)).toBeLessThan(1e-5);
    // The unstyled draw is the reference and is not itself moved.
    expect(maxDiff(held.unstyled, free.unstyled)).toBeLessThan(1e-5);
    expect(alone.images).toHaveLength(1);
    expect(maxDiff(alone.images[0], held.styled)).toBeLessThan(1e-4);
    const blurDistance = (x: Float32Array) => {
      const [bx, bu] = [gaussianBlur(x, [3, S, S], S / 4), gaussianBlur(free.unstyled, [3, S, S], S / 4)];
      return Math.sqrt(bx.reduce((sum, v, k) => sum + (v - bu[k]) ** 2, 0) / bx.length);
    };
    expect(maxDiff(held.styled, free.styled)).toBeGreaterThan(1e-3);
    expect(blurDistance(held.styled)).toBeLessThan(blurDistance(free.styled));
    await expect(drawStyled(pipe, [{ style, weight: 6 }], { ...opts, structure: { ...layout, sigma: 0 } })).rejects.toThrow(/sigma must be in/);
    await pipe.release();
  });

  it('LoRA-scale mode from a share of the steps: the plain CFG draw before, the scaled adapter after', async () => {
    const pipe = new DiffusionPipeline(model);
    const lora = { ...opts, mode: 'lora-scale' as const };
    const [usual, plain] = (await drawMixes(pipe, [[{ style, weight: 1.5 }], []], lora)).images;
    const late = await drawMixes(pipe, [[{ style, weight: 1.5 }]], { ...lora, loraScaleStart: 0.5 });
    // Steps 0-1: e(neg), e(c); steps 2-3: those and the gated rows.
    expect(late.rowsRun).toBe(2 + 2 + 4 + 4);
    expect(maxDiff(late.images[0], usual)).toBeGreaterThan(1e-4);
    expect(maxDiff(late.images[0], plain)).toBeGreaterThan(1e-4);
    // A start that rounds past the last step (round(0.9 x 4) = 4) acts at the last step, as style guidance's does.
    const last = await drawMixes(pipe, [[{ style, weight: 1.5 }]], { ...lora, loraScaleStart: 0.9 });
    expect(last.rowsRun).toBe(2 + 2 + 2 + 4);
    expect(maxDiff(last.images[0], plain)).toBeGreaterThan(1e-4);
    await expect(drawMixes(pipe, [[{ style, weight: 1.5 }]], { ...lora, loraScaleStart: 1 })).rejects.toThrow(/LoRA-scale start must be in/);
    await pipe.release();
  });

  it('refuses a style trained on another base model', async () => {
    const pipe = new DiffusionPipeline(model);
    const foreign: Style = { ...style, info: { ...style.info, baseModelHash: 'other' } };
    await expect(drawStyled(pipe, [{ style: foreign, weight: 1 }], opts)).rejects.toThrow(
      /was trained on another model \(\S+ other\), not on the loaded \S+ [0-9a-f]{12}: train it again on this model: its owner can run \/pairstyle retrain /,
    );
    // What a style file says is quoted back short: a forged model id or style name cannot fill the message.
    const long: Style = { ...style, info: { ...style.info, name: 'n'.repeat(300), baseModel: 'm'.repeat(300), baseModelHash: 'h'.repeat(300) } };
    const refusal = await drawStyled(pipe, [{ style: long, weight: 1 }], opts).catch((e: Error) => e.message);
    expect(refusal).toMatch(new RegExp(`^style '${'n'.repeat(40)}' was trained on another model \\(${'m'.repeat(40)} ${'h'.repeat(12)}\\)`));
    expect(String(refusal).length).toBeLessThan(300);
    await pipe.release();
  });

  it('refuses style metadata without a rank, or with one that is not a positive whole number, quoting it short', () => {
    const bytes = encodeStyle(style);
    const withInfo = (change: (info: Record<string, unknown>) => void) => {
      const { tensors, metadata } = decodeSafetensors(bytes);
      const info = JSON.parse(metadata['pairstyle.style']!) as Record<string, unknown>;
      change(info);
      return encodeSafetensors(tensors, { metadata: { 'pairstyle.style': JSON.stringify(info) } });
    };
    const noRank = withInfo((i) => {
      delete i.rank;
    });
    expect(() => decodeStyle(noRank, 'a.safetensors')).toThrow(/^a\.safetensors: the style metadata has no 'rank'$/);
    const longRank = withInfo((i) => {
      i.rank = 'x'.repeat(300);
    });
    expect(() => decodeStyle(longRank, 'b.safetensors')).toThrow(
      new RegExp(`^b\\.safetensors: the style metadata gives rank "${'x'.repeat(39)}, not a positive whole number$`),
    );
  });
});
