/**
 * Deterministic builder for the emoji32 pretraining dataset.
 * Used by scripts/build-dataset.ts and by the tests (same code path).
 */
import { createHash } from 'node:crypto';
import type { IconifyJSON } from '@iconify/types';
import { PRETRAIN_SETS, getSetDef, loadChars, loadIconSet, variantBaseName, type PretrainSetId, type SetId } from './emoji-sets.ts';
import {
  buildKeywords,
  excludeReason,
  isSkinToneVariant,
  loadEmojibase,
  matchEmojibase,
  normaliseName,
  type EmojiInfo,
  type ExcludeReason,
  type MatchKind,
} from './captions.ts';
import { renderIconFrom } from './render.ts';
import { writeDataset, type Dataset, type DatasetItem } from './dataset.ts';

export interface Candidate {
  set: SetId;
  name: string;
  /** Lowercase hex codepoint sequence from the set's chars.json, if any. */
  codepoints?: string;
  subject: string;
  info: EmojiInfo | null;
  match: MatchKind;
  /** Normalised alternative names (pure iconify aliases of this icon). */
  altNames: string[];
}

export interface CatalogStats {
  /** Icons + transformed aliases considered. */
  considered: number;
  /** Pure (rename) aliases folded into their parent's keywords. */
  aliasesFolded: number;
  excluded: Record<ExcludeReason, number>;
  match: Record<MatchKind, number>;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * All candidate icons of a set, sorted by name, with skin-tone variants and
 * country flags removed. Aliases that only rename an icon become keywords of
 * the icon; aliases with a transformation (fluent's hFlip'ed
 * "backhand-index-pointing-right") are icons of their own.
 */
export function listCandidates(
  set: SetId,
  iconSet: IconifyJSON = loadIconSet(set),
): {
  candidates: Candidate[];
  stats: CatalogStats;
} {
  if (getSetDef(set).kind === 'icon') return listIconCandidates(set, iconSet);
  const chars = loadChars(set);
  const cpOf = new Map<string, string>();
  for (const [cp, name] of Object.entries(chars)) if (!cpOf.has(name)) cpOf.set(name, cp);
  const aliases = iconSet.aliases ?? {};
  const allNames = new Set<string>([...Object.keys(iconSet.icons), ...Object.keys(aliases)]);

  const isPureAlias = (n: string) => {
    const a = aliases[n];
    return a !== undefined && Object.keys(a).every((k) => k === 'parent');
  };
  const rootOf = (n: string): string => {
    let cur = n;
    for (let i = 0; i < 16 && isPureAlias(cur); i++) cur = aliases[cur]!.parent;
    return cur;
  };

  const stats: CatalogStats = {
    considered: 0,
    aliasesFolded: 0,
    excluded: { 'skin-tone': 0, 'country-flag': 0 },
    match: { codepoint: 0, label: 0, shortcode: 0, none: 0 },
  };
  const altNames = new Map<string, string[]>();
  for (const n of Object.keys(aliases).sort(byCodeUnit)) {
    if (!isPureAlias(n)) continue;
    stats.aliasesFolded++;
    if (isSkinToneVariant(n, allNames, cpOf.get(n))) continue;
    const root = rootOf(n);
    const list = altNames.get(root) ?? [];
    list.push(normaliseName(n));
    altNames.set(root, list);
  }

  const names = [...allNames].filter((n) => !isPureAlias(n)).sort(byCodeUnit);
  const eb = loadEmojibase();
  const candidates: Candidate[] = [];
  for (const name of names) {
    stats.considered++;
    const codepoints = cpOf.get(name);
    const reason = excludeReason(name, allNames, codepoints);
    if (reason) {
      stats.excluded[reason]++;
      continue;
    }
    const { info, kind } = matchEmojibase(eb, name, codepoints);
    stats.match[kind]++;
    // Subject: the CLDR label when matched by codepoint and plain words (keeps
    // the same emoji captioned identically across sets: fluent names some
    // icons "person-elf", "man-deaf" where the others say "elf", "deaf man"),
    // else the normalised icon name. The name then becomes a keyword.
    const fromName = normaliseName(name);
    const subject = kind === 'codepoint' && info && /^[a-z0-9 ]+$/.test(info.label) ? info.label : fromName;
    const c: Candidate = {
      set,
      name,
      subject,
      info,
      match: kind,
      altNames: [...(subject === fromName ? [] : [fromName]), ...(altNames.get(name) ?? [])],
    };
    if (codepoints !== undefined) c.codepoints = codepoints;
    candidates.push(c);
  }
  return { candidates, stats };
}

/** Brand logos (trademarks, not drawings of a subject) are left out of the icon collections. */
export function isBrandLogo(name: string): boolean {
  return /^brand-|-logo$|^logo-/.test(name);
}

/**
 * Candidates of an icon collection's manner: the names of this manner (variantBaseName), without
 * brand logos; the subject is the base name in words, without a trailing variant number ("cat 2" ->
 * "cat", the full name then a keyword). Aliases are not separate drawings and are skipped.
 */
function listIconCandidates(set: SetId, iconSet: IconifyJSON): { candidates: Candidate[]; stats: CatalogStats } {
  const def = getSetDef(set);
  const stats: CatalogStats = {
    considered: 0,
    aliasesFolded: Object.keys(iconSet.aliases ?? {}).length,
    excluded: { 'skin-tone': 0, 'country-flag': 0 },
    match: { codepoint: 0, label: 0, shortcode: 0, none: 0 },
  };
  const candidates: Candidate[] = [];
  for (const name of Object.keys(iconSet.icons).sort(byCodeUnit)) {
    const base = variantBaseName(def, name);
    if (base === null || isBrandLogo(base)) continue;
    stats.considered++;
    stats.match.none++;
    const full = normaliseName(base);
    const subject = full.replace(/ \d+$/, '') || full;
    candidates.push({ set, name, subject, info: null, match: 'none', altNames: subject === full ? [] : [full] });
  }
  return { candidates, stats };
}

export interface BuildOptions {
  sets?: readonly PretrainSetId[];
  /** Keep only the first N candidates (by name) of each set: for tests. */
  limitPerSet?: number;
  /** Keep only candidates passing this filter (applied before limitPerSet). */
  filter?: (c: Candidate) => boolean;
  size?: number;
  /** Concurrent sharp renders (sharp has its own thread pool). Default 2. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SetSummary {
  set: PretrainSetId;
  kept: number;
  catalog: CatalogStats;
  /** Pixel-identical icons merged into another icon of the set. */
  duplicates: number;
  /** Codepoint-less icons (legacy names) nearly identical to a real emoji. */
  nearDuplicates: number;
  /** Renders that came out entirely white. */
  blank: number;
}

/** A built dataset: the Dataset layout (without its set table) plus what the build dropped and kept. */
export interface BuiltDataset extends Omit<Dataset, 'sets'> {
  summary: SetSummary[];
}

const MATCH_RANK: Record<MatchKind, number> = { codepoint: 0, label: 1, shortcode: 2, none: 3 };

/**
 * Mean absolute per-byte difference below which a codepoint-less icon (legacy
 * or alternative name, e.g. twemoji "woman-and-man-holding-hands") counts as
 * a duplicate of a real emoji of the same set. Measured: the legacy
 * woman-and-man/man-and-woman pair differs by 0.18; genuinely different
 * drawings (twemoji "adult" vs "person", noto "hugging-face" vs
 * "smiling-face-with-open-hands") by 9 to 20.
 */
export const NEAR_DUPLICATE_MAD = 1.5;

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i]! - b[i]!);
  return d / a.length;
}

