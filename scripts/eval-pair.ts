/**
 * Evaluation of Pair Customization against baselines: npm run eval:pair -- [options]
 *
 *   --model DIR          model folder (default models/emoji-mini)
 *   --targets LIST       the styles learned: held-out artist sets the embedded model never saw and an artist judge
 *                        knows (default openmoji, the development evaluation; v1's held-out sets fluent-hc,
 *                        streamline-emoji, fluent-3d; and evaluation-only sets that no pretraining source includes:
 *                        emojione, noto-v1, emojione-v1, each judged by its own artist judge, the six emoji sets and
 *                        it). A target whose artist judge fails the gate on real drawings it never saw (JUDGE_GATE:
 *                        today emojione and emojione-v1, recalled on under 70%) is refused: README, "Further
 *                        held-out styles". Each seed draws --pairs pairs
 *                        and --subjects subjects per target; the intervals
 *                        resample the pairs of all targets together
 *   --pairs N            training pairs per seed and target (Noto drawing of X, the target's drawing of X), default 8
 *   --subjects N         other subjects drawn per pair (the same for every pair of a seed, fixed seeds), default 24
 *   --seeds LIST         independent draws of pairs, subjects and sampling seeds (default 0,1)
 *   --pairs-per-style K  each adapter learns from K pairs (its own subject and the next K-1; default 1), to
 *                        measure whether more pairs make the style cleaner; the pair methods only (DreamBooth-LoRA
 *                        keeps its one style image); leakage counts the first pair's subject. A list (1,2,4)
 *                        compares them in one run: every pair method once per K (ids suffixed -k1, -k2, -k4),
 *                        the K = 2 and 4 adapters learning from the first pair and the next ones, all of them
 *                        drawing the same held-out subjects with the same seeds
 *   --strengths LIST     style-guidance weights, default 1,2,3,4.5
 *   --scales LIST        LoRA scales of the LoRA-scale methods, default 0.5,1,1.5,2
 *   --own-subject        also draw each pair's own subject (the one its adapter trained on) with every method at every
 *                        weight, and report its P(target) and its distance to the pair's style picture: how much
 *                        of the pair the adapter reproduces where it was trained (the fit), beside the other
 *                        subjects (the transfer). Kept out of every other figure
 *   --noise-sigmas LIST  the standard deviations of noise-control's pixel noise (pictures in [-1, 1]), default 0.1,0.2,0.3,0.5
 *   --train-steps N      training steps of every adapter (default: the pair defaults, PAIR_DEFAULTS.steps)
 *   --lr X               learning rate of every adapter (default: each trainer's own default)
 *   --rank N             rank of every adapter (default: the pair defaults, PAIR_DEFAULTS.rank)
 *   --ranks LIST         the ranks of the pair-guidance-rank methods, one each (default 16)
 *   --reference-steps N --reference-lr X   the training recipe of pair-guidance-reference (default 300, 1e-3)
 *   --convs / --no-convs every adapter (the method's and the baselines') also on the resnet convolutions (LoCon),
 *                        or on the attention projections only (default: the pair defaults)
 *   --methods LIST       any of pair-guidance,pair-lora-scale,dreambooth-lora,no-ortho-guidance,pair-guidance-every-2,
 *                        pair-guidance-every-step,pair-guidance-alternating,pair-guidance-reference,pair-guidance-augment,
 *                        pair-guidance-layout,pair-guidance-start,pair-guidance-end,pair-guidance-timesteps,pair-guidance-rank,pair-guidance-convs,
 *                        no-ortho-guidance-convs,pair-guidance-up-blocks,pair-guidance-up-blocks-convs,pair-guidance-cross-kv,pair-guidance-self-attn,
 *                        noise-control (default the first four)
 *   --style-start LIST   the shares of the steps before the style starts, one pair-guidance-start method each (default 0)
 *   --style-end LIST     the shares of the steps after which the style stops (plain CFG to the end), one
 *                        pair-guidance-end method each (default 0.9; the style starts at STYLE_START as the draws')
 *   --style-timesteps LIST  the shares of the noise schedule (from its clean end) that the style row trains on, one
 *                        pair-guidance-timesteps method each (default 0.5; 1: all of it, the pair defaults')
 *   --layout W,SIGMA,UNTIL   the structure guidance of pair-guidance-layout (default 1,0.125,1)
 *   --augment-shift N --augment-zooms LIST   the augmentation of pair-guidance-augment (default: PAIR_AUGMENTATION,
 *                        shifts up to 2 px and zooms 1,1.125)
 *   --steps N --cfg W    sampler steps and CFG (default 30 and 5)
 *   --out FILE --plot FILE --grid FILE   default data/eval/pair.json, pair-plot.png, pair-grid.png
 *   --threads N          onnxruntime threads (default: all cores)
 *   --classifiers DIR    where the cached classifiers and OpenMoji pictures live (default data/eval); --retrain them
 *   --identity-judge V   the identity judge's protocol, v3 (default) or v4 (also trained on the icon collections' drawings)
 *
 * Quick run (a few minutes): --pairs 1 --subjects 4 --strengths 2,4 --scales 0.5,1 --train-steps 100
 *
 * Judges (src/eval/classifiers.ts) never saw what they judge: pairs, drawn subjects and the targets'
 * reference drawings come from the evaluation half of the subjects, the artist judge trained on the
 * other half only. Every figure has a 95% interval, a percentile bootstrap over the pairs (the
 * independent units: each pair is its own training). The headline: P(target) at the strength where
 * identity agreement falls to 50% (linear interpolation along each method's curve; its largest style
 * while agreement stays >= 50%); P(target) is P(openmoji) when the target is OpenMoji. Every other method is also compared with the method (pair-guidance, with
 * the first --pairs-per-style value) by paired differences: both on the same bootstrap resample of the pairs.
 *
 * Methods, all on the same seeds:
 *   pair-guidance       the pair's StyleLoRA with style guidance (the method)
 *   pair-lora-scale     (b) the same StyleLoRA applied by LoRA scale
 *   dreambooth-lora     (a) a single-image LoRA on the style image alone, applied by LoRA scale
 *   no-ortho-guidance   (c) the pair method with trainable A (no orthogonality), style guidance
 *   pair-guidance-every-2  the method with its style direction evaluated every other step and reused
 *                       in between, classifier-free guidance at every step (STYLE_EVERY_OTHER_STEP)
 *   pair-guidance-every-step  the method with both directions at every step (the method as
 *                       published): what the draw's schedule costs the picture
 *   pair-guidance-alternating  the style direction and classifier-free guidance's direction alternating,
 *                       each reused at the other's steps, from the first step (STYLE_CFG_ALTERNATING: the draw's
 *                       schedule until 2026-12-04, before its style started at STYLE_START of the steps)
 *   pair-lora-scale-start, dreambooth-lora-start  (b) and (a) with the adapters off for the first STYLE_START of
 *                       the steps (the plain CFG draw there), as the method's style starts; the DreamBooth-LoRA
 *                       then trains on the share of the noise schedule the method's style row trains on
 *                       (PAIR_DEFAULTS.styleTimesteps)
 *   pair-guidance-start  the method with its style from a share of the steps on (--style-start LIST, e.g. 0.3,0.6;
 *                       one method per value, ids suffixed -V when there are several): the unstyled draw before
 *   pair-guidance-end   the method with its style off again for the last steps (--style-end LIST; a guidance
 *                       interval, the plain CFG draw's steps after it): whether the last, finest steps of style
 *                       add the style or only its grain
 *   pair-guidance-timesteps  the method with its style row trained on the lowest share of the noise schedule
 *                       only (--style-timesteps LIST; PairTrainOptions.styleTimesteps), drawn as the method
 *   pair-guidance-rank  the method with its adapters of another rank (--ranks LIST; ids suffixed -R when there
 *                       are several)
 *   noise-control       a control, not a method: the unstyled picture with Gaussian pixel noise (--noise-sigmas), no
 *                       style at all. What P(target) damage alone buys at a given identity agreement: a method whose
 *                       curve is not above it has shown damage the artist judge reads as the target, not a style
 *   pair-guidance-convs, no-ortho-guidance-convs  the method and (c) with their adapters also on the resnet
 *                       convolutions (LoCon; PairTrainOptions.convs), whatever --convs says for the others
 *   pair-guidance-up-blocks, pair-guidance-up-blocks-convs  the method with its style adapter trained on the
 *                       up blocks' modules only (PairTrainOptions.styleLayers 'up-blocks'; B-LoRA's finding that
 *                       style lives in the decoder); -convs with LoCon (the content adapter stays everywhere)
 *   pair-guidance-cross-kv  the method with its style adapter trained on the cross-attention keys and values
 *                       only (PairTrainOptions.styleLayers 'cross-kv', what Custom Diffusion trains)
 *   pair-guidance-self-attn  the method with its style adapter on the self-attention's projections only
 *                       (PairTrainOptions.styleLayers 'self-attention')
 *   pair-guidance-reference  the method with its pair trained by another recipe (--reference-steps,
 *                       --reference-lr; default the earlier defaults, 300 steps at lr 1e-3): what a shorter
 *                       training costs the picture
 *   pair-guidance-augment  the method trained on an augmented pair: besides the flip, small shifts and
 *                       zooms, the same for both pictures (src/pair/augment.ts)
 *   pair-guidance-layout  the method with the unstyled draw's layout held: structure guidance
 *                       (src/diffusion/structure-guidance.ts, match 'layout') from the same seed's unstyled
 *                       trajectory, its weight, sigma and span set by --layout WEIGHT,SIGMA,UNTIL (default 1,0.125,1)
 * Metrics per method and strength, over pairs x subjects:
 *   style:   P(target) of the artist-set classifier; RMSE to the target's real drawing of the subject
 *            relative to the unstyled output's (< 1: closer to the target)
 *   content: identity-classifier agreement between unstyled and stylized output; SSIM between them;
 *            subject still in the identity classifier's top-5
 *   leakage: share of stylized outputs classified as the training pair's subject
 * And, as a reference, the drawn subjects' real drawings: the identity agreement between each subject's real
 * Noto and target drawings, and P(target) of the target's (where a perfect transfer of a real Noto drawing
 * would land; a point in the plot's identity panel)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/dataset.ts';
import { DiffusionPipeline } from '../src/pipeline/diffusion-pipeline.ts';
import { Rng } from '../src/graph/rng.ts';
import { topK } from '../src/eval/classifier.ts';
import { withPixelNoise } from '../src/eval/degrade.ts';
import {
  ensureIdentityClassifier,
  ensureTargetJudges,
  EVAL_DIR,
  notoTargetSubjects,
  parseIdentityProtocol,
  parseTargets,
  checkTargetsHeldOut,
  JUDGE_DATASET,
  releaseTargetJudges,
  artistJudgeInfo,
  checkJudgesPassGate,
} from '../src/eval/classifiers.ts';
import { formatTable, loadEvalModel, numberList, pictureOf, pct, tileOf } from '../src/eval/generate.ts';
import { bootstrap, numInterval, pctInterval, separated, type Interval } from '../src/eval/stats.ts';
import { PAIR_METRICS, PairCurves, type PairMetric, type PairSample, type UnstyledSample } from '../src/eval/pair-curves.ts';
import { plotPng, type Panel } from '../src/eval/plot.ts';
import { rmse, ssim } from '../src/eval/ssim.ts';
import { gridPng, type Tile } from '../src/images/grid.ts';
import { trainSingleImageLora } from '../src/pair/baselines.ts';
import { drawMixes, STYLE_CFG_ALTERNATING, STYLE_EVERY_OTHER_STEP, STYLE_START, styleGuidanceSchedule, type WeightedStyle } from '../src/pair/draw.ts';
import { EVERY_STEP, type GuidanceSchedule } from '../src/pipeline/guidance.ts';
import type { Style } from '../src/pair/style.ts';
import { MAX_PAIRS } from '../src/queue/job.ts';
import { PAIR_DEFAULTS, trainPair, type StyleLayers } from '../src/pair/train.ts';
import { type Augmentation, checkAugmentation, PAIR_AUGMENTATION } from '../src/pair/augment.ts';
import { checkStructureGuidance, type StructureGuidance } from '../src/diffusion/structure-guidance.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji-mini' },
    targets: { type: 'string', default: 'openmoji' },
    'identity-judge': { type: 'string' },
    pairs: { type: 'string', default: '8' },
    subjects: { type: 'string', default: '24' },
    strengths: { type: 'string', default: '1,2,3,4.5' },
    scales: { type: 'string', default: '0.5,1,1.5,2' },
    'noise-sigmas': { type: 'string', default: '0.1,0.2,0.3,0.5' },
    'own-subject': { type: 'boolean', default: false },
    'train-steps': { type: 'string', default: String(PAIR_DEFAULTS.steps) },
    convs: { type: 'boolean', default: PAIR_DEFAULTS.convs },
    'pairs-per-style': { type: 'string', default: '1' },
    'no-convs': { type: 'boolean', default: false },
    lr: { type: 'string' },
    rank: { type: 'string', default: String(PAIR_DEFAULTS.rank) },
    ranks: { type: 'string', default: '16' },
    'reference-steps': { type: 'string', default: '300' },
    'reference-lr': { type: 'string', default: '1e-3' },
    'augment-shift': { type: 'string', default: String(PAIR_AUGMENTATION.shift) },
    'augment-zooms': { type: 'string', default: PAIR_AUGMENTATION.zooms.join(',') },
    layout: { type: 'string', default: '1,0.125,1' },
    'style-start': { type: 'string', default: '0' },
    'style-end': { type: 'string', default: '0.9' },
    'style-timesteps': { type: 'string', default: '0.5' },
    methods: { type: 'string', default: 'pair-guidance,pair-lora-scale,dreambooth-lora,no-ortho-guidance' },
    steps: { type: 'string', default: '30' },
    cfg: { type: 'string', default: '5' },
    seeds: { type: 'string', default: '0,1' },
    out: { type: 'string', default: `${EVAL_DIR}/pair.json` },
    plot: { type: 'string', default: `${EVAL_DIR}/pair-plot.png` },
    grid: { type: 'string', default: `${EVAL_DIR}/pair-grid.png` },
    data: { type: 'string', default: JUDGE_DATASET },
    classifiers: { type: 'string', default: EVAL_DIR },
    threads: { type: 'string' },
    retrain: { type: 'boolean', default: false },
  },
});
const t0 = performance.now();
const list = (s: string) => numberList(s).filter((v) => v > 0);
const strengths = list(a.strengths!);
const scales = list(a.scales!);
const noiseSigmas = list(a['noise-sigmas']!);
if (noiseSigmas.some((v) => !(v > 0 && v <= 2))) throw new Error(`--noise-sigmas: expected standard deviations in (0, 2], got '${a['noise-sigmas']}'`);
const nPairs = Number(a.pairs);
const nSubjects = Number(a.subjects);
const trainSteps = Number(a['train-steps']);
const convs = Boolean(a.convs) && !a['no-convs'];
const lr = a.lr === undefined ? undefined : Number(a.lr);
const rank = Number(a.rank);
if (!Number.isInteger(rank) || rank < 1) throw new Error(`--rank: expected an integer >= 1, got '${a.rank}'`);
const rankList = numberList(a.ranks!);
if (rankList.some((r) => !Number.isInteger(r) || r < 1)) throw new Error(`--ranks: expected a list of integers >= 1, got '${a.ranks}'`);
const targets = parseTargets(a.targets!);
const identityJudge = parseIdentityProtocol(a['identity-judge']);
checkTargetsHeldOut(targets, a.model!);
const referenceRecipe = { steps: Number(a['reference-steps']), lr: Number(a['reference-lr']) };
const perStyleList = [...new Set(a['pairs-per-style']!.split(',').map((v) => Number(v.trim())))];
if (perStyleList.some((k) => !Number.isInteger(k) || k < 1 || k > MAX_PAIRS))
  throw new Error(`--pairs-per-style: expected a list of integers from 1 to ${MAX_PAIRS}, got '${a['pairs-per-style']}'`);
const maxPerStyle = Math.max(...perStyleList);
const augmentation: Augmentation = { shift: Number(a['augment-shift']), zooms: numberList(a['augment-zooms']!) };
checkAugmentation(augmentation);
const [layoutWeight, layoutSigma, layoutUntil] = numberList(a.layout!);
const layout: StructureGuidance = { weight: layoutWeight, sigma: layoutSigma, until: layoutUntil, match: 'layout' };
checkStructureGuidance(layout);
const steps = Number(a.steps);
const styleStarts = numberList(a['style-start']!);
if (styleStarts.some((v) => !(v >= 0 && v < 1))) throw new Error(`--style-start: expected shares of the steps in [0, 1), got '${a['style-start']}'`);
const styleEnds = numberList(a['style-end']!);
if (styleEnds.some((v) => !(v > STYLE_START && v <= 1)))
  throw new Error(`--style-end: expected shares of the steps in (${STYLE_START}, 1], got '${a['style-end']}'`);
const styleTimestepList = numberList(a['style-timesteps']!);
if (styleTimestepList.some((v) => !(v > 0 && v <= 1)))
  throw new Error(`--style-timesteps: expected shares of the noise schedule in (0, 1], got '${a['style-timesteps']}'`);
const cfg = Number(a.cfg);
const seedList = a.seeds!.split(',').map((v) => Number(v.trim()));
if (seedList.some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`--seeds: expected a list of integers >= 0, got '${a.seeds}'`);
const threads = a.threads === undefined ? undefined : Number(a.threads);
const log = (s: string) => console.error(s);

/** The adapter a method draws with; 'none' for the damage control, which trains and draws nothing of its own. */
type StyleKind = 'pair' | 'noOrtho' | 'dreambooth' | 'pairAugment' | 'reference' | 'none';
interface Method {
  id: string;
  label: string;
  /** 'noise': the unstyled picture with pixel noise of standard deviation = weight (src/eval/degrade.ts). */
  mode: 'guidance' | 'lora-scale' | 'noise';
  style: StyleKind;
  weights: number[];
  dashed: boolean;
  /** The style guidance's schedule (default: the draw's own, styleGuidanceSchedule(steps)). */
  schedule?: GuidanceSchedule;
  /** How many pairs its adapter learns from (--pairs-per-style); 1 for DreamBooth-LoRA. */
  pairsPerStyle?: number;
  /** Structure guidance from the unstyled draw (default none). */
  structure?: StructureGuidance;
  /** LoRA-scale mode: the share of the steps drawn without the adapters first (DrawOptions.loraScaleStart). */
  loraScaleStart?: number;
  /** The share of the noise schedule its style adapter trains on (PairTrainOptions.styleTimesteps; default: trainWindow). */
  styleTimesteps?: number;
  /** Its adapters' rank (default --rank). */
  rank?: number;
  /** Its adapters also on the resnet convolutions, LoCon (default --convs). */
  convs?: boolean;
  /** The modules its style adapter trains on (PairTrainOptions.styleLayers; default 'all'). */
  styleLayers?: StyleLayers;
}
/** Guided pair methods with one variant per value of an option (ids suffixed -V when it lists several). */
const VARIANT_FAMILIES: { base: string; values: readonly number[]; make: (v: number) => Pick<Method, 'label'> & Partial<Method> }[] = [
  {
    base: 'pair-guidance-start',
    values: styleStarts,
    make: (v) => ({ label: `pair + style guidance from ${v} of the steps (the unstyled draw before)`, schedule: styleGuidanceSchedule(steps, v) }),
  },
  {
    base: 'pair-guidance-end',
    values: styleEnds,
    make: (v) => ({
      label: `pair + style guidance from ${STYLE_START} to ${v} of the steps (plain CFG after)`,
      schedule: styleGuidanceSchedule(steps, STYLE_START, v),
    }),
  },
  {
    base: 'pair-guidance-timesteps',
    values: styleTimestepList,
    make: (v) => ({ label: `pair + style guidance, the style row trained on ${v === 1 ? 'all' : `the lowest ${v}`} of the noise schedule`, styleTimesteps: v }),
  },
  { base: 'pair-guidance-rank', values: rankList, make: (r) => ({ label: `pair + style guidance, adapters of rank ${r}`, rank: r }) },
];
const ALL_METHODS: Method[] = [
  { id: 'pair-guidance', label: 'pair + style guidance (the method)', mode: 'guidance', style: 'pair', weights: strengths, dashed: false },
  { id: 'pair-lora-scale', label: '(b) pair StyleLoRA by LoRA scale', mode: 'lora-scale', style: 'pair', weights: scales, dashed: true },
  { id: 'dreambooth-lora', label: '(a) DreamBooth-LoRA by LoRA scale', mode: 'lora-scale', style: 'dreambooth', weights: scales, dashed: true },
  {
    id: 'pair-lora-scale-start',
    label: `(b) pair StyleLoRA by LoRA scale from ${STYLE_START} of the steps`,
    mode: 'lora-scale',
    style: 'pair',
    weights: scales,
    dashed: true,
    loraScaleStart: STYLE_START,
  },
  {
    id: 'dreambooth-lora-start',
    label: `(a) DreamBooth-LoRA by LoRA scale from ${STYLE_START} of the steps${PAIR_DEFAULTS.styleTimesteps < 1 ? ', trained on the noise levels it acts on' : ''}`,
    mode: 'lora-scale',
    style: 'dreambooth',
    weights: scales,
    dashed: true,
    loraScaleStart: STYLE_START,
    // Trained on the share of the noise schedule the method's style row trains on (PAIR_DEFAULTS.styleTimesteps).
    styleTimesteps: PAIR_DEFAULTS.styleTimesteps,
  },
  { id: 'no-ortho-guidance', label: '(c) no orthogonality + style guidance', mode: 'guidance', style: 'noOrtho', weights: strengths, dashed: true },
  {
    id: 'noise-control',
    label: 'control: the unstyled picture with pixel noise, no style (labels: its sigma)',
    mode: 'noise',
    style: 'none',
    weights: noiseSigmas,
    dashed: true,
  },
  {
    id: 'pair-guidance-convs',
    label: 'pair + style guidance, adapters also on the resnet convolutions (LoCon)',
    mode: 'guidance',
    style: 'pair',
    weights: strengths,
    dashed: true,
    convs: true,
  },
  {
    id: 'no-ortho-guidance-convs',
    label: '(c) no orthogonality + style guidance, adapters also on the resnet convolutions (LoCon)',
    mode: 'guidance',
    style: 'noOrtho',
    weights: strengths,
    dashed: true,
    convs: true,
  },
  {
    id: 'pair-guidance-up-blocks',
    label: 'pair + style guidance, the style adapter on the up blocks only',
    mode: 'guidance',
    style: 'pair',
    weights: strengths,
    dashed: true,
    styleLayers: 'up-blocks',
  },
  {
    id: 'pair-guidance-cross-kv',
    label: 'pair + style guidance, the style adapter on the cross-attention keys and values only',
    mode: 'guidance',
    style: 'pair',
    weights: strengths,
    dashed: true,
    styleLayers: 'cross-kv',
  },
  {
    id: 'pair-guidance-self-attn',
    label: 'pair + style guidance, the style adapter on the self-attention only',
    mode: 'guidance',
    style: 'pair',
    weights: strengths,
    dashed: true,
    styleLayers: 'self-attention',
  },
  {
    id: 'pair-guidance-up-blocks-convs',
    label: 'pair + style guidance, the style adapter on the up blocks only, attention and resnet convolutions (LoCon)',
    mode: 'guidance',
    style: 'pair',
    weights: strengths,
    dashed: true,
    convs: true,
    styleLayers: 'up-blocks',
  },
  {
    id: 'pair-guidance-every-2',
    label: 'pair + style guidance every other step',
    mode: 'guidance',
    style: 'pair',
    weights: strengths,
    dashed: true,
    schedule: STYLE_EVERY_OTHER_STEP,
  },
  {
    id: 'pair-guidance-every-step',
    label: 'pair + style guidance at every step',
    mode: 'guidance',
    style: 'pair',
    weights: strengths,
    dashed: true,
    schedule: { style: EVERY_STEP, cfg: EVERY_STEP },
  },
  {
    id: 'pair-guidance-alternating',
    label: 'pair + style guidance, style and CFG directions alternating',
    mode: 'guidance',
    style: 'pair',
    weights: strengths,
    dashed: true,
    schedule: STYLE_CFG_ALTERNATING,
  },
  {
    id: 'pair-guidance-reference',
    label: `pair + style guidance, trained ${referenceRecipe.steps} steps at lr ${referenceRecipe.lr}`,
    mode: 'guidance',
    style: 'reference',
    weights: strengths,
    dashed: true,
  },
  { id: 'pair-guidance-augment', label: 'pair + style guidance, augmented pair', mode: 'guidance', style: 'pairAugment', weights: strengths, dashed: true },
  {
    id: 'pair-guidance-layout',
    label: `pair + style guidance, the unstyled draw's layout held (sigma ${layout.sigma}, weight ${layout.weight}, until ${layout.until})`,
    mode: 'guidance',
    style: 'pair',
    weights: strengths,
    dashed: true,
    structure: layout,
  },
  ...VARIANT_FAMILIES.flatMap((f) =>
    f.values.map(
      (v): Method => ({
        id: f.values.length > 1 ? `${f.base}-${v}` : f.base,
        mode: 'guidance',
        style: 'pair',
        weights: strengths,
        dashed: true,
        ...f.make(v),
      }),
    ),
  ),
];
/** The methods with one variant per value of an option, and those values. */
const VARIANTS: Record<string, readonly number[]> = Object.fromEntries(VARIANT_FAMILIES.map((f) => [f.base, f.values]));
/** A method name of the command line, expanded when its option lists several values. */
const expand = (s: string): string[] => ((VARIANTS[s]?.length ?? 0) > 1 ? VARIANTS[s].map((v) => `${s}-${v}`) : [s]);
const wanted = a.methods!.split(',').flatMap((s) => expand(s.trim()));
for (const w of wanted)
  if (!ALL_METHODS.some((m) => m.id === w)) throw new Error(`--methods: unknown method '${w}' (known: ${ALL_METHODS.map((m) => m.id).join(', ')})`);
