/**
 * Captions and keyword enrichment for emoji icons.
 *
 * Subject caption: derived from the iconify icon name ("dog-face" -> "dog face").
 * The iconify names are slugified CLDR short names; for noto and twemoji the
 * normalised name equals the emojibase label for all but 4 codepoint-matched
 * icons, but fluent differs on ~30 ("person-elf" vs "elf", "man-deaf" vs
 * "deaf man"). So the builder (src/data/build.ts) uses the normalised CLDR
 * label as subject when the icon is matched by codepoint and the label is
 * plain words, and the name-derived caption otherwise ("keycap asterisk"
 * rather than "keycap *"); the name-derived caption is then a keyword.
 *
 * Keywords (alternative captions), most specific first:
 *   1. the emojibase CLDR label when it differs from the subject (e.g. noto's
 *      old "hugging-face" name -> "smiling face with open hands"),
 *   2. iconify alias names of the icon ("bear-face" for twemoji "bear"),
 *   3. names of pixel-identical duplicates merged into this icon (builder),
 *   4. github shortcodes from emojibase ("dog" for dog face),
 *   5. emojibase tags ("puppy", "pet", ...).
 *
 * Emojibase matching: by codepoint sequence first (each set's chars.json maps
 * codepoints -> icon name, which covers >97% of icons; FE0F is ignored on both
 * sides), then by normalised label == normalised name, then by a multi-word
 * github shortcode == normalised name (legacy names such as noto
 * "full-moon-with-face", twemoji "two-men-holding-hands").
 *
 * Filtering choices (see `excludeReason`):
 *   - skin-tone variants are dropped: noto/twemoji/openmoji spell them
 *     "...-{light,medium-light,medium,medium-dark,dark}-skin-tone[...]" (also in
 *     the middle: "man-dark-skin-tone-blond-hair", and pairs for handshakes),
 *     noto additionally has "...-tone1".."-tone5" duplicates, fluent uses bare
 *     suffixes "...-light", "...-medium-dark" (only when the base name exists,
 *     so "vertical-traffic-light" stays). Any icon whose codepoints contain a
 *     Fitzpatrick modifier U+1F3FB..U+1F3FF is dropped too, as are the bare
 *     swatches ("dark-skin-tone").
 *   - country / subdivision flags (pairs of regional indicators, tag
 *     sequences) are dropped: only twemoji has them (~410
 *     incl. "flag-for-flag-*" duplicates; noto and fluent have none), so they
 *     would tie "flag of X" to one style and spend ~10% of the data on
 *     near-identical striped rectangles whose identity is not learnable at
 *     32x32. Generic flags (pirate, rainbow, chequered, white, black,
 *     triangular, crossed, transgender) are in all sets and are kept.
 *     Noto's single regional indicators ("letter-a".."letter-z", boxed
 *     letters) are not flags and are kept.
 *   - keycaps (0-9, #, *, 10) and symbols (arrows, zodiac, coloured
 *     circles/squares, "a button", ...) are kept: they exist in all three
 *     sets, are cheap and teach colour and shape words.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

/** "dog-face" -> "dog face"; "1st-place-medal" -> "1st place medal". */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[-_]+/g, ' ').replace(/\s+/g, ' ').trim();
}

/**
 * Free text (CLDR labels, tags, shortcodes) -> lowercase ASCII words:
 * "flag: Japan" -> "flag japan", "Japanese “here” button" -> "japanese here
 * button", "piñata" -> "pinata", "heart_eyes" -> "heart eyes".
 */
