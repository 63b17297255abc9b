/** Guard that stops training as soon as the loss stops being a finite number. */

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  readonly loss: number;
  readonly step: number;

  constructor(loss: number, step: number) {
    super(
      `loss became ${loss} at step ${step}; lower the learning rate or enable gradient clipping, ` +
        'check the inputs for NaN/Inf, then resume from the last checkpoint',
    );
    this.loss = loss;
    this.step = step;
  }
}

/** Throw NonFiniteLossError if `loss` is NaN or ±Infinity. */
export function assertFiniteLoss(loss: number, step: number): void {
  if (!Number.isFinite(loss)) throw new NonFiniteLossError(loss, step);
}