// The pair methods once per --pairs-per-style value (ids suffixed -kK when there are several).
const methods: Method[] = ALL_METHODS.filter((m) => wanted.includes(m.id)).flatMap((m) =>
  m.style === 'dreambooth' || m.style === 'none'
    ? [{ ...m, pairsPerStyle: 1 }]
    : perStyleList.map((k) =>
        perStyleList.length > 1
          ? { ...m, id: `${m.id}-k${k}`, label: `${m.label}, ${k} pair${k > 1 ? 's' : ''}`, pairsPerStyle: k }
          : { ...m, pairsPerStyle: k },
      ),
);
/** The trained adapter a method draws with: its kind and number of pairs. */
/** The share of the noise schedule a method's style adapter trains on: the pair defaults' for the pair methods, all of it for DreamBooth-LoRA unless set. */
const trainWindow = (m: Method) => m.styleTimesteps ?? (m.style === 'dreambooth' ? 1 : PAIR_DEFAULTS.styleTimesteps);
/** A method's adapter rank. */
const rankOf = (m: Method) => m.rank ?? rank;
/** Whether a method's adapters also sit on the resnet convolutions. */
const convsOf = (m: Method) => m.convs ?? convs;
/** The modules a method's style adapter trains on. */
const styleLayersOf = (m: Method): StyleLayers => m.styleLayers ?? PAIR_DEFAULTS.styleLayers;
const styleKey = (m: Method) => `${m.style}@${m.pairsPerStyle}@t${trainWindow(m)}@r${rankOf(m)}@c${convsOf(m)}@l${styleLayersOf(m)}`;
const trainings = [...new Map(methods.filter((m) => m.style !== 'none').map((m) => [styleKey(m), m])).values()].map((m) => ({
  key: styleKey(m),
  kind: m.style,
  pairs: m.pairsPerStyle!,
  styleTimesteps: trainWindow(m),
  rank: rankOf(m),
  convs: convsOf(m),
  styleLayers: styleLayersOf(m),
}));
/** The method the others are compared with: the pair method (with the first --pairs-per-style value). */
const reference = methods.find((m) => m.id === 'pair-guidance' || m.id === `pair-guidance-k${perStyleList[0]}`);
// One batched draw per mode, schedule, structure guidance and LoRA-scale start (each holds for every trajectory of a draw).
const drawKey = (m: Method) =>
  `${m.mode}|${m.schedule ? JSON.stringify(m.schedule) : ''}|${m.structure ? JSON.stringify(m.structure) : ''}|${m.loraScaleStart ?? ''}`;