export function normaliseLabel(label: string): string {
  return label
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[’']/g, '')
    .replace(/[^a-z0-9#*]+/g, ' ')
    .trim();
}

const TONE = '(?:light|medium-light|medium|medium-dark|dark)';
const SKIN_TONE_RE = new RegExp(`(?:^|-)${TONE}-skin-tone(?:-|$)`);
const NOTO_TONE_RE = /-tone[1-5]$/;
const FLUENT_SUFFIX_RE = /-(?:medium-dark|medium-light|dark|light|medium)$/;
const FITZPATRICK_RE = /(?:^|-)1f3f[b-f](?:-|$)/;

/**
 * True if the icon is a skin-tone variant (or a bare skin-tone swatch).
 * `siblings` (all names of the set) enables the fluent-style bare suffix rule
 * ("thumbs-up-medium-dark" when "thumbs-up" exists); `codepoints` (lowercase
 * hex sequence) enables the Fitzpatrick-modifier rule.
 */
export function isSkinToneVariant(name: string, siblings?: ReadonlySet<string>, codepoints?: string): boolean {
  if (SKIN_TONE_RE.test(name) || NOTO_TONE_RE.test(name)) return true;
  if (codepoints && FITZPATRICK_RE.test(codepoints)) return true;
  if (siblings && FLUENT_SUFFIX_RE.test(name)) {
    let base = name;
    while (FLUENT_SUFFIX_RE.test(base)) base = base.replace(FLUENT_SUFFIX_RE, '');
    if (base !== name && siblings.has(base)) return true;
  }
  return false;
}

const RI = '1f1(?:e[6-9a-f]|f[0-9a-f])';
/** A pair of regional indicators (a country flag); single ones are noto's "letter-a".."letter-z", kept. */
const REGIONAL_INDICATOR_RE = new RegExp(`(?:^|-)${RI}-${RI}(?:-|$)`);
const TAG_SEQUENCE_RE = /(?:^|-)e00[67][0-9a-f](?:-|$)/;

/** Country / region flag (regional-indicator pair or tag sequence). */
export function isCountryFlag(name: string, codepoints?: string): boolean {
  if (codepoints && (REGIONAL_INDICATOR_RE.test(codepoints) || TAG_SEQUENCE_RE.test(codepoints))) {
    return true;
  }
  // Names without codepoints: twemoji "flag-for-flag-japan", noto "flag-martinique".
  return /^flag-for-/.test(name) || (!codepoints && /^flag-/.test(name) && !GENERIC_FLAGS.has(name));
}

const GENERIC_FLAGS = new Set(['flag-in-hole']);

export type ExcludeReason = 'skin-tone' | 'country-flag';

export function excludeReason(name: string, siblings?: ReadonlySet<string>, codepoints?: string): ExcludeReason | null {
  if (isSkinToneVariant(name, siblings, codepoints)) return 'skin-tone';
  if (isCountryFlag(name, codepoints)) return 'country-flag';
  return null;
}

/** Normalise a codepoint sequence: lowercase, drop FE0F, strip leading zeros. */
export function normaliseCodepoints(seq: string): string {
  return seq
    .toLowerCase()
    .split(/[-\s]+/)
    .filter((cp) => cp !== 'fe0f' && cp !== '')
    .map((cp) => cp.replace(/^0+(?=.)/, ''))
    .join('-');
}

// ---------------------------------------------------------------------------
// emojibase

interface EmojibaseEntry {
  label: string;
  hexcode: string;
  tags?: string[];
  skins?: EmojibaseEntry[];
}

export interface EmojiInfo {
  /** Normalised CLDR label. */
  label: string;
  tags: string[];
  shortcodes: string[];
}

export interface EmojibaseIndex {
  byCodepoints: Map<string, EmojiInfo>;
  byLabel: Map<string, EmojiInfo>;
  byShortcode: Map<string, EmojiInfo>;
}

let emojibaseCache: EmojibaseIndex | null = null;

/** Lookup tables over emojibase-data/en (data.json + github shortcodes). */
export function loadEmojibase(): EmojibaseIndex {
  if (emojibaseCache) return emojibaseCache;
  const require = createRequire(import.meta.url);
  const read = <T>(p: string): T => JSON.parse(readFileSync(require.resolve(p), 'utf8')) as T;
  const data = read<EmojibaseEntry[]>('emojibase-data/en/data.json');
  const github = read<Record<string, string | string[]>>('emojibase-data/en/shortcodes/github.json');
  const byCodepoints = new Map<string, EmojiInfo>();
  const byLabel = new Map<string, EmojiInfo>();
  const byShortcode = new Map<string, EmojiInfo>();
  for (const e of data) {
    const sc = github[e.hexcode];
    // Only plain word shortcodes: "+1"/"-1" (thumbs) would normalise to "1".
    const shortcodes = (sc === undefined ? [] : Array.isArray(sc) ? sc : [sc])
      .filter((c) => /^[a-z0-9_]+$/.test(c) && !/^[0-9_]+$/.test(c))
      .map(normaliseLabel);
    const info: EmojiInfo = {
      label: normaliseLabel(e.label),
      tags: (e.tags ?? []).map(normaliseLabel).filter((t) => t.length > 0),
      shortcodes,
    };
    byCodepoints.set(normaliseCodepoints(e.hexcode), info);
    if (!byLabel.has(info.label)) byLabel.set(info.label, info);
    // Name matching by shortcode only for multi-word shortcodes: single words
    // are ambiguous (noto's "pound" is the # sign, github :pound: the banknote;
    // openmoji "cake" vs :cake: shortcake).
    for (const s of shortcodes) if (s.includes(' ') && !byShortcode.has(s)) byShortcode.set(s, info);
  }
  emojibaseCache = { byCodepoints, byLabel, byShortcode };
  return emojibaseCache;
}

export type MatchKind = 'codepoint' | 'label' | 'shortcode' | 'none';

/** Find the emojibase entry of an icon. */
export function matchEmojibase(index: EmojibaseIndex, name: string, codepoints?: string): { info: EmojiInfo | null; kind: MatchKind } {
  if (codepoints) {
    const hit = index.byCodepoints.get(normaliseCodepoints(codepoints));
    if (hit) return { info: hit, kind: 'codepoint' };
  }
  const n = normaliseName(name);
  const byLabel = index.byLabel.get(n);
  if (byLabel) return { info: byLabel, kind: 'label' };
  const bySc = index.byShortcode.get(n);
  if (bySc) return { info: bySc, kind: 'shortcode' };
  return { info: null, kind: 'none' };
}

/**
 * Ordered, de-duplicated keyword list (never containing the subject).
 * `altNames` are already-normalised alternative names (aliases, duplicates).
 */
export function buildKeywords(subject: string, info: EmojiInfo | null, altNames: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>([subject]);
  const add = (k: string) => {
    const v = k.trim();
    if (v.length === 0 || seen.has(v)) return;
    seen.add(v);
    out.push(v);
  };
  if (info) add(info.label);
  for (const a of altNames) add(a);
  if (info) {
    for (const s of info.shortcodes) add(s);
    for (const t of info.tags) add(t);
  }
  return out;
}
