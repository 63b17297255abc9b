import { rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BYTE_TO_CHAR, cleanText, ClipTokenizer } from '../../../src/models/tokenizers/clip-bpe.ts';
import { tinyClipVocab, TINY_MERGES, writeTinyClipTokenizerDir } from '../../../testing/tiny-clip-vocab.ts';

const vocab = tinyClipVocab();
const tok = new ClipTokenizer(vocab, ['#version: 0.2', ...TINY_MERGES]);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('CLIP BPE tokenizer (hand-made vocabulary)', () => {
  it('has the reference byte table: 256 distinct characters, printable bytes map to themselves', () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(BYTE_TO_CHAR[0x41]).toBe('A');
    expect(BYTE_TO_CHAR[0x20]).toBe('\u0120'); // space -> 'Ġ'
    expect(BYTE_TO_CHAR[0]).toBe('\u0100');
    expect(BYTE_TO_CHAR[0xad]).toBe('\u0143'); // soft hyphen is not printable: 256 + 67
  });

  it('cleans like CLIP: whitespace runs, control characters, case, NFC; keeps ZWJ and CJK runs', () => {
    expect(cleanText('  A  Photo\tof\n\nthe\u0007 Cat\ufeff ')).toBe('a photo of the cat');
    expect(cleanText('猫の写真')).toBe('猫の写真');
    expect(cleanText('cafe\u0301')).toBe('café');
    expect(cleanText('👩\u200d🎨')).toBe('👩\u200d🎨');
  });

  it('merges by rank, lowest first, suffixing the last character with </w>', () => {
    expect(tok.tokenize('Hello')).toEqual(['hello</w>']);
    expect(tok.tokenize('hell')).toEqual(['he', 'l', 'l</w>']); // 'l l' needs two plain l's; the last one is 'l</w>'
    expect(tok.tokenize('a photo of a cat and a dog')).toEqual(['a</w>', 'photo</w>', 'o', 'f</w>', 'a</w>', 'cat</w>', 'and</w>', 'a</w>', 'dog</w>']);
  });

  it("splits with CLIP's pattern: contractions, single digits, punctuation runs, special tokens", () => {
    expect(tok.tokenize("cat's")).toEqual(['cat</w>', "'s</w>"]);
    expect(tok.tokenize('2024')).toEqual(['2</w>', '0</w>', '2</w>', '4</w>']);
    expect(tok.tokenize('dog!!?')).toEqual(['dog</w>', '!', '!', '?</w>']);
    expect(tok.tokenize('s*')).toEqual(['s</w>', '*</w>']); // a letter run and an other-character run: two pieces
    expect(tok.tokenIds('<|startoftext|>cat<|endoftext|>')).toEqual([vocab['<|startoftext|>'], vocab['cat</w>'], vocab['<|endoftext|>']]);
  });

  it('encodes UTF-8 bytes as characters: é is C3 A9', () => {
    expect(tok.tokenize('café')).toEqual(['ca', 'f', '\u00c3', '\u00a9</w>']);
  });

  it('encode(): start, ids, end, padded with <|endoftext|> to 77; long prompts cut to 75 tokens', () => {
    const ids = tok.encode('a cat');
    expect(ids.length).toBe(77);
    expect(ids.slice(0, 4)).toEqual([vocab['<|startoftext|>'], vocab['a</w>'], vocab['cat</w>'], vocab['<|endoftext|>']]);
    expect(ids.slice(4).every((i) => i === vocab['<|endoftext|>'])).toBe(true);
    const long = tok.encode(Array(100).fill('cat').join(' '));
    expect(long.length).toBe(77);
    expect(long[75]).toBe(vocab['cat</w>']);
    expect(long[76]).toBe(vocab['<|endoftext|>']);
    expect(tok.truncates(Array(76).fill('cat').join(' '))).toBe(true);
    expect(tok.truncates(Array(75).fill('cat').join(' '))).toBe(false);
    expect(tok.encode('dog', 5)).toEqual([vocab['<|startoftext|>'], vocab['dog</w>'], vocab['<|endoftext|>'], vocab['<|endoftext|>'], vocab['<|endoftext|>']]);
  });

  it('decode() inverts encode() up to cleaning (pieces end words)', () => {
    for (const text of ['a photo of a cat and a dog', 'hello world', 'café 2', '猫の写真', '👩\u200d🎨'])
      expect(tok.decode(tok.encode(text))).toBe(cleanText(text));
  });

  it('reads a tokenizer/ folder (vocab.json + merges.txt) and the pad token of special_tokens_map.json', () => {
    const sd15 = writeTinyClipTokenizerDir();
    const sd2 = writeTinyClipTokenizerDir('!');
    dirs.push(sd15, sd2);
    const a = ClipTokenizer.fromDir(sd15);
    expect(a.encode('hello cat', 8)).toEqual(tok.encode('hello cat', 8));
    const b = ClipTokenizer.fromDir(sd2);
    expect(b.padId).toBe(vocab['!']);
    expect(b.encode('cat', 5).slice(3)).toEqual([vocab['!'], vocab['!']]);
  });

  it('reads tokenizer.json (model.vocab, model.merges as strings or pairs, added_tokens) with the same ids', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairstyle-clip-json-'));
    dirs.push(dir);
    const { '<|startoftext|>': bos, '<|endoftext|>': eos, ...plain } = vocab;
    writeFileSync(
      join(dir, 'tokenizer.json'),
      JSON.stringify({
        added_tokens: [
          { id: bos, content: '<|startoftext|>' },
          { id: eos, content: '<|endoftext|>' },
        ],
        model: { type: 'BPE', end_of_word_suffix: '</w>', vocab: plain, merges: TINY_MERGES.map((m) => m.split(' ')) },
      }),
    );
    expect(ClipTokenizer.fromDir(dir).encode('a photo of a dog', 12)).toEqual(tok.encode('a photo of a dog', 12));
  });

  it('says what is missing', () => {
    expect(() => new ClipTokenizer({ a: 0 }, [])).toThrow(/no start token "<\|startoftext\|>"/);
    const empty = mkdtempSync(join(tmpdir(), 'pairstyle-clip-none-'));
    dirs.push(empty);
    expect(() => ClipTokenizer.fromDir(empty)).toThrow(/no CLIP tokenizer files/);
  });
});