/** Per draw: its key and the first method drawn in it, whose mode, schedule, structure and start it takes. */
const drawGroups = [...new Map(methods.filter((m) => m.mode !== 'noise').map((m) => [drawKey(m), m])).entries()];

const model = await loadEvalModel(a.model!);
const ds = loadDataset(a.data!);
const identity = await ensureIdentityClassifier({ dataset: a.data, dir: a.classifiers, threads, retrain: a.retrain, log, protocol: identityJudge });
const judges = await ensureTargetJudges(targets, ds, { dataset: a.data, dir: a.classifiers, threads, retrain: a.retrain, log });
checkJudgesPassGate(judges);
const judgeOf = (target: string) => judges.get(target)!;
const S = model.imageSize;
if (ds.height !== S) throw new Error(`the dataset is ${ds.height} px, the model draws ${S} px`);
const PX = 3 * S * S;

// Subjects of the evaluation half with a Noto and a target drawing that the identity judge knows; per
// seed and target, its pairs first, then the subjects drawn for every pair of that seed and target.
const classIndex = new Map(identity.classes.map((c, i) => [c, i]));
interface Unit {
  seed: number;
  target: string;
  pair: string;
  /** The other subjects whose pairs train the same adapter (--pairs-per-style; an adapter of K pairs takes the first K-1). */
  morePairs: string[];
  drawSubjects: string[];
  drawSeeds: number[];
  /** The target's real drawings of the drawn subjects. */
  realTarget: Float32Array[];
}
const units: Unit[] = seedList.flatMap((seed) =>
  targets.flatMap((target, ti) => {
    const { drawings } = judgeOf(target);
    const shuffled = notoTargetSubjects(ds, drawings, target, identity.classes);
    const rng = new Rng(seed + 4242 + 7919 * ti);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const used = nPairs * maxPerStyle;
    const drawSubjects = shuffled.slice(used, used + nSubjects);
    const drawSeeds = drawSubjects.map((_, j) => seed * 1000 + j);
    const realTarget = drawSubjects.map((y) => pictureOf(drawings, target, y, S)!);
    const groups = Array.from({ length: nPairs }, (_, i) => shuffled.slice(i * maxPerStyle, (i + 1) * maxPerStyle));
    log(`seed ${seed}, ${target}: pairs ${groups.map((g) => g.join(' + ')).join(', ')}\n  subjects drawn: ${drawSubjects.join(', ')}`);
    return groups.map(([pair, ...morePairs]) => ({ seed, target, pair, morePairs, drawSubjects, drawSeeds, realTarget }));
  }),
);
const pairSubjects = units.map((u) => u.pair);

