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
import { emitOnnx, Graph, GraphSession, type Tensor } from '../graph/index.ts';
import { conditionFeeds, modelUnet, textEncoderFeeds, textEncoderGraph, zeroEmptyPrompts, type PromptConditioning } from './conditioning.ts';
import type { LoraAdapter } from '../models/lora.ts';
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
}

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
  /** UNet batch rows per step. */
  rowsPerStep: number;
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

  constructor(
    readonly model: TextToImageModel,
    private readonly opts: PipelineOptions = {},
  ) {}

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
    const { denoise, rowsPerStep } = await this.batchedDenoiser(req);
    const n = req.trajectories.length;
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
        if (req.onStep) last = { x, out: combined, t };
        return combined;
      },
    });
    return { images: await this.decode(x0, n), rowsPerStep };
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

  /** The model output of every trajectory: all terms of all trajectories in one UNet batch, summed with their coefficients. */
  private async batchedDenoiser(req: Pick<GenerateRequest, 'prompts' | 'trajectories' | 'adapters'>): Promise<{ denoise: Denoiser; rowsPerStep: number }> {
    const { model } = this;
    const latent = latentSize(model);
    const rows = req.trajectories.flatMap((tr, j) => tr.terms.map((term) => ({ traj: j, term })));
    const adapters = req.adapters ?? [];
    for (const r of rows) {
      for (const name of Object.keys(r.term.gates ?? {})) {
        if (!adapters.some((a) => a.name === name)) throw new Error(`generate: a term gates adapter '${name}', which the request does not give`);
      }
    }
    const cond = conditionFeeds(
      model,
      await this.encodeText(req.prompts),
      rows.map((r) => r.term.prompt),
    );
    const gates: Record<string, Float32Array> = {};
    for (const a of adapters) gates[`lora_gate.${a.name}`] = Float32Array.from(rows, (r) => r.term.gates?.[a.name] ?? 0);
    const adapterParams = Object.assign({}, ...adapters.map((a) => a.params)) as Record<string, Float32Array>;
    const session = await this.unetSession(rows.length, adapters);
    const sampleIn = new Float32Array(rows.length * latent);
    const timestep = new Float32Array(rows.length);
    const denoise: Denoiser = async (x, t) => {
      rows.forEach((r, i) => sampleIn.set(x.subarray(r.traj * latent, (r.traj + 1) * latent), i * latent));
      timestep.fill(t);
      const out = (await session.run({ sample: sampleIn, timestep, ...cond, ...gates, ...adapterParams })).out as Float32Array;
      const combined = new Float32Array(x.length);
      rows.forEach((r, i) => {
        const dst = combined.subarray(r.traj * latent, (r.traj + 1) * latent);
        const src = out.subarray(i * latent, (i + 1) * latent);
        for (let k = 0; k < latent; k++) dst[k] += r.term.coef * src[k];
      });
      return combined;
    };
    return { denoise, rowsPerStep: rows.length };
  }

  private unetSession(batch: number, adapters: readonly AdapterWeights[]): Promise<GraphSession> {
    const { model } = this;
    const key = `${batch}|${adapters.map((a) => `${a.name}:${a.rank}${a.convs ? ':convs' : ''}`).join(',')}`;
    return this.cached(this.unetSessions, key, () => ({
      out: unetGraph(
        model,
        batch,
        adapters.map((a) => ({ name: a.name, rank: a.rank, convs: a.convs ?? false })),
        this.opts.precision,
      ),
    }));
  }

  private cached<K>(cache: Map<K, Promise<GraphSession>>, key: K, build: () => Record<string, Tensor>): Promise<GraphSession> {
    let s = cache.get(key);
    if (!s) {
      const outputs = build();
      s = GraphSession.create(emitOnnx({ outputs, weights: (n) => this.model.weight(n) }), this.opts);
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

const latentSize = (model: TextToImageModel): number => model.codec.latentShape.reduce((a, b) => a * b, 1);

/**
 * The denoiser graph the pipeline runs: the model's UNet over `rows` batch rows, frozen weights, with
 * the given LoRA adapters as fed parameters (inputs sample, timestep, the conditioning, lora_gate.*).
 */
export function unetGraph(model: TextToImageModel, rows: number, lora: readonly LoraAdapter[] = [], precision: Precision = 'fp32'): Tensor {
  const g = new Graph({ paramMode: (n) => (n.includes('.lora_') ? 'fed' : 'frozen') });
  return modelUnet(g, model, rows, { lora, precision });
}
