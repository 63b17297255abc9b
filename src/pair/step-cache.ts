/**
 * A compiled training step kept between trainings of one process. The bot's engine thread keeps its
 * model loaded between jobs; compiling the pair-training step (autodiff, ONNX emission, onnxruntime's
 * session creation and graph optimisation) costs seconds on the embedded model, about as much as a
 * third of its training steps, and gives the same session for every training of the same model,
 * rank and options. The cache holds one step (the latest key): a training with other options
 * compiles its own and replaces it, releasing the old one once no training uses it any more.
 *
 * Which models: the step's session holds a copy of the model's weights and onnxruntime's arena of the
 * last step's activations; callers keep it only for small models (see keepsStep).
 */
import type { StepFunction } from '../train/step.ts';

/** Frozen weights up to this size (bytes) keep their compiled step between trainings. */
export const KEEP_STEP_MAX_WEIGHT_BYTES = 256 * 2 ** 20;

/** Whether a training graph over `weightBytes` of frozen weights keeps its step (the embedded model: yes; Stable Diffusion: no). */
export const keepsStep = (weightBytes: number): boolean => weightBytes <= KEEP_STEP_MAX_WEIGHT_BYTES;

interface Entry {
  key: string;
  step: Promise<StepFunction>;
  users: number;
  /** Replaced while in use: released when its last user is done. */
  retired: boolean;
}

/** A step lent by the cache: `done()` when the training no longer runs it. */
export interface LentStep {
  step: StepFunction;
  /** True when the step was compiled for this training (false: reused). */
  compiled: boolean;
  done(): Promise<void>;
}

export class TrainingStepCache {
  private entry: Entry | undefined;

  /** The step compiled for `key` (compiled by `compile` when the cache holds another key or none). */
  async lend(key: string, compile: () => Promise<StepFunction>): Promise<LentStep> {
    let e = this.entry;
    const compiled = !e || e.key !== key;
    if (compiled) {
      const old = this.entry;
      e = { key, step: compile(), users: 0, retired: false };
      this.entry = e;
      if (old) await this.retire(old);
    }
    const entry = e!;
    entry.users++;
    let step: StepFunction;
    try {
      step = await entry.step;
    } catch (err) {
      entry.users--;
      if (this.entry === entry) this.entry = undefined;
      throw err;
    }
    let returned = false;
    return {
      step,
      compiled,
      done: async () => {
        if (returned) return;
        returned = true;
        entry.users--;
        if (entry.retired && entry.users === 0) await step.release();
      },
    };
  }

  /** Releases the held step (at once, or when the trainings using it are done). */
  async release(): Promise<void> {
    const e = this.entry;
    this.entry = undefined;
    if (e) await this.retire(e);
  }

  private async retire(e: Entry): Promise<void> {
    e.retired = true;
    if (e.users > 0) return;
    const step = await e.step.catch(() => undefined);
    await step?.release();
  }
}
