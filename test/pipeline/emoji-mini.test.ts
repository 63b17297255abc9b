import { describe, expect, it } from 'vitest';
import { TOKEN_EMBEDDING, buildEmojiTokenizer, remapTokenEmbedding } from '../../src/pipeline/emoji-mini.ts';

describe('remapTokenEmbedding', () => {
  const from = buildEmojiTokenizer([{ subject: 'cat face', keywords: ['kitten'] }]);
  const to = buildEmojiTokenizer(
    [
      { subject: 'cat', keywords: ['kitten', 'cat face'] },
      { subject: 'thin line icon', keywords: [] },
    ],
    ['noto style', 'thin line icon'],
  );
  const width = 3;
  const oldRows = Float32Array.from({ length: from.vocabSize * width }, (_, i) => i);

  it('keeps the vectors of the words both vocabularies know, by word, and starts new words at the mean', () => {
    const params = { [TOKEN_EMBEDDING]: oldRows.slice(), other: new Float32Array(2) };
    const r = remapTokenEmbedding(params, from, to);
    const out = params[TOKEN_EMBEDDING]!;
    expect(out.length).toBe(to.vocabSize * width);
    const row = (a: Float32Array, id: number) => Array.from(a.subarray(id * width, (id + 1) * width));
    for (const word of ['cat', 'kitten', 'face', '<s1>', '<pad>']) expect(row(out, to.id(word)!)).toEqual(row(oldRows, from.id(word)!));
    const mean = [0, 1, 2].map((k) => oldRows.filter((_, i) => i % width === k).reduce((a, b) => a + b, 0) / from.vocabSize);
    for (const [a, b] of row(out, to.id('thin')!).map((v, k) => [v, mean[k]!])) expect(a).toBeCloseTo(b!, 4);
    expect(r!.kept).toBe(to.tokens.filter((t) => from.id(t) !== undefined).length);
    expect(r!.kept).toBeLessThan(to.vocabSize);
  });

  it('leaves an unchanged vocabulary alone and refuses an embedding of the wrong size', () => {
    const params = { [TOKEN_EMBEDDING]: oldRows.slice() };
    expect(remapTokenEmbedding(params, from, from)).toBeNull();
    expect(params[TOKEN_EMBEDDING]).toEqual(oldRows);
    expect(() => remapTokenEmbedding({ [TOKEN_EMBEDDING]: new Float32Array(7) }, from, to)).toThrow(/does not match/);
  });
});
