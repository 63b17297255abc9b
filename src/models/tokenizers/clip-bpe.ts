/**
 * CLIP's byte-level BPE tokenizer (openai/CLIP simple_tokenizer.py; transformers' CLIPTokenizer), read
 * from a checkpoint's tokenizer/ files: vocab.json + merges.txt (what SD 1.x/2.x ship), or
 * tokenizer.json. Same ids as the reference for the same files:
 *   1. clean as the original CLIP tokenizer that SD's text encoder was trained with (clip-clean.ts:
 *      ftfy's fixes less its mojibake repair, HTML unescaped twice, Python's whitespace runs -> one
 *      space, trimmed, lowercased). (transformers' slow CLIPTokenizer without ftfy installed also puts
 *      spaces around CJK ideographs and drops every C* character, ZWJ included; we follow the original.);
 *   2. split with CLIP's pattern: <|startoftext|>, <|endoftext|>, 's 't 're 've 'm 'll 'd, letter
 *      runs, single digits, runs of other non-space characters;
 *   3. each piece as bytes mapped to printable characters (GPT-2's bytes_to_unicode), its last
 *      character suffixed '</w>', then merged pair by pair, lowest merge rank first;
 *   4. encode(): <|startoftext|> + ids (cut to contextLength - 2) + <|endoftext|>, padded with the pad
 *      token (SD 1.x: <|endoftext|>; SD 2.x: "!") to contextLength.
 *
 * @huggingface/tokenizers (pure JS) was considered: it reads only tokenizer.json, which SD's
 * tokenizer/ folders do not have, so this file reads vocab.json + merges.txt itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanText } from './clip-clean.ts';

export { cleanText };

export const CLIP_BOS = '<|startoftext|>';
export const CLIP_EOS = '<|endoftext|>';
const END_OF_WORD = '</w>';
const PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/** GPT-2's reversible byte -> printable character table (bytes_to_unicode). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable(b) ? b : 256 + n++);
  return out;
})();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

export interface ClipTokenizerOptions {
  /** Padding token (default <|endoftext|>). */
  pad?: string;
  /** Token for pieces not in the vocabulary (default <|endoftext|>, as CLIP's unk_token). */
  unk?: string;
}

export class ClipTokenizer {
  private readonly vocab: Map<string, number>;
  private readonly tokens: Map<number, string>;
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;

  /** `merges`: "a b" lines (a '#version' first line is skipped) or [a, b] pairs, highest priority first. */
  constructor(vocab: Record<string, number>, merges: readonly (string | readonly [string, string])[], opts: ClipTokenizerOptions = {}) {
    this.vocab = new Map(Object.entries(vocab));
    this.tokens = new Map([...this.vocab].map(([t, i]) => [i, t]));
    let rank = 0;
    for (const m of merges) {
      if (typeof m === 'string' && (m.startsWith('#version') || m.trim() === '')) continue;
      const [a, b] = typeof m === 'string' ? m.split(' ') : m;
      if (a === undefined || b === undefined) throw new Error(`CLIP tokenizer: merge ${JSON.stringify(m)} is not a pair`);
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
      rank++;
    }
    const id = (t: string, what: string) => {
      const v = this.vocab.get(t);
      if (v === undefined) throw new Error(`CLIP tokenizer: the vocabulary has no ${what} token ${JSON.stringify(t)}`);
      return v;
    };
    this.bosId = id(CLIP_BOS, 'start');
    this.eosId = id(CLIP_EOS, 'end');
    this.padId = id(opts.pad ?? CLIP_EOS, 'padding');
    this.unkId = id(opts.unk ?? CLIP_EOS, 'unknown');
    this.cache.set(CLIP_BOS, [CLIP_BOS]);
    this.cache.set(CLIP_EOS, [CLIP_EOS]);
  }

