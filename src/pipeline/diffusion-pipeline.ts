/**
 * Text-to-image sampling with any number of guidance terms in ONE batched UNet run per step.
 *
 * A request holds trajectories (images being drawn, each from its own initial noise) and, per trajectory,
 * terms: a prompt, LoRA adapter gates, and a coefficient. The model output of a trajectory is the
 * weighted sum of its terms' outputs, so classifier-free guidance, Pair Customization's style guidance
 * and blends are all just coefficient lists (see guidance.ts). Every term of every trajectory runs in
 * the same UNet batch; the sampler steps all trajectories together.
 */
import type { Precision } from '../graph/device.ts';
import { emitOnnx, Graph, GraphSession, type Feed, type SessionOptions, type Tensor } from '../graph/index.ts';
import { conditionFeeds, modelUnet, textEncoderFeeds, textEncoderGraph, zeroEmptyPrompts, type PromptConditioning } from './conditioning.ts';
import type { LoraAdapter } from '../models/lora.ts';
import { checkInjectionPoints, injectionKey, INJECT_MIX_INPUT, INJECT_SOURCE_INPUT, type FeatureInjectionPoints } from '../models/feature-injection.ts';
import type { TextToImageModel } from './text-to-image.ts';
import { ddimInvert } from '../diffusion/inversion.ts';
import { Rng } from '../graph/rng.ts';
import { sample, type Denoiser, type SamplerName } from '../diffusion/samplers.ts';
import { slerpNoise } from '../diffusion/variation.ts';

export interface Term {
  /** Index into the request's prompts. */
  prompt: number;
  /** Gate per adapter name (absent = 0). */
  gates?: Record<string, number>;
  coef: number;
}

export interface Trajectory {
  terms: Term[];
  /**
   * Guidance directions added to the terms' sum, by name: each a list of terms whose coefficients sum
   * to 0, such as style guidance's sum_i w_i (e_{+style_i}(c_i) - e(c)) ('style') or classifier-free
   * guidance's (w_cfg - 1) (e(c) - e(neg)) ('cfg'). The request's `directionAt` says at which steps each
   * is evaluated; at the others its last value is reused, so the batch holds no rows of it.
   */
  directions?: Record<string, Term[]>;
  /** Seed of the initial noise; trajectories with the same seed start from the same noise. */
  seed: number;
}

/** A LoRA adapter's parameters for this request, by full parameter name (…lora_A.<name>.weight …). */
export interface AdapterWeights {
  name: string;
  rank: number;
  /** The adapter adapts the resnets' convolutions too (LoCon). */
  convs?: boolean;
  params: Record<string, Float32Array>;
}

/**
 * Called after sampler step i of `total`. `preview()` decodes the current estimate of the final images
 * (the x0 predicted from this step's model output) to [trajectories, 3, H, W] in [-1, 1]; it costs one
 * codec decode (a permutation for the pixel codec, a VAE run otherwise), so call it only when wanted.
 */
export type StepCallback = (i: number, total: number, preview: () => Promise<Float32Array>) => void | Promise<void>;