const samples: PairSample[] = [];
/** --own-subject: each pair's own subject, drawn unstyled and by every method (kept out of every other figure). */
const ownSamples: { pair: number; method: string; weight: number; pTarget: number; distRatio: number }[] = [];
const ownUnstyled: { pair: number; pTarget: number }[] = [];
const unstyledStats: UnstyledSample[] = [];
/** Per pair, its drawn subjects' real drawings: Noto's against the target's (the mean over the subjects). */
const realDrawings: { pair: number; agree: number; pTarget: number; pNoto: number }[] = [];
const pairsReport: Record<string, unknown>[] = [];
const gridTiles: Tile[] = [];
const GRID_COLS = 2 + methods.length;
const blank = (): Tile => ({ rgb: new Uint8Array(3 * S * S).fill(255), width: S, height: S });
const pipe = new DiffusionPipeline(model, { threads });
let trainSeconds = 0;
let drawSeconds = 0;

for (let p = 0; p < units.length; p++) {
  const { seed, target, pair: x, morePairs, drawSubjects, drawSeeds, realTarget } = units[p];
  const { artist, index: targetIndex, drawings } = judgeOf(target);
  const A = artist.classes.length;
  const extraPairs = morePairs.map((y) => ({ content: pictureOf(ds, 'noto', y, S)!, style: pictureOf(drawings, target, y, S)!, subject: y }));
  const content = pictureOf(ds, 'noto', x, S)!;
  const styleImg = pictureOf(drawings, target, x, S)!;
  const tTrain = performance.now();
  const styles: Record<string, Style> = {};
  const trainInfo: Record<string, unknown> = {};
  const bar = (what: string) => (q: { step: number; steps: number; loss: number }) => {
    if (q.step % 25 === 0 || q.step === q.steps)
      process.stderr.write(`\r  pair ${p + 1}/${pairSubjects.length} '${x}': ${what} step ${q.step}/${q.steps}, loss ${q.loss.toFixed(4)}   `);
  };
  for (const t of trainings) {
    const recipe = t.kind === 'reference' ? referenceRecipe : { steps: trainSteps, lr };
    const common = { model, name: `${t.kind}-${t.pairs}-${p}`, subject: x, ...recipe, rank: t.rank, seed: seed * 1000 + p, threads, convs: t.convs };
    const what = `${{ pair: 'pair', noOrtho: 'no-orthogonality', dreambooth: 'DreamBooth-LoRA', pairAugment: 'augmented pair', reference: 'reference pair', none: 'nothing' }[t.kind]}${perStyleList.length > 1 && t.kind !== 'dreambooth' ? ` (${t.pairs} pairs)` : ''}`;
    const r =
      t.kind === 'dreambooth'
        ? await trainSingleImageLora({ ...common, image: styleImg, timesteps: t.styleTimesteps, onProgress: bar(what) })
        : await trainPair({
            ...common,
            content,
            style: styleImg,
            extraPairs: extraPairs.slice(0, t.pairs - 1),
            trainableA: t.kind === 'noOrtho',
            styleLayers: t.styleLayers,
            styleTimesteps: t.styleTimesteps,
            augmentation: t.kind === 'pairAugment' ? augmentation : undefined,
            onProgress: bar(what),
          });
    styles[t.key] = r.style;
    trainInfo[t.key] = { seconds: r.seconds, finalLoss: r.losses.at(-1) };
  }
  trainSeconds += (performance.now() - tTrain) / 1000;
  process.stderr.write('\n');

  // Draw: per subject one batched run per mode and schedule; the unstyled picture comes with the first run.
  const tDraw = performance.now();
  /** One subject drawn unstyled and by every method at every weight, from one seed (one batched run per draw group). */
  const drawSubject = async (prompt: string, drawSeed: number, noiseSeed: number) => {
    const opts = { prompt, seed: drawSeed, steps, cfg };
    const styled = new Map<string, Float32Array[]>();
    let unstyled: Float32Array | null = null;
    for (const [key, group] of drawGroups) {
      if (group.mode === 'noise') throw new Error('the noise control draws nothing of its own');
      const ms = methods.filter((m) => drawKey(m) === key);
      const mixes: WeightedStyle[][] = unstyled ? [] : [[]];
      for (const m of ms) for (const w of m.weights) mixes.push([{ style: styles[styleKey(m)], weight: w }]);
      const r = await drawMixes(pipe, mixes, {
        ...opts,
        mode: group.mode,
        styleSchedule: group.schedule,
        structure: group.structure ?? null,
        loraScaleStart: group.loraScaleStart,
      });
      let k = 0;
      if (!unstyled) unstyled = r.images[k++];
      for (const m of ms)
        styled.set(
          m.id,
          m.weights.map(() => r.images[k++]),
        );
    }
    // With only the noise control, the unstyled picture is drawn alone.
    if (!unstyled) unstyled = (await drawMixes(pipe, [[]], { ...opts, mode: 'guidance' })).images[0];
    // The noise control: the unstyled picture damaged, its noise seeded per picture and sigma (the same in every run).
    for (const m of methods.filter((q) => q.mode === 'noise'))
      styled.set(
        m.id,
        m.weights.map((sigma, wi) => withPixelNoise(unstyled!, sigma, new Rng(noiseSeed + wi))),
      );
    return { unstyled: unstyled!, styled };
  };
  const perSubject: { unstyled: Float32Array; styled: Map<string, Float32Array[]> }[] = [];
  for (let j = 0; j < drawSubjects.length; j++) {
    perSubject.push(await drawSubject(drawSubjects[j], drawSeeds[j], p * 1_000_003 + drawSeeds[j] * 31));
    process.stderr.write(
      `\r  pair ${p + 1}/${pairSubjects.length}: drew subject ${j + 1}/${drawSubjects.length} (${((performance.now() - tDraw) / 1000).toFixed(0)} s)   `,
    );
  }
  // The pair's own subject (--own-subject), from a seed no other subject of the seed uses.
  const own = a['own-subject'] ? await drawSubject(x, seed * 1000 + 999, p * 1_000_003 + 999 * 31 + 7) : null;
  drawSeconds += (performance.now() - tDraw) / 1000;
  process.stderr.write('\n');
  if (own) {
    const pics = [own.unstyled, ...methods.flatMap((m) => own.styled.get(m.id)!)];
    const stack = new Float32Array(pics.length * PX);
    pics.forEach((img, i) => stack.set(img, i * PX));
    const probs = await artist.probs(stack, pics.length);
    const pOf = (i: number) => probs[i * A + targetIndex];
    ownUnstyled.push({ pair: p, pTarget: pOf(0) });
    let i = 1;
    for (const m of methods)
      own.styled.get(m.id)!.forEach((img, wi) => {
        ownSamples.push({
          pair: p,
          method: m.id,
          weight: m.weights[wi],
          pTarget: pOf(i++),
          distRatio: rmse(img, styleImg) / Math.max(1e-6, rmse(own.unstyled, styleImg)),
        });
      });
  }

  // Classify every picture of this pair at once: per subject the unstyled one, then each method's sweep.
  const order: { j: number; method: string | null; w: number; img: Float32Array }[] = [];
  perSubject.forEach((s, j) => {
    order.push({ j, method: null, w: 0, img: s.unstyled });
    for (const m of methods) s.styled.get(m.id)!.forEach((img, wi) => order.push({ j, method: m.id, w: m.weights[wi], img }));
  });
  const stack = new Float32Array(order.length * PX);
  order.forEach((o, i) => stack.set(o.img, i * PX));
  const idProbs = await identity.probs(stack, order.length);
  const artProbs = await artist.probs(stack, order.length);
  const K = identity.classes.length;
  const top1 = (i: number) => topK(idProbs.subarray(i * K, (i + 1) * K), 1)[0];
  const inTop5 = (i: number, c: number) => topK(idProbs.subarray(i * K, (i + 1) * K), 5).includes(c);
  const xClass = classIndex.get(x)!;
  let unstyledAt = -1;
  order.forEach((o, i) => {
    const yClass = classIndex.get(drawSubjects[o.j])!;
    if (o.method === null) {
      unstyledAt = i;
      unstyledStats.push({ pair: p, pTarget: artProbs[i * A + targetIndex], leak: top1(i) === xClass, subjectTop5: inTop5(i, yClass) });
      return;
    }
    const u = perSubject[o.j].unstyled;
    samples.push({
      pair: p,
      subject: o.j,
      method: o.method,
      weight: o.w,
      pTarget: artProbs[i * A + targetIndex],
      distRatio: rmse(o.img, realTarget[o.j]) / Math.max(1e-6, rmse(u, realTarget[o.j])),
      agree: top1(i) === top1(unstyledAt),
      ssim: ssim(o.img, u, S),
      leak: top1(i) === xClass,
      subjectTop5: inTop5(i, yClass),
    });
  });
  pairsReport.push({ seed, target, subject: x, drawSubjects, training: trainInfo });

  // Grid: the first two pairs, the first 6 subjects each, at the middle strength of every method.
  if (p < 2) {
    gridTiles.push({ ...tileOf(content, 0, S, `noto: ${x}`) }, { ...tileOf(styleImg, 0, S, `${target}: ${x}`) });
    for (let c = 2; c < GRID_COLS; c++) gridTiles.push(blank());
    // With --own-subject, the pair's own subject first, beside the pair's style picture.
    const rows = [
      ...(own ? [{ s: own, label: `${x} (its own)`, real: styleImg }] : []),
      ...perSubject.slice(0, 6).map((s, j) => ({ s, label: drawSubjects[j], real: realTarget[j] })),
    ];
    rows.forEach(({ s, label, real }) => {
      gridTiles.push(tileOf(s.unstyled, 0, S, label), tileOf(real, 0, S, `real ${target}`));
      for (const m of methods) {
        const wi = Math.floor((m.weights.length - 1) / 2);
        gridTiles.push(
          tileOf(s.styled.get(m.id)![wi], 0, S, `${m.id.replace('-guidance', ' w').replace('-lora-scale', ' s').replace('-lora', ' s')}=${m.weights[wi]}`),
        );
      }
    });
  }
}
await pipe.release();