/**
 * Group a set's rasters: identical pixels form one group, represented by the
 * best-described icon (emojibase match by codepoint > label > shortcode >
 * none, then having a codepoint, then the longer subject, e.g. "digit zero"
 * over noto's "0", then name order). Codepoint-less icons that are within
 * NEAR_DUPLICATE_MAD of a codepoint icon's raster join that icon's group.
 * All-white renders are dropped.
 */
export function dedupe(candidates: readonly Candidate[], px: readonly Uint8Array[]): { rep: Map<number, number[]>; blank: number; nearDuplicates: number } {
  const groups = new Map<string, number[]>();
  let blank = 0;
  for (let i = 0; i < candidates.length; i++) {
    const p = px[i]!;
    if (p.every((v) => v === 255)) {
      blank++;
      continue;
    }
    const h = createHash('sha1').update(p).digest('hex');
    const g = groups.get(h);
    if (g) g.push(i);
    else groups.set(h, [i]);
  }
  const better = (a: number, b: number) => {
    const ca = candidates[a]!;
    const cb = candidates[b]!;
    return (
      MATCH_RANK[ca.match] - MATCH_RANK[cb.match] ||
      Number(cb.codepoints !== undefined) - Number(ca.codepoints !== undefined) ||
      cb.subject.length - ca.subject.length ||
      a - b
    );
  };
  const rep = new Map<number, number[]>(); // representative -> group (incl. itself)
  for (const g of groups.values()) rep.set([...g].sort(better)[0]!, g);
  // Near duplicates: codepoint-less representatives vs codepoint ones.
  let nearDuplicates = 0;
  const withCp = [...rep.keys()].filter((r) => candidates[r]!.codepoints !== undefined).sort((a, b) => a - b);
  const without = [...rep.keys()].filter((r) => candidates[r]!.codepoints === undefined).sort((a, b) => a - b);
  for (const r of without) {
    let best = -1;
    let bestD = NEAR_DUPLICATE_MAD;
    for (const o of withCp) {
      const d = meanAbsDiff(px[r]!, px[o]!);
      if (d < bestD) {
        bestD = d;
        best = o;
      }
    }
    if (best >= 0) {
      const g = rep.get(r)!;
      rep.delete(r);
      rep.get(best)!.push(...g);
      nearDuplicates += g.length;
    }
  }
  return { rep, blank, nearDuplicates };
}

