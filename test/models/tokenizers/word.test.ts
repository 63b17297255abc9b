import { describe, expect, it } from 'vitest';
import { BOS_ID, EOS_ID, FIXED_TOKENS, PAD_ID, S_TOKENS, splitWords, UNK_ID, V_TOKENS, WordTokenizer } from '../../../src/models/tokenizers/word.ts';

const captions = ['dog face', 'Cat face', 'grinning face with big eyes', 'hot-dog', 'dog', '1st place medal', 'café'];
const tok = WordTokenizer.fromCaptions(captions);

describe('WordTokenizer', () => {
  it('fixes the special and reserved ids', () => {
    expect(tok.tokens.slice(0, 4)).toEqual(['<pad>', '<bos>', '<eos>', '<unk>']);
    expect([PAD_ID, BOS_ID, EOS_ID, UNK_ID]).toEqual([0, 1, 2, 3]);
    expect(tok.id('<v1>')).toBe(4);
    expect(tok.id('<v16>')).toBe(19);
    expect(tok.id('<s1>')).toBe(20);
    expect(tok.id('<s16>')).toBe(35);
    expect(V_TOKENS).toHaveLength(16);
    expect(S_TOKENS).toHaveLength(16);
  });

  it('orders words by frequency, then alphabetically', () => {
    // face x3, dog x3; then the singletons alphabetically (code point order)
    expect(tok.tokens.slice(FIXED_TOKENS.length)).toEqual(['dog', 'face', '1st', 'big', 'café', 'cat', 'eyes', 'grinning', 'hot', 'medal', 'place', 'with']);
    expect(tok.vocabSize).toBe(FIXED_TOKENS.length + 12);
  });

  it('is deterministic: caption order does not matter', () => {
    const again = WordTokenizer.fromCaptions([...captions].reverse());
    expect(again.tokens).toEqual(tok.tokens);
    expect(WordTokenizer.fromCaptions(captions, { minFrequency: 2 }).tokens.slice(FIXED_TOKENS.length)).toEqual(['dog', 'face']);
    expect(WordTokenizer.fromCaptions(captions, { maxWords: 3 }).tokens.slice(FIXED_TOKENS.length)).toEqual(['dog', 'face', '1st']);
  });

  it('splits lowercase on non-alphanumerics and keeps reserved tokens whole', () => {
    expect(splitWords('A Dog-Face, <V1> in <s2> style!')).toEqual(['a', 'dog', 'face', '<v1>', 'in', '<s2>', 'style']);
    expect(splitWords('dog<v16>face')).toEqual(['dog', '<v16>', 'face']);
    expect(splitWords('<v17> <s0> <pad> <unk>')).toEqual(['v17', 's0', 'pad', 'unk']); // not reserved tokens
  });

  it('encodes with bos/eos and padding, and decodes back', () => {
    const ids = tok.encode('Dog face <v1>', 8);
    expect(ids).toEqual([BOS_ID, tok.id('dog'), tok.id('face'), tok.id('<v1>'), EOS_ID, PAD_ID, PAD_ID, PAD_ID]);
    expect(tok.decode(ids)).toBe('dog face <v1>');
    expect(tok.encode(tok.decode(ids), 8)).toEqual(ids);
    expect(tok.decode(ids.map(BigInt))).toBe('dog face <v1>'); // int64 tensors
  });

  it('maps unknown words to <unk>', () => {
    const ids = tok.encode('purple dog', 6);
    expect(ids).toEqual([BOS_ID, UNK_ID, tok.id('dog'), EOS_ID, PAD_ID, PAD_ID]);
    expect(tok.decode(ids)).toBe('<unk> dog');
  });

  it('truncates: keeps bos, cuts the words, ends with eos', () => {
    const ids = tok.encode('grinning face with big eyes', 4);
    expect(ids).toEqual([BOS_ID, tok.id('grinning'), tok.id('face'), EOS_ID]);
    expect(tok.truncates('grinning face with big eyes', 4)).toBe(true);
    expect(tok.truncates('grinning face', 4)).toBe(false);
    expect(tok.encode('', 2)).toEqual([BOS_ID, EOS_ID]);
    expect(() => tok.encode('dog', 1)).toThrow(/contextLength/);
  });

  it('never produces reserved tokens from ordinary words', () => {
    const withLookalikes = WordTokenizer.fromCaptions(['v1 s1 <v1> style <s3> v', 'V1']);
    const words = withLookalikes.tokens.slice(FIXED_TOKENS.length);
    expect(words).toEqual(['v1', 's1', 'style', 'v']); // the reserved tokens in captions are not counted as words
    const reserved = new Set([...V_TOKENS, ...S_TOKENS].map((t) => withLookalikes.id(t)));
    for (const text of ['v1 s1 v s', 'V 1', 'v-1', '<v 1>', '< s1 >', 'vs1']) {
      for (const id of withLookalikes.encode(text, 16)) expect(reserved.has(id)).toBe(false);
    }
  });

  it('round-trips through vocab.json', () => {
    const text = JSON.stringify(tok.toJSON());
    const back = WordTokenizer.fromJSON(text);
    expect(back.tokens).toEqual(tok.tokens);
    expect(back.encode('hot dog <s3>', 10)).toEqual(tok.encode('hot dog <s3>', 10));
  });

  it('rejects broken vocab files with a reason', () => {
    const good = tok.toJSON();
    expect(() => WordTokenizer.fromJSON({ ...good, tokens: good.tokens.slice(1) })).toThrow(/token 0 should be "<pad>"/);
    expect(() => WordTokenizer.fromJSON({ ...good, tokens: [...good.tokens, 'dog'] })).toThrow(/appears twice/);
    expect(() => WordTokenizer.fromJSON({ ...good, tokens: [...good.tokens, 'Hot Dog'] })).toThrow(/not a lowercase word/);
    expect(() => WordTokenizer.fromJSON('{"tokens": []}')).toThrow(/"type": "word"/);
    expect(() => tok.decode([tok.vocabSize])).toThrow(/outside the vocabulary/);
  });
});