// Where a perfect transfer lands: the drawn subjects' real Noto and target drawings, judged as a pair's
// unstyled and styled pictures are (identity agreement between the two; P(target) of each). The pairs of
// a seed and target draw the same subjects, so each such group is judged once.
const realOfGroup = new Map<string, { agree: number; pTarget: number; pNoto: number }>();
for (let p = 0; p < units.length; p++) {
  const { seed, target, drawSubjects, realTarget } = units[p];
  const key = `${seed}|${target}`;
  let r = realOfGroup.get(key);
  if (!r) {
    const { artist, index: targetIndex } = judgeOf(target);
    const A = artist.classes.length;
    const K = identity.classes.length;
    const real = drawSubjects.flatMap((y, j) => [pictureOf(ds, 'noto', y, S)!, realTarget[j]]);
    const realStack = new Float32Array(real.length * PX);
    real.forEach((img, i) => realStack.set(img, i * PX));
    const realId = await identity.probs(realStack, real.length);
    const realArt = await artist.probs(realStack, real.length);
    const realTop1 = (i: number) => topK(realId.subarray(i * K, (i + 1) * K), 1)[0];
    const n = drawSubjects.length;
    r = {
      agree: drawSubjects.filter((_, j) => realTop1(2 * j) === realTop1(2 * j + 1)).length / n,
      pTarget: drawSubjects.reduce((sum, _, j) => sum + realArt[(2 * j + 1) * A + targetIndex], 0) / n,
      pNoto: drawSubjects.reduce((sum, _, j) => sum + realArt[2 * j * A + targetIndex], 0) / n,
    };
    realOfGroup.set(key, r);
  }
  realDrawings.push({ pair: p, ...r });
}