async function mapPool<T, R>(xs: readonly T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(xs.length);
  let next = 0;
  const worker = async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, xs.length)) }, worker));
  return out;
}

/** Render and assemble the dataset in memory. Throws on held-out sets. */
export async function buildDataset(opts: BuildOptions = {}): Promise<BuiltDataset> {
  const size = opts.size ?? 32;
  const sets = opts.sets ?? PRETRAIN_SETS.map((s) => s.id);
  for (const id of sets) {
    if (getSetDef(id).heldOut) throw new Error(`set ${id} is held out and cannot be used for pretraining`);
  }
  const order = PRETRAIN_SETS.map((s) => s.id);
  const sortedSets = [...new Set(sets)].sort((a, b) => order.indexOf(a) - order.indexOf(b));

  const perSet: { set: PretrainSetId; iconSet: IconifyJSON; candidates: Candidate[]; stats: CatalogStats }[] = [];
  for (const set of sortedSets) {
    const iconSet = loadIconSet(set);
    let { candidates, stats } = listCandidates(set, iconSet);
    if (opts.filter) candidates = candidates.filter(opts.filter);
    if (opts.limitPerSet !== undefined) candidates = candidates.slice(0, opts.limitPerSet);
    perSet.push({ set, iconSet, candidates, stats });
  }

  const jobs = perSet.flatMap((s) => s.candidates.map((c) => ({ iconSet: s.iconSet, c })));
  let done = 0;
  const rasters = await mapPool(jobs, opts.concurrency ?? 2, async ({ iconSet, c }) => {
    const px = await renderIconFrom(iconSet, c.name, size);
    if (!px) throw new Error(`icon vanished: ${c.set}:${c.name}`);
    done++;
    if (opts.onProgress && (done % 250 === 0 || done === jobs.length)) opts.onProgress(done, jobs.length);
    return px;
  });

  const sample = size * size * 3;
  const items: DatasetItem[] = [];
  const chunks: Uint8Array[] = [];
  const summary: SetSummary[] = [];
  let j = 0;
  for (const { set, candidates, stats } of perSet) {
    const px = rasters.slice(j, j + candidates.length);
    j += candidates.length;
    const { rep, blank, nearDuplicates } = dedupe(candidates, px);
    const reps = [...rep.keys()].sort((a, b) => a - b); // name order
    for (const r of reps) {
      const c = candidates[r]!;
      const dupNames = rep
        .get(r)!
        .filter((i) => i !== r)
        .map((i) => candidates[i]!.subject);
      items.push({ set, name: c.name, subject: c.subject, keywords: buildKeywords(c.subject, c.info, [...c.altNames, ...dupNames]) });
      chunks.push(px[r]!);
    }
    const duplicates = candidates.length - blank - reps.length - nearDuplicates;
    summary.push({ set, kept: reps.length, catalog: stats, duplicates, nearDuplicates, blank });
  }
  const pixels = new Uint8Array(items.length * sample);
  chunks.forEach((c, i) => pixels.set(c, i * sample));
  return { count: items.length, height: size, width: size, channels: 3, pixels, items, summary };
}

/** Build and write a dataset file; returns the in-memory dataset and file size. */
export async function buildDatasetFile(path: string, opts: BuildOptions = {}): Promise<BuiltDataset & { bytes: number }> {
  const ds = await buildDataset(opts);
  const bytes = writeDataset(path, ds);
  return { ...ds, bytes };
}
