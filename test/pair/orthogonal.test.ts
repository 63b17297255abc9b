import { describe, expect, it } from 'vitest';
import { householderQ, orthogonalDownProjections } from '../../src/pair/orthogonal.ts';

describe('orthogonal LoRA down-projections', () => {
  it('Householder Q is orthogonal and Q R reproduces the matrix', () => {
    const d = 9;
    const a = Float64Array.from({ length: d * d }, (_, i) => Math.sin(i * 1.7) + 0.3 * Math.cos(i));
    const q = householderQ(a, d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += q[i * d + k] * q[j * d + k];
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
    // R = Q^T A must be upper triangular.
    for (let i = 0; i < d; i++)
      for (let j = 0; j < i; j++) {
        let r = 0;
        for (let k = 0; k < d; k++) r += q[k * d + i] * a[k * d + j];
        expect(Math.abs(r)).toBeLessThan(1e-12);
      }
  });

  it('content and style rows are orthonormal and mutually orthogonal; deterministic per seed', () => {
    const { content, style } = orthogonalDownProjections(32, 8, 3);
    const rows = [...Array(8).keys()]
      .map((i) => content.subarray(i * 32, (i + 1) * 32))
      .concat([...Array(8).keys()].map((i) => style.subarray(i * 32, (i + 1) * 32)));
    for (let i = 0; i < 16; i++)
      for (let j = 0; j < 16; j++) {
        const dot = rows[i].reduce((s, v, k) => s + v * rows[j][k], 0);
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-5);
      }
    expect(orthogonalDownProjections(32, 8, 3).content).toEqual(content);
    expect(orthogonalDownProjections(32, 8, 4).content).not.toEqual(content);
  });

  it('thin QR of a d x k matrix: orthonormal columns, R = Q^T A upper triangular, the same columns as the full Q', () => {
    const d = 11;
    const k = 4;
    const full = Float64Array.from({ length: d * d }, (_, i) => Math.sin(i * 0.91) + 0.2 * Math.cos(3 * i));
    const thinIn = Float64Array.from({ length: d * k }, (_, i) => full[Math.floor(i / k) * d + (i % k)]);
    const q = householderQ(thinIn, d, k);
    const qFull = householderQ(full, d);
    for (let i = 0; i < d; i++) for (let j = 0; j < k; j++) expect(Math.abs(q[i * k + j] - qFull[i * d + j])).toBeLessThan(1e-12);
    for (let a = 0; a < k; a++)
      for (let b = 0; b < k; b++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[i * k + a] * q[i * k + b];
        expect(Math.abs(dot - (a === b ? 1 : 0))).toBeLessThan(1e-12);
      }
    expect(() => householderQ(thinIn, d, d)).toThrow(/11 x 11/);
  });

  it("gives orthogonal content and style rows at a convolution adapter's width (d = 256 channels x 3 x 3)", () => {
    const { content, style } = orthogonalDownProjections(2304, 8, 0);
    expect(content.length).toBe(8 * 2304);
    let dot = 0;
    for (let t = 0; t < 2304; t++) dot += content[t] * style[t];
    expect(Math.abs(dot)).toBeLessThan(1e-5);
  });

  it('refuses a rank that does not fit twice into the width', () => {
    expect(() => orthogonalDownProjections(12, 7, 0)).toThrow(/2\*rank <= input width/);
  });
});