// Aggregate per method and strength; intervals by resampling the pairs (each pair is one training).
const pairIds = units.map((_, p) => p);
const curves = new PairCurves(samples, unstyledStats);
const metricOver = (pairs: readonly number[], method: string, w: number, m: PairMetric) => curves.metricOver(pairs, method, w, m);
const interval = (stat: (pairs: readonly number[]) => number) => bootstrap(pairIds, stat, { seed: 7 });
const unstyled = {
  pTarget: curves.unstyledOver(pairIds, 'pTarget'),
  pTargetInterval: interval((ps) => curves.unstyledOver(ps, 'pTarget')),
  distRatio: 1,
  identityAgreement: 1,
  ssim: 1,
  leakage: curves.unstyledOver(pairIds, 'leakage'),
  subjectTop5: curves.unstyledOver(pairIds, 'subjectTop5'),
  n: unstyledStats.length,
};
const table = methods.flatMap((m) =>
  m.weights.map((w) => {
    const s = samples.filter((q) => q.method === m.id && q.weight === w);
    const intervals = Object.fromEntries(PAIR_METRICS.map((k) => [k, interval((ps) => metricOver(ps, m.id, w, k))])) as Record<PairMetric, Interval>;
    return {
      method: m.id,
      mode: m.mode,
      strength: w,
      pTarget: intervals.pTarget.value,
      distRatio: intervals.distRatio.value,
      identityAgreement: intervals.identityAgreement.value,
      ssim: intervals.ssim.value,
      leakage: intervals.leakage.value,
      subjectTop5: intervals.subjectTop5.value,
      intervals,
      n: s.length,
    };
  }),
);