export interface GenerateRequest {
  prompts: string[];
  trajectories: Trajectory[];
  adapters?: AdapterWeights[];
  steps: number;
  sampler?: SamplerName;
  signal?: AbortSignal;
  onStep?: StepCallback;
  /**
   * Start from these latents (one per trajectory, e.g. from `invert`) at sampler step `step`, instead
   * of from each trajectory's seeded noise at step 0.
   */
  init?: { latents: Float32Array; step: number };
  /**
   * A variation (src/diffusion/variation.ts): the noise of `seed` mixed into each trajectory's noise by
   * slerp at `strength` in [0, 1]; from `init` latents (no initial noise), DDIM's per-step noise at eta
   * = `strength`, drawn from `seed`.
   */
  variation?: { seed: number; strength: number };
  /**
   * Per sampler step and direction name: evaluate the trajectories' directions of that name
   * ('evaluate', the default), reuse their last evaluated value ('reuse'; evaluated when there is none
   * yet) or leave them out ('off').
   */
  directionAt?: (step: number, direction: string) => DirectionUse;
  /**
   * Edits the combined model output `out` of sampler step i in place before the sampler steps with it
   * (`x`: every trajectory's latent at model timestep t), e.g. structure guidance (src/diffusion/structure-guidance.ts).
   */
  adjustOutput?: (x: Float32Array, out: Float32Array, t: number, i: number) => void;
  /**
   * Feature injection (src/models/feature-injection.ts), e.g. Plug-and-Play-style structure from a
   * reconstruction: at sampler step i, every row of trajectory j moves `mixAt(i)` of the way to the
   * `points` features of the row of trajectory `sources[j]`'s first term (null: none), in the same UNet batch.
   */
  injection?: TrajectoryInjection;
}

export interface TrajectoryInjection extends FeatureInjectionPoints {
  /** Per trajectory: the trajectory whose features its rows take, or null. */
  sources: readonly (number | null)[];
  /** The mix at sampler step i, in [0, 1] (0: the rows run as they are; 1: the source's features). */
  mixAt: (step: number) => number;
}

export type DirectionUse = 'evaluate' | 'reuse' | 'off';

export interface InvertRequest {
  prompts: string[];
  trajectories: Trajectory[];
  adapters?: AdapterWeights[];
  /** [trajectories, 3, H, W] in [-1, 1], at the model's image size. */
  images: Float32Array;
  /** The DDIM schedule's step count, and the step to invert up to (0: all the way). */
  steps: number;
  toStep: number;
  /** Fixed-point iterations per inversion step (src/diffusion/inversion.ts; default 0). */
  refine?: number;
  signal?: AbortSignal;
  onStep?: (done: number, total: number) => void | Promise<void>;
}

export interface GenerateResult {
  /** Images [trajectories, 3, H, W] in [-1, 1]. */
  images: Float32Array;
  /** UNet batch rows of a step that evaluates every direction (every step without them). */
  rowsPerStep: number;
  /** UNet batch rows over the whole run (rowsPerStep x steps when every step evaluates every direction). */
  rowsRun: number;
}

export interface PipelineOptions {
  threads?: number;
  device?: 'cpu' | 'cuda';
  /** Network precision (default fp32); fp16 is for GPUs (onnxruntime's CPU kernels upcast most of it). */
  precision?: Precision;
}

export class DiffusionPipeline {
  private readonly textSessions = new Map<number, Promise<GraphSession>>();
  private readonly unetSessions = new Map<string, Promise<GraphSession>>();
  /**
   * The options of every session the pipeline makes. Their threads stop spinning at the end of each
   * run: a pipeline's sessions take turns (the text encoder, then the UNet; a style-guided draw's two
   * batch shapes), and the idle one's spinning threads would take the cores from the running one.
   */
  readonly sessionOptions: SessionOptions;

  constructor(
    readonly model: TextToImageModel,
    private readonly opts: PipelineOptions = {},
  ) {
    this.sessionOptions = { ...opts, stopSpinningAfterRun: true };
  }

