/**
 * Word-level tokenizer of the embedded model. Text is NFKC-normalised, lowercased and split on
 * anything that is not a letter or a digit; the reserved modifier tokens `<v1>`..`<v16>` and
 * `<s1>`..`<s16>` written in the text are kept as single tokens. These are the V* / S* tokens of
 * Pair Customization: no caption can produce them (words have no '<'), so pretraining never sees them.
 *
 * Ids: 0 <pad>, 1 <bos>, 2 <eos>, 3 <unk>, 4..19 <v1>..<v16>, 20..35 <s1>..<s16>, then the caption
 * words by frequency (descending), ties alphabetical (code point order): the same captions always
 * give the same vocabulary.
 */

export const PAD = '<pad>';
export const BOS = '<bos>';
export const EOS = '<eos>';
export const UNK = '<unk>';
export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;

export const RESERVED_PER_KIND = 16;
/** `<v1>`..`<v16>`: content (subject) modifiers. */
export const V_TOKENS: readonly string[] = Array.from({ length: RESERVED_PER_KIND }, (_, i) => `<v${i + 1}>`);
/** `<s1>`..`<s16>`: style modifiers. */
export const S_TOKENS: readonly string[] = Array.from({ length: RESERVED_PER_KIND }, (_, i) => `<s${i + 1}>`);
/** Every token that is not a caption word, in id order. */
export const FIXED_TOKENS: readonly string[] = [PAD, BOS, EOS, UNK, ...V_TOKENS, ...S_TOKENS];

const RESERVED_RE = /(<[vs](?:1[0-6]|[1-9])>)/;
const WORD_RE = /^[\p{L}\p{N}]+$/u;

/** Lowercased words and reserved tokens of `text`, in order. */
export function splitWords(text: string): string[] {
  const out: string[] = [];
  // split() with a capturing group: odd pieces are the reserved tokens themselves.
  text
    .normalize('NFKC')
    .toLowerCase()
    .split(RESERVED_RE)
    .forEach((piece, i) => {
      if (i % 2 === 1) out.push(piece);
      else for (const w of piece.split(/[^\p{L}\p{N}]+/u)) if (w) out.push(w);
    });
  return out;
}

/** vocab.json contents. */
export interface WordVocabJSON {
  type: 'word';
  version: 1;
  /** All tokens in id order, FIXED_TOKENS first. */
  tokens: string[];
}

export interface BuildOptions {
  /** Keep words seen at least this often (default 1). */
  minFrequency?: number;
  /** Keep at most this many words (the most frequent). */
  maxWords?: number;
}

export class WordTokenizer {
  /** Tokens in id order. */
  readonly tokens: readonly string[];
  private readonly ids: Map<string, number>;

  private constructor(tokens: string[]) {
    this.tokens = Object.freeze(tokens);
    this.ids = new Map(tokens.map((t, i) => [t, i]));
  }

  /** Builds the vocabulary from captions (deterministic: frequency, then alphabetical). */
  static fromCaptions(captions: Iterable<string>, opts: BuildOptions = {}): WordTokenizer {
    const minFrequency = opts.minFrequency ?? 1;
    const counts = new Map<string, number>();
    for (const caption of captions) {
      for (const w of splitWords(caption)) if (!w.startsWith('<')) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    const words = [...counts]
      .filter(([, n]) => n >= minFrequency)
      .sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0))
      .map(([w]) => w)
      .slice(0, opts.maxWords ?? Infinity);
    return new WordTokenizer([...FIXED_TOKENS, ...words]);
  }

  /** Reads vocab.json (object or text), checking the fixed ids and that words are plain words. */
  static fromJSON(json: string | WordVocabJSON): WordTokenizer {
    const j = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<WordVocabJSON>;
    if (j?.type !== 'word' || j.version !== 1 || !Array.isArray(j.tokens)) {
      throw new Error('vocab.json: expected {"type": "word", "version": 1, "tokens": [...]}');
    }
    const tokens = j.tokens;
    FIXED_TOKENS.forEach((t, i) => {
      if (tokens[i] !== t) throw new Error(`vocab.json: token ${i} should be "${t}", found ${JSON.stringify(tokens[i])}`);
    });
    const seen = new Set<string>();
    tokens.forEach((t, i) => {
      if (i >= FIXED_TOKENS.length && (typeof t !== 'string' || !WORD_RE.test(t) || t !== t.normalize('NFKC').toLowerCase())) {
        throw new Error(`vocab.json: token ${i} ${JSON.stringify(t)} is not a lowercase word of letters and digits`);
      }
      if (seen.has(t)) throw new Error(`vocab.json: token ${JSON.stringify(t)} appears twice`);
      seen.add(t);
    });
    return new WordTokenizer(tokens.slice());
  }

  toJSON(): WordVocabJSON {
    return { type: 'word', version: 1, tokens: [...this.tokens] };
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** Id of a token, or undefined. */
  id(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** Ids of the words in `text` (unknown words -> <unk>), without <bos>/<eos>/padding. */
  tokenIds(text: string): number[] {
    return splitWords(text).map((w) => this.ids.get(w) ?? UNK_ID);
  }

  /**
   * [<bos>, words..., <eos>, <pad>...] of exactly `contextLength` ids. Too long: <bos> is kept, the
   * words are cut after contextLength - 2 and <eos> ends the sequence (so truncation is visible).
   */
  encode(text: string, contextLength: number): number[] {
    if (!Number.isInteger(contextLength) || contextLength < 2) throw new Error(`contextLength must be an integer >= 2, got ${contextLength}`);
    const words = this.tokenIds(text).slice(0, contextLength - 2);
    const out = [BOS_ID, ...words, EOS_ID];
    while (out.length < contextLength) out.push(PAD_ID);
    return out;
  }

  /** True when `text` has more words than fit in `contextLength` (encode would cut it). */
  truncates(text: string, contextLength: number): boolean {
    return splitWords(text).length > contextLength - 2;
  }

  /** Text of ids: words joined by spaces; <pad> and <bos> skipped, stops at <eos>. Unknown words read "<unk>". */
  decode(ids: ArrayLike<number | bigint>): string {
    const words: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = Number(ids[i]);
      if (id === EOS_ID) break;
      if (id === PAD_ID || id === BOS_ID) continue;
      const t = this.tokens[id];
      if (t === undefined) throw new Error(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      words.push(t);
    }
    return words.join(' ');
  }
}