/** The headline of a method over some pairs (PairCurves.styleAtAgreement). */
const styleAtAgreement = (method: Method, pairs: readonly number[]) => curves.styleAtAgreement(method.id, method.weights, pairs);
const headline = methods.map((m) => ({ method: m.id, pTargetAtAgreement50: interval((ps) => styleAtAgreement(m, ps)) }));
/** With several targets: each method's headline on each target's pairs alone, and its paired difference to the reference there. */
const headlineByTarget =
  targets.length > 1
    ? targets.map((target) => {
        const ids = pairIds.filter((p) => units[p].target === target);
        const over = (stat: (pairs: readonly number[]) => number) => bootstrap(ids, stat, { seed: 7 });
        return {
          target,
          pairs: ids.length,
          methods: methods.map((m) => ({
            method: m.id,
            pTargetAtAgreement50: over((ps) => styleAtAgreement(m, ps)),
            ...(reference && m !== reference ? { minusReference: over((ps) => styleAtAgreement(m, ps) - styleAtAgreement(reference, ps)) } : {}),
          })),
        };
      })
    : [];
/**
 * Paired differences to the reference method: the same resample of the pairs for both (they share the
 * pairs, drawn subjects and seeds), so the spread between pairs cancels. The headline, and P(target)
 * and identity agreement at every strength both methods drew.
 */
const differences = reference
  ? methods
      .filter((m) => m !== reference)
      .map((m) => ({
        method: m.id,
        minus: reference.id,
        pTargetAtAgreement50: interval((ps) => styleAtAgreement(m, ps) - styleAtAgreement(reference, ps)),
        byStrength: m.weights
          .filter((w) => m.mode === reference.mode && reference.weights.includes(w))
          .map((w) => ({
            strength: w,
            pTarget: interval((ps) => metricOver(ps, m.id, w, 'pTarget') - metricOver(ps, reference.id, w, 'pTarget')),
            identityAgreement: interval((ps) => metricOver(ps, m.id, w, 'identityAgreement') - metricOver(ps, reference.id, w, 'identityAgreement')),
          })),
      }))
  : [];

/**
 * Does the method's curve dominate a baseline point? Linear interpolation of the method's style score
 * at the baseline point's content score, over the method's content range (unstyled point included).
 */
function dominance(content: 'ssim' | 'identityAgreement', style: 'pTarget') {
  const ours = [unstyled, ...table.filter((r) => r.method === reference!.id)].map((r) => ({ c: r[content], s: r[style] })).sort((p, q) => p.c - q.c);
  return methods
    .filter((m) => m !== reference)
    .map((m) => {
      const pts = table.filter((r) => r.method === m.id);
      let dominated = 0;
      let outside = 0;
      for (const r of pts) {
        const c = r[content];
        if (ours.length < 2 || c < ours[0].c || c > ours.at(-1)!.c) {
          outside++;
          continue;
        }
        const k = Math.max(
          1,
          ours.findIndex((q) => q.c >= c),
        );
        const [lo, hi] = [ours[k - 1], ours[k]];
        const sAt = hi.c === lo.c ? Math.max(lo.s, hi.s) : lo.s + ((c - lo.c) / (hi.c - lo.c)) * (hi.s - lo.s);
        if (sAt >= r[style] - 1e-9) dominated++;
      }
      return { baseline: m.id, points: pts.length, dominatedByPairGuidance: dominated, outsideItsContentRange: outside };
    });
}
const dominanceReport = reference ? { bySsim: dominance('ssim', 'pTarget'), byIdentityAgreement: dominance('identityAgreement', 'pTarget') } : null;

console.log(
  `\nmodel ${a.model} (${model.hash}); ${units.length} pairs (${nPairs} per seed and target, seeds ${seedList.join(', ')}; targets ${targets.join(', ')}) x ${nSubjects} subjects; ${steps} steps, CFG ${cfg}; adapters of rank ${rank} trained ${trainSteps} steps${lr === undefined ? '' : ` at lr ${lr}`}${convs ? ', on attention and resnet convolutions (LoCon)' : ', on attention projections'}${
    methods.some((m) => convsOf(m) !== convs)
      ? ` (${methods
          .filter((m) => convsOf(m) !== convs)
          .map((m) => m.id)
          .join(', ')}: ${convs ? 'attention only' : 'also the resnet convolutions'})`
      : ''
  }`,
);
console.log(
  `judges: identity held-out top-1 ${pct(identity.meta.info.heldOutTop1 as number)}; ${targets
    .map((t) => {
      const info = artistJudgeInfo(judgeOf(t).artist);
      return `artist judge for ${t}: held-out top-1 ${pct(info.heldOutTop1)}, on the evaluation subjects it never saw ${pct(info.evaluationSubjectsTop1)} (${info.heldOutSet} recall ${pct(info.evaluationSubjectsHeldOutRecall)})`;
    })
    .join('; ')}`,
);
console.log('[95% intervals: bootstrap over the pairs]\n');
console.log(
  formatTable(
    ['method', 'strength', 'P(target)', 'dist ratio', 'id agree', 'SSIM', 'leakage', 'subj top-5', 'n'],
    [
      ['unstyled', 0, numInterval(unstyled.pTargetInterval), 1, 1, 1, pct(unstyled.leakage), pct(unstyled.subjectTop5), unstyled.n],
      ...table.map((r) => [
        r.method,
        r.strength,
        numInterval(r.intervals.pTarget),
        numInterval(r.intervals.distRatio, 2),
        pctInterval(r.intervals.identityAgreement),
        numInterval(r.intervals.ssim, 2),
        pct(r.leakage),
        pct(r.subjectTop5),
        r.n,
      ]),
    ],
  ),
);
const signed = (i: Interval) => `${i.value >= 0 ? '+' : ''}${numInterval(i)}${i.low > 0 || i.high < 0 ? ' (apart from 0)' : ''}`;
console.log('\nheadline: P(target) where identity agreement falls to 50%');
const ours = headline.find((h) => h.method === reference?.id);
for (const h of headline) {
  const vs =
    ours && h !== ours
      ? separated(ours.pTargetAtAgreement50, h.pTargetAtAgreement50)
        ? ours.pTargetAtAgreement50.value > h.pTargetAtAgreement50.value
          ? ` (${reference!.id} is higher, intervals apart)`
          : ` (${reference!.id} is lower, intervals apart)`
        : ` (inside the noise of ${reference!.id})`
      : '';
  console.log(`  ${h.method}: ${numInterval(h.pTargetAtAgreement50)}${vs}`);
}
if (ours && targets.length === 1 && targets[0] === 'openmoji')
  console.log(`goal: P(openmoji) >= 0.5 there: ${ours.pTargetAtAgreement50.value >= 0.5 ? 'met' : 'not met'}`);