  /** The UNet conditioning of the prompts: states [B, T, cross_attention_dim] (and pooled, for SDXL). */
  async encodeText(prompts: readonly string[]): Promise<PromptConditioning> {
    const { model } = this;
    const session = await this.cached(this.textSessions, prompts.length, () => textEncoderGraph(model, prompts.length, this.opts.precision));
    const out = await session.run(textEncoderFeeds(model, prompts));
    return zeroEmptyPrompts(model, prompts, { states: out.states as Float32Array, pooled: out.pooled as Float32Array | undefined });
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const { model } = this;
    const latent = latentSize(model);
    const n = req.trajectories.length;
    if (req.injection) checkTrajectoryInjection(req.injection, n);
    const { denoise, rowsPerStep, rowsRun } = await this.batchedDenoiser(req);
    if (req.init && req.init.latents.length !== n * latent)
      throw new Error(`generate: init has ${req.init.latents.length} latent values, expected ${n * latent} (one latent per trajectory)`);
    const noise = new Float32Array(n * latent);
    if (!req.init) req.trajectories.forEach((tr, j) => new Rng(tr.seed).fillNormal(noise.subarray(j * latent, (j + 1) * latent)));
    const variation = req.variation;
    if (variation && !req.init) {
      const other = new Rng(variation.seed).fillNormal(new Float32Array(latent));
      for (let j = 0; j < n; j++) noise.set(slerpNoise(noise.subarray(j * latent, (j + 1) * latent), other, variation.strength), j * latent);
    }
    if (variation && req.init && (req.sampler ?? 'ddim') !== 'ddim')
      throw new Error('generate: a variation from init latents needs the ddim sampler (its eta noise)');
    // The last model input / combined output (VP space for every sampler), for previews of the x0 estimate.
    let last: { x: Float32Array; out: Float32Array; t: number } | undefined;
    const preview = async (): Promise<Float32Array> => {
      if (!last) throw new Error('preview: no sampler step has run yet');
      const a = model.schedule.alphaBarAt(last.t);
      const [sa, sb] = [Math.sqrt(a), Math.sqrt(1 - a)];
      const v = model.schedule.config.prediction_type === 'v_prediction';
      const { x, out } = last;
      const est = new Float32Array(x.length);
      for (let k = 0; k < x.length; k++) est[k] = v ? sa * x[k] - sb * out[k] : (x[k] - sb * out[k]) / sa;
      return this.decode(est, n);
    };
    const x0 = await sample({
      sampler: req.sampler ?? 'ddim',
      steps: req.steps,
      schedule: model.schedule,
      noise,
      start: req.init ? { x: req.init.latents, step: req.init.step } : undefined,
      seed: variation && req.init ? variation.seed : (req.trajectories[0]?.seed ?? 0),
      ...(variation && req.init ? { eta: variation.strength } : {}),
      signal: req.signal,
      onStep: req.onStep ? (i, total) => req.onStep!(i, total, preview) : undefined,
      denoise: async (x, t, i) => {
        const combined = await denoise(x, t, i);
        req.adjustOutput?.(x, combined, t, i);
        if (req.onStep) last = { x, out: combined, t };
        return combined;
      },
    });
    return { images: await this.decode(x0, n), rowsPerStep, rowsRun: rowsRun() };
  }

  /**
   * DDIM inversion (src/diffusion/inversion.ts) of images [trajectories, 3, H, W] in [-1, 1], each with
   * its trajectory's terms (the plain model: one term of coefficient 1 on a neutral prompt): the latents
   * at step `toStep` of the DDIM schedule of `steps` steps, to start `generate` from (`init`).
   */
  async invert(req: InvertRequest): Promise<Float32Array> {
    const x0 = await this.model.codec.encode(req.images, req.trajectories.length);
    const { denoise } = await this.batchedDenoiser(req);
    return ddimInvert({
      schedule: this.model.schedule,
      steps: req.steps,
      toStep: req.toStep,
      refine: req.refine,
      x0,
      denoise,
      signal: req.signal,
      onStep: req.onStep,
    });
  }

  private async decode(latents: Float32Array, batch: number): Promise<Float32Array> {
    const images = await this.model.codec.decode(latents, batch);
    for (let i = 0; i < images.length; i++) images[i] = Math.max(-1, Math.min(1, images[i]));
    return images;
  }