  /**
   * From a tokenizer/ folder: vocab.json + merges.txt, else tokenizer.json. The pad token comes from
   * special_tokens_map.json or tokenizer_config.json when they name one.
   */
  static fromDir(dir: string): ClipTokenizer {
    const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;
    const tokenName = (v: unknown) =>
      typeof v === 'string' ? v : v && typeof v === 'object' && 'content' in v ? String((v as { content: unknown }).content) : undefined;
    let pad: string | undefined;
    for (const f of ['special_tokens_map.json', 'tokenizer_config.json']) {
      if (pad === undefined && existsSync(join(dir, f))) pad = tokenName(read(f).pad_token);
    }
    const opts = { pad: pad ?? CLIP_EOS };
    if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) {
      return new ClipTokenizer(read('vocab.json') as Record<string, number>, readFileSync(join(dir, 'merges.txt'), 'utf8').split(/\r?\n/), opts);
    }
    if (existsSync(join(dir, 'tokenizer.json'))) {
      const model = read('tokenizer.json').model as { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] } | undefined;
      if (model?.type !== 'BPE' || !model.vocab || !model.merges) throw new Error(`${join(dir, 'tokenizer.json')}: not a BPE tokenizer`);
      const vocab = { ...model.vocab };
      for (const t of (read('tokenizer.json').added_tokens as { id: number; content: string }[] | undefined) ?? []) vocab[t.content] ??= t.id;
      return new ClipTokenizer(vocab, model.merges, opts);
    }
    throw new Error(`${dir}: no CLIP tokenizer files (vocab.json + merges.txt, or tokenizer.json)`);
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  /** Step 3 for one piece: its BPE tokens. */
  private bpe(piece: string): string[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    let word = [...piece];
    word[word.length - 1] += END_OF_WORD;
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) break;
      const [a, b] = [word[best], word[best + 1]];
      const next: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === a && word[i + 1] === b) {
          next.push(a + b);
          i += 2;
        } else next.push(word[i++]);
      }
      word = next;
    }
    if (this.cache.size < 10_000) this.cache.set(piece, word);
    return word;
  }

  /** BPE tokens of `text` (without start/end tokens). */
  tokenize(text: string): string[] {
    const out: string[] = [];
    const encoder = new TextEncoder();
    for (const m of cleanText(text).matchAll(PATTERN)) {
      const piece = m[0] === CLIP_BOS || m[0] === CLIP_EOS ? m[0] : Array.from(encoder.encode(m[0]), (b) => BYTE_TO_CHAR[b]).join('');
      out.push(...this.bpe(piece));
    }
    return out;
  }

  /** Ids of `text` without start/end tokens; pieces missing from the vocabulary become unkId. */
  tokenIds(text: string): number[] {
    return this.tokenize(text).map((t) => this.vocab.get(t) ?? this.unkId);
  }

  /** [bos, ids (cut to contextLength - 2), eos, pad...] of exactly contextLength ids (SD: 77). */
  encode(text: string, contextLength = 77): number[] {
    if (!Number.isInteger(contextLength) || contextLength < 2) throw new Error(`contextLength must be an integer >= 2, got ${contextLength}`);
    const out = [this.bosId, ...this.tokenIds(text).slice(0, contextLength - 2), this.eosId];
    while (out.length < contextLength) out.push(this.padId);
    return out;
  }

  /** True when encode() would cut `text`. */
  truncates(text: string, contextLength = 77): boolean {
    return this.tokenIds(text).length > contextLength - 2;
  }

  /** Text of ids: start token skipped, stops at the first end token; '</w>' becomes a space. */
  decode(ids: ArrayLike<number | bigint>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = Number(ids[i]);
      if (id === this.bosId) continue;
      if (id === this.eosId) break;
      const t = this.tokens.get(id);
      if (t === undefined) throw new Error(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      for (const ch of t.replaceAll(END_OF_WORD, ' ')) bytes.push(ch === ' ' ? 0x20 : (CHAR_TO_BYTE.get(ch) ?? 0x3f));
    }
    return new TextDecoder().decode(Uint8Array.from(bytes)).trim();
  }
}
