import { describe, expect, it } from 'vitest';
import { NonFiniteLossError, assertFiniteLoss } from '../../src/train/nan.ts';

describe('assertFiniteLoss', () => {
  it('passes finite losses', () => {
    expect(() => assertFiniteLoss(0.123, 5)).not.toThrow();
    expect(() => assertFiniteLoss(0, 0)).not.toThrow();
  });

  it('names the step and suggests a fix', () => {
    let err: unknown;
    try {
      assertFiniteLoss(NaN, 37);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as NonFiniteLossError).step).toBe(37);
    expect((err as Error).message).toMatch(/^loss became NaN at step 37; lower the learning rate/);
    expect(() => assertFiniteLoss(Infinity, 3)).toThrow(/loss became Infinity at step 3/);
    expect(() => assertFiniteLoss(-Infinity, 4)).toThrow(/loss became -Infinity at step 4/);
  });
});