  /**
   * The model output of every trajectory: all terms of all trajectories in one UNet batch, summed with
   * their coefficients. A trajectory's terms with the same prompt and gates share one row. Its directions
   * are evaluated in the same batch at the steps `directionAt` says for each; at the others the batch
   * holds no rows of that direction and its last value is reused (or it is left out, 'off'). One batch
   * (and session) per set of directions evaluated together, made the first time a step needs it.
   */
  private async batchedDenoiser(
    req: Pick<GenerateRequest, 'prompts' | 'trajectories' | 'adapters' | 'directionAt' | 'injection'>,
  ): Promise<{ denoise: Denoiser; rowsPerStep: number; rowsRun: () => number }> {
    const { model } = this;
    const latent = latentSize(model);
    const adapters = req.adapters ?? [];
    for (const tr of req.trajectories) {
      for (const term of [...tr.terms, ...Object.values(tr.directions ?? {}).flat()]) {
        for (const name of Object.keys(term.gates ?? {})) {
          if (!adapters.some((a) => a.name === name)) throw new Error(`generate: a term gates adapter '${name}', which the request does not give`);
        }
      }
    }
    const conditioning = await this.encodeText(req.prompts);
    const names = [
      ...new Set(req.trajectories.flatMap((tr) => Object.entries(tr.directions ?? {}).flatMap(([name, terms]) => (terms.length ? [name] : [])))),
    ].sort();
    const plans = new Map<string, Promise<BatchPlan>>();
    const sessionAdapters = adaptersBySize(req, names);
    const planOf = (evaluated: readonly string[]) => {
      const key = evaluated.join(',');
      let plan = plans.get(key);
      if (!plan) plans.set(key, (plan = this.batchPlan(req, conditioning, evaluated, sessionAdapters)));
      return plan;
    };
    const n = req.trajectories.length;
    // Per direction name: its last evaluated value for every trajectory [n, latent].
    const last = new Map<string, Float32Array>();
    let rowsRun = 0;
    const denoise: Denoiser = async (x, t, i) => {
      const uses = names.map((name) => {
        const use = req.directionAt?.(i, name) ?? 'evaluate';
        return use === 'reuse' && !last.has(name) ? 'evaluate' : use;
      });
      const evaluated = names.filter((_, k) => uses[k] === 'evaluate');
      const plan = await planOf(evaluated);
      const out = await plan.run(x, t, req.injection?.mixAt(i) ?? 0);
      rowsRun += plan.rows;
      const sum = (dst: Float32Array, terms: readonly Term[], j: number) => {
        for (const term of terms) addScaled(dst.subarray(j * latent, (j + 1) * latent), out[plan.rowOf(j, term)], term.coef);
      };
      const combined = new Float32Array(n * latent);
      req.trajectories.forEach((tr, j) => sum(combined, tr.terms, j));
      for (const name of evaluated) {
        const value = new Float32Array(n * latent);
        req.trajectories.forEach((tr, j) => sum(value, tr.directions?.[name] ?? [], j));
        last.set(name, value);
      }
      names.forEach((name, k) => {
        if (uses[k] !== 'off') addScaled(combined, last.get(name)!, 1);
      });
      return combined;
    };
    return { denoise, rowsPerStep: batchRows(req, names).rows.length, rowsRun: () => rowsRun };
  }