if (headlineByTarget.length) console.log('by target:');
for (const t of headlineByTarget) {
  console.log(`  ${t.target} (${t.pairs} pair${t.pairs === 1 ? '' : 's'}):`);
  for (const h of t.methods)
    console.log(`    ${h.method}: ${numInterval(h.pTargetAtAgreement50)}${h.minusReference ? `; minus ${reference!.id}: ${signed(h.minusReference)}` : ''}`);
}
if (differences.length) console.log(`\npaired differences to ${reference!.id} (the same resampled pairs for both):`);
for (const d of differences) {
  console.log(`  ${d.method}: headline ${signed(d.pTargetAtAgreement50)}`);
  for (const b of d.byStrength) console.log(`    strength ${b.strength}: P(target) ${signed(b.pTarget)}, identity agreement ${signed(b.identityAgreement)}`);
}
if (dominanceReport) {
  console.log(`\nbaseline points dominated by the ${reference!.id} curve (P(target) at equal content score):`);
  for (const [k, v] of Object.entries(dominanceReport))
    for (const d of v)
      console.log(`  ${k}: ${d.baseline}: ${d.dominatedByPairGuidance}/${d.points} dominated, ${d.outsideItsContentRange} outside its content range`);
}

/** --own-subject: per method and weight, the mean over the pairs of P(target) and the distance ratio on each pair's own subject. */
const meanOver =
  <T extends { pair: number }>(rows: readonly T[], value: (r: T) => number) =>
  (ps: readonly number[]) =>
    ps.reduce((sum, q) => sum + value(rows.find((r) => r.pair === q)!), 0) / ps.length;
const ownSubject = ownSamples.length
  ? {
      unstyled: { pTarget: interval(meanOver(ownUnstyled, (r) => r.pTarget)) },
      table: methods.flatMap((m) =>
        m.weights.map((w) => {
          const rows = ownSamples.filter((r) => r.method === m.id && r.weight === w);
          return { method: m.id, strength: w, pTarget: interval(meanOver(rows, (r) => r.pTarget)), distRatio: interval(meanOver(rows, (r) => r.distRatio)) };
        }),
      ),
    }
  : null;
if (ownSubject) {
  console.log("\neach pair's own subject (the fit; not in the figures above):");
  console.log(
    formatTable(
      ['method', 'strength', 'P(target)', 'dist ratio to the style picture'],
      [
        ['unstyled', 0, numInterval(ownSubject.unstyled.pTarget), 1],
        ...ownSubject.table.map((r) => [r.method, r.strength, numInterval(r.pTarget), numInterval(r.distRatio, 2)]),
      ],
    ),
  );
}

const realReference = {
  identityAgreement: interval(meanOver(realDrawings, (r) => r.agree)),
  pTarget: interval(meanOver(realDrawings, (r) => r.pTarget)),
  pTargetNoto: interval(meanOver(realDrawings, (r) => r.pNoto)),
};
console.log(
  `\nthe drawn subjects' real drawings, Noto's against the target's (where a perfect transfer of a real Noto drawing lands): identity agreement ${pctInterval(realReference.identityAgreement)}, P(target) ${numInterval(realReference.pTarget)} (Noto's drawings ${numInterval(realReference.pTargetNoto)})`,
);

// Plot: style vs content trade-off curves, each starting at the unstyled point.
const series = (content: 'ssim' | 'identityAgreement', style: 'pTarget' | 'distRatio') =>
  methods.map((m) => ({
    name: m.label,
    dashed: m.dashed,
    points: [
      { x: unstyled[content], y: unstyled[style], label: '0' },
      ...table.filter((r) => r.method === m.id).map((r) => ({ x: r[content], y: r[style], label: String(r.strength) })),
    ],
  }));
const panels: Panel[] = [
  { title: 'style fidelity vs structure', xLabel: 'SSIM(stylized, unstyled)', yLabel: 'mean P(target)', series: series('ssim', 'pTarget') },
  {
    title: 'style fidelity vs identity',
    xLabel: 'identity agreement with unstyled',
    yLabel: 'mean P(target)',
    series: [
      ...series('identityAgreement', 'pTarget'),
      {
        name: "real drawings, Noto's vs the target's (a perfect transfer)",
        color: '#000000',
        points: [{ x: realReference.identityAgreement.value, y: realReference.pTarget.value, label: 'real' }],
      },
    ],
  },
  {
    title: 'distance to the real target drawing (lower: closer)',
    xLabel: 'SSIM(stylized, unstyled)',
    yLabel: 'RMSE ratio stylized / unstyled',
    series: series('ssim', 'distRatio'),
  },
];
for (const f of [a.out!, a.plot!, a.grid!]) mkdirSync(dirname(f), { recursive: true });
writeFileSync(a.plot!, await plotPng(panels, { title: `Pair Customization vs baselines: ${units.length} pairs x ${nSubjects} subjects (labels: strength)` }));
if (gridTiles.length) writeFileSync(a.grid!, await gridPng(gridTiles, { columns: GRID_COLS, scale: 3, labelHeight: 14 }));

const report = {
  model: { dir: a.model, id: model.id, hash: model.hash },
  settings: {
    convs,
    /** The identity judge's protocol (identity agreement, leakage). */
    identityJudge,
    pairsPerStyle: perStyleList,
    lr: lr ?? null,
    referenceRecipe: methods.some((m) => m.style === 'reference') ? referenceRecipe : null,
    ...(trainings.some((t) => t.kind === 'pairAugment') ? { augmentation } : {}),
    targets,
    rank,
    pairs: units.length,
    pairsPerSeed: nPairs,
    subjects: nSubjects,
    seeds: seedList,
    strengths,
    scales,
    trainSteps,
    steps,
    cfg,
    methods: methods.map((m) => m.id),
    /** Each style-guidance method's schedule (the draw's default where it names none), for eval:pair-compare. */
    guidanceSchedules: Object.fromEntries(methods.filter((m) => m.mode === 'guidance').map((m) => [m.id, m.schedule ?? styleGuidanceSchedule(steps)])),
    /** Each method's structure guidance from the unstyled draw (null: none). */
    structures: Object.fromEntries(methods.map((m) => [m.id, m.structure ?? null])),
    /** Each method's share of the noise schedule its style adapter trained on (PairTrainOptions.styleTimesteps). */
    styleTimesteps: Object.fromEntries(methods.map((m) => [m.id, trainWindow(m)])),
    /** Each method's adapter rank. */
    ranks: Object.fromEntries(methods.map((m) => [m.id, rankOf(m)])),
    /** Whether each method's adapters also sat on the resnet convolutions (LoCon). */
    convsByMethod: Object.fromEntries(methods.map((m) => [m.id, convsOf(m)])),
    /** The modules each method's style adapter trained on (PairTrainOptions.styleLayers). */
    styleLayersByMethod: Object.fromEntries(methods.map((m) => [m.id, styleLayersOf(m)])),
  },
  /** The identity judge, and the artist judge of each target. */
  classifiers: { identity: identity.meta.info, artist: Object.fromEntries(targets.map((t) => [t, judgeOf(t).artist.meta.info])) },
  pairSubjects,
  pairs: pairsReport,
  /** Every picture's figures, for eval:pair-compare. */
  samples: { styled: samples, unstyled: unstyledStats },
  unstyled,
  table,
  headline,
  headlineByTarget,
  differences,
  /** --own-subject: each pair's own subject (null without it). */
  ownSubject,
  /** The drawn subjects' real drawings, Noto's against the target's: where a perfect transfer lands. */
  realDrawings: realReference,
  dominance: dominanceReport,
  seconds: { training: trainSeconds, drawing: drawSeconds, total: (performance.now() - t0) / 1000 },
};
writeFileSync(a.out!, `${JSON.stringify(report, null, 2)}\n`);
console.log(
  `\nwrote ${a.out}, ${a.plot}, ${a.grid}; training ${trainSeconds.toFixed(0)} s, drawing ${drawSeconds.toFixed(0)} s, total ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
await identity.release();
await releaseTargetJudges(judges);