  /**
   * One UNet batch over the distinct (prompt, gates) rows of every trajectory's terms and the terms of
   * its `evaluated` directions, with the adapters `sessionAdapters` gives for its number of rows.
   */
  private async batchPlan(
    req: Pick<GenerateRequest, 'trajectories' | 'adapters' | 'injection'>,
    conditioning: PromptConditioning,
    evaluated: readonly string[],
    sessionAdapters: ReadonlyMap<number, ReadonlySet<string>>,
  ): Promise<BatchPlan> {
    const { model } = this;
    const latent = latentSize(model);
    const { rows, index, keyOf } = batchRows(req, evaluated);
    const names = sessionAdapters.get(rows.length);
    const adapters = (req.adapters ?? []).filter((a) => names?.has(a.name) || rows.some((r) => (r.gates[a.name] ?? 0) !== 0));
    const cond = conditionFeeds(
      model,
      conditioning,
      rows.map((r) => r.prompt),
    );
    const gates: Record<string, Float32Array> = {};
    for (const a of adapters) gates[`lora_gate.${a.name}`] = Float32Array.from(rows, (r) => r.gates[a.name] ?? 0);
    const adapterParams = Object.assign({}, ...adapters.map((a) => a.params)) as Record<string, Float32Array>;
    const session = await this.unetSession(rows.length, adapters, req.injection);
    const sampleIn = new Float32Array(rows.length * latent);
    const timestep = new Float32Array(rows.length);
    // Injection: each row's source row (the first term's row of its trajectory's source; itself when none).
    const inj = req.injection;
    const source = inj
      ? BigInt64Array.from(rows, (r, i) => {
          const from = inj.sources[r.traj];
          return BigInt(from === null || from === undefined ? i : index.get(keyOf(from, req.trajectories[from].terms[0]))!);
        })
      : undefined;
    const mix = new Float32Array(rows.length);
    return {
      rows: rows.length,
      rowOf: (j, term) => index.get(keyOf(j, term))!,
      run: async (x, t, injectMix) => {
        rows.forEach((r, i) => sampleIn.set(x.subarray(r.traj * latent, (r.traj + 1) * latent), i * latent));
        timestep.fill(t);
        if (source) {
          if (!(injectMix >= 0 && injectMix <= 1)) throw new Error(`generate: injection mix must be in [0, 1], got ${injectMix}`);
          source.forEach((s, i) => (mix[i] = Number(s) === i ? 0 : injectMix));
        }
        const injection: Record<string, Feed> = source ? { [INJECT_SOURCE_INPUT]: source, [INJECT_MIX_INPUT]: mix } : {};
        const out = (await session.run({ sample: sampleIn, timestep, ...cond, ...gates, ...adapterParams, ...injection })).out as Float32Array;
        return rows.map((_, i) => out.subarray(i * latent, (i + 1) * latent));
      },
    };
  }

  private unetSession(batch: number, adapters: readonly AdapterWeights[], injection?: FeatureInjectionPoints): Promise<GraphSession> {
    const { model } = this;
    const key = `${batch}|${adapters.map((a) => `${a.name}:${a.rank}${a.convs ? ':convs' : ''}`).join(',')}${injection ? `|inject:${injectionKey(injection)}` : ''}`;
    return this.cached(this.unetSessions, key, () => ({
      out: unetGraph(
        model,
        batch,
        adapters.map((a) => ({ name: a.name, rank: a.rank, convs: a.convs ?? false })),
        this.opts.precision,
        injection,
      ),
    }));
  }

  private cached<K>(cache: Map<K, Promise<GraphSession>>, key: K, build: () => Record<string, Tensor>): Promise<GraphSession> {
    let s = cache.get(key);
    if (!s) {
      const outputs = build();
      s = GraphSession.create(emitOnnx({ outputs, weights: (n) => this.model.weight(n) }), this.sessionOptions);
      cache.set(key, s);
      s.catch(() => cache.delete(key));
    }
    return s;
  }

  async release(): Promise<void> {
    for (const s of [...this.textSessions.values(), ...this.unetSessions.values()]) await (await s).release();
    this.textSessions.clear();
    this.unetSessions.clear();
  }
}

/** One UNet batch of a request: its rows, the row of a trajectory's term, and a run giving every row's output. */
interface BatchPlan {
  rows: number;
  rowOf: (trajectory: number, term: Term) => number;
  /** `injectMix`: the mix of the request's feature injection at this step for the injected rows (0: off). */
  run: (x: Float32Array, t: number, injectMix: number) => Promise<Float32Array[]>;
}

/**
 * The distinct (trajectory, prompt, gates) rows of the trajectories' terms and of their `evaluated`
 * directions' terms, in order of first use; `index` maps a term's key to its row.
 */
function batchRows(req: Pick<GenerateRequest, 'trajectories'>, evaluated: readonly string[]) {
  const rows: { traj: number; prompt: number; gates: Record<string, number> }[] = [];
  const index = new Map<string, number>();
  const keyOf = (j: number, term: Term) =>
    `${j}|${term.prompt}|${Object.entries(term.gates ?? {})
      .filter(([, g]) => g !== 0)
      .sort(([p], [q]) => (p < q ? -1 : 1))
      .map(([a, g]) => `${a}=${g}`)
      .join(',')}`;
  req.trajectories.forEach((tr, j) => {
    for (const term of [...tr.terms, ...evaluated.flatMap((name) => tr.directions?.[name] ?? [])]) {
      const key = keyOf(j, term);
      if (!index.has(key)) index.set(key, rows.push({ traj: j, prompt: term.prompt, gates: term.gates ?? {} }) - 1);
    }
  });
  return { rows, index, keyOf };
}

/**
 * Per number of rows, the adapters gated by the batches of that size a request can run (one per set
 * of its directions evaluated together). Batches of one size share one session, with these adapters
 * (gate 0 on rows that do not use them): a style-guided draw's steps that evaluate classifier-free
 * guidance and those that evaluate the style direction run 2 rows each, and two sessions taking turns,
 * each with its own copy of the UNet's weights, cost more than the adapter's few nodes in every step
 * (npm run bench:pair, three alternated pairs of runs: 1.21-1.24x a plain draw in one session against
 * 1.25-1.30x in two).
 */
function adaptersBySize(req: Pick<GenerateRequest, 'trajectories'>, names: readonly string[]): Map<number, Set<string>> {
  const bySize = new Map<number, Set<string>>();
  // Every subset of the directions (a request has one or two: classifier-free guidance, the style).
  for (let mask = 0; mask < 2 ** Math.min(names.length, 6); mask++) {
    const { rows } = batchRows(
      req,
      names.filter((_, k) => mask & (1 << k)),
    );
    let set = bySize.get(rows.length);
    if (!set) bySize.set(rows.length, (set = new Set()));
    for (const r of rows) for (const [a, g] of Object.entries(r.gates)) if (g !== 0) set.add(a);
  }
  return bySize;
}

function addScaled(dst: Float32Array, src: Float32Array, coef: number): void {
  for (let k = 0; k < dst.length; k++) dst[k] += coef * src[k];
}

const latentSize = (model: TextToImageModel): number => model.codec.latentShape.reduce((a, b) => a * b, 1);

/**
 * The denoiser graph the pipeline runs: the model's UNet over `rows` batch rows, frozen weights, with
 * the given LoRA adapters as fed parameters (inputs sample, timestep, the conditioning, lora_gate.*),
 * and with `injection` the feature injection's inputs (inject_source, inject_mix).
 */
export function unetGraph(
  model: TextToImageModel,
  rows: number,
  lora: readonly LoraAdapter[] = [],
  precision: Precision = 'fp32',
  injection?: FeatureInjectionPoints,
): Tensor {
  const g = new Graph({ paramMode: (n) => (n.includes('.lora_') ? 'fed' : 'frozen') });
  return modelUnet(g, model, rows, { lora, precision, injection });
}

/** Checks a request's injection against its trajectories (a clear error for each). */
function checkTrajectoryInjection(inj: TrajectoryInjection, trajectories: number): void {
  checkInjectionPoints(inj);
  if (inj.sources.length !== trajectories) throw new Error(`generate: injection has ${inj.sources.length} sources for ${trajectories} trajectories`);
  inj.sources.forEach((s, j) => {
    if (s === null) return;
    if (!Number.isInteger(s) || s < 0 || s >= trajectories) throw new Error(`generate: injection source ${s} of trajectory ${j} is not a trajectory`);
    if (s === j) throw new Error(`generate: trajectory ${j} is its own injection source`);
  });
}
