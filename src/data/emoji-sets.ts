/**
 * The art sets the embedded model's datasets are drawn from: npm-shipped iconify collections.
 *
 * Two datasets are defined over them:
 *   - emoji32 (v1, `V1_SET_IDS`): noto, twemoji, fluent (flat): three emoji sets in similar flat manners.
 *   - styles32 (v2, `PRETRAIN_SETS`): those three, three more emoji sets in other manners (glossy 3D,
 *     black high-contrast, outlined), and icon collections that draw one subject in several manners
 *     (phosphor's six weights, IconPark's outline/solid/two-tone, Pepicons' pencil/pop/print, Tabler's
 *     outline/filled, Streamline Flex's line/remix/solid, Flat Color Icons). Each manner of an icon
 *     collection is a set of its own here ("ph-thin"), so captions can name the manner.
 *
 * Held-out sets (evaluation only, NEVER part of any pretraining dataset; none of them is among the
 * pretraining sources that ARCHITECTURE.md allows):
 *   - openmoji    @iconify-json/openmoji    CC-BY-SA-4.0  the development evaluation
 *   - emojione    @iconify-json/emojione    CC-BY-4.0     further held-out styles, so that no choice
 *   - noto-v1     @iconify-json/noto-v1     Apache-2.0    rests on OpenMoji alone
 *   - emojione-v1 @iconify-json/emojione-v1 CC-BY-SA-4.0
 *
 * The held-out sets are deliberately absent from PRETRAIN_SETS; they can only be reached through
 * `getSetDef(id)` / `renderIcon(id, ...)`, and the dataset builder refuses them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IconifyJSON } from '@iconify/types';

export type SetId = string;
export type PretrainSetId = SetId;
export type HeldOutSetId = 'openmoji' | 'emojione' | 'noto-v1' | 'emojione-v1';

/** How an icon collection spells one of its manners: a name suffix ("-thin"), or none of the others. */
export interface VariantRule {
  /** The suffix of this manner's names, "" for the unsuffixed (default) manner. */
  readonly suffix: string;
  /** For suffix "": the other manners' suffixes, whose names do not belong to this set. */
  readonly others?: readonly string[];
}

export interface EmojiSetDef {
  readonly id: SetId;
  /** npm package holding the iconify JSON. */
  readonly pkg: string;
  /** SPDX licence id of the artwork. */
  readonly license: string;
  /** Who drew it (attribution in the README). */
  readonly author: string;
  /** Style phrase naming the set in captions, e.g. "noto style". */
  readonly style: string;
  /** Words describing the manner, used in captions: "cat face, glossy 3d emoji". */
  readonly manner: string;
  /** emoji: subjects from Unicode (emojibase labels); icon: subjects from the icon names. */
  readonly kind: 'emoji' | 'icon';
  /** For icon collections whose manners share one package: which names are this set's. */
  readonly variant?: VariantRule;
  /** True for evaluation-only sets that must never be trained on. */
  readonly heldOut: boolean;
}

const def = (d: Omit<EmojiSetDef, 'heldOut' | 'kind'> & { kind?: 'emoji' | 'icon'; heldOut?: boolean }): EmojiSetDef =>
  Object.freeze({ kind: 'emoji', heldOut: false, ...d });

// ---- emoji sets
const NOTO = def({ id: 'noto', pkg: '@iconify-json/noto', license: 'Apache-2.0', author: 'Google', style: 'noto style', manner: 'shaded colour emoji' });
const TWEMOJI = def({
  id: 'twemoji',
  pkg: '@iconify-json/twemoji',
  license: 'CC-BY-4.0',
  author: 'Twitter',
  style: 'twemoji style',
  manner: 'flat colour emoji',
});
const FLUENT = def({
  id: 'fluent',
  pkg: '@iconify-json/fluent-emoji-flat',
  license: 'MIT',
  author: 'Microsoft',
  style: 'fluent style',
  manner: 'flat colour emoji',
});
const FLUENT_3D = def({
  id: 'fluent-3d',
  pkg: '@iconify-json/fluent-emoji',
  license: 'MIT',
  author: 'Microsoft',
  style: 'fluent 3d style',
  manner: 'glossy 3d emoji',
});
const FLUENT_HC = def({
  id: 'fluent-hc',
  pkg: '@iconify-json/fluent-emoji-high-contrast',
  license: 'MIT',
  author: 'Microsoft',
  style: 'high contrast style',
  manner: 'black line emoji',
});
const STREAMLINE_EMOJI = def({
  id: 'streamline-emoji',
  pkg: '@iconify-json/streamline-emojis',
  license: 'CC-BY-4.0',
  author: 'Streamline',
  style: 'streamline style',
  manner: 'outlined colour emoji',
});

// ---- icon collections, one set per manner
const PH_SUFFIXES = ['-thin', '-light', '-bold', '-fill', '-duotone'];
const ph = (id: string, suffix: string, manner: string) =>
  def({
    id,
    pkg: '@iconify-json/ph',
    license: 'MIT',
    author: 'Phosphor Icons',
    style: 'phosphor style',
    manner,
    kind: 'icon',
    variant: suffix ? { suffix } : { suffix: '', others: PH_SUFFIXES },
  });
const iconPark = (id: string, pkg: string, manner: string) =>
  def({ id, pkg, license: 'Apache-2.0', author: 'ByteDance', style: 'icon park style', manner, kind: 'icon' });
const pepicons = (id: string, pkg: string, manner: string) =>
  def({ id, pkg, license: 'CC-BY-4.0', author: 'CyCraft', style: 'pepicons style', manner, kind: 'icon' });
const TABLER_SUFFIXES = ['-filled'];
const tabler = (id: string, suffix: string, manner: string) =>
  def({
    id,
    pkg: '@iconify-json/tabler',
    license: 'MIT',
    author: 'Paweł Kuna',
    style: 'tabler style',
    manner,
    kind: 'icon',
    variant: suffix ? { suffix } : { suffix: '', others: TABLER_SUFFIXES },
  });
const FLEX_SUFFIXES = ['-remix', '-solid'];
const flex = (id: string, suffix: string, manner: string) =>
  def({
    id,
    pkg: '@iconify-json/streamline-flex',
    license: 'CC-BY-4.0',
    author: 'Streamline',
    style: 'streamline flex style',
    manner,
    kind: 'icon',
    variant: suffix ? { suffix } : { suffix: '', others: FLEX_SUFFIXES },
  });

const ICON_SETS: readonly EmojiSetDef[] = [
  ph('ph-thin', '-thin', 'thin line icon'),
  ph('ph-light', '-light', 'light line icon'),
  ph('ph-regular', '', 'line icon'),
  ph('ph-bold', '-bold', 'bold line icon'),
  ph('ph-fill', '-fill', 'filled icon'),
  ph('ph-duotone', '-duotone', 'duotone icon'),
  iconPark('icon-park-outline', '@iconify-json/icon-park-outline', 'bold line icon'),
  iconPark('icon-park-solid', '@iconify-json/icon-park-solid', 'filled icon'),
  iconPark('icon-park-twotone', '@iconify-json/icon-park-twotone', 'duotone icon'),
  pepicons('pepicons-pencil', '@iconify-json/pepicons-pencil', 'thin line icon'),
  pepicons('pepicons-pop', '@iconify-json/pepicons-pop', 'bold line icon'),
  pepicons('pepicons-print', '@iconify-json/pepicons-print', 'hand drawn icon'),
  tabler('tabler-outline', '', 'line icon'),
  tabler('tabler-filled', '-filled', 'filled icon'),
  flex('flex-line', '', 'line icon'),
  flex('flex-remix', '-remix', 'duotone icon'),
  flex('flex-solid', '-solid', 'filled icon'),
  def({
    id: 'flat-color-icons',
    pkg: '@iconify-json/flat-color-icons',
    license: 'MIT',
    author: 'Icons8',
    style: 'icons8 style',
    manner: 'flat colour icon',
    kind: 'icon',
  }),
];

const OPENMOJI = def({
  id: 'openmoji',
  pkg: '@iconify-json/openmoji',
  license: 'CC-BY-SA-4.0',
  author: 'OpenMoji',
  style: 'openmoji style',
  manner: 'outlined colour emoji',
  heldOut: true,
});
const EMOJIONE = def({
  id: 'emojione',
  pkg: '@iconify-json/emojione',
  license: 'CC-BY-4.0',
  author: 'Emoji One',
  style: 'emojione style',
  manner: 'shaded colour emoji',
  heldOut: true,
});
const NOTO_V1 = def({
  id: 'noto-v1',
  pkg: '@iconify-json/noto-v1',
  license: 'Apache-2.0',
  author: 'Google',
  style: 'noto v1 style',
  manner: 'flat colour emoji',
  heldOut: true,
});
const EMOJIONE_V1 = def({
  id: 'emojione-v1',
  pkg: '@iconify-json/emojione-v1',
  license: 'CC-BY-SA-4.0',
  author: 'Emoji One',
  style: 'emojione v1 style',
  manner: 'shaded colour emoji',
  heldOut: true,
});

/** Sets of the v2 pretraining dataset (styles32), in dataset order. */
export const PRETRAIN_SETS: readonly EmojiSetDef[] = Object.freeze([NOTO, TWEMOJI, FLUENT, FLUENT_3D, FLUENT_HC, STREAMLINE_EMOJI, ...ICON_SETS]);

/** The three sets of the v1 dataset (emoji32), on which today's eval:base judges. */
export const V1_SET_IDS: readonly SetId[] = Object.freeze(['noto', 'twemoji', 'fluent']);

/** Evaluation-only sets. Never pass these to the dataset builder. */
export const HELDOUT_SETS: readonly EmojiSetDef[] = Object.freeze([OPENMOJI, EMOJIONE, NOTO_V1, EMOJIONE_V1]);

const ALL_SETS: readonly EmojiSetDef[] = [...PRETRAIN_SETS, ...HELDOUT_SETS];

export function pretrainSetIds(): PretrainSetId[] {
  return PRETRAIN_SETS.map((s) => s.id);
}

export function isSetId(id: string): boolean {
  return ALL_SETS.some((s) => s.id === id);
}

export function getSetDef(id: SetId): EmojiSetDef {
  const d = ALL_SETS.find((s) => s.id === id);
  if (!d) throw new Error(`unknown art set: ${id}`);
  return d;
}

/** Style phrase of a set ("noto style"). */
export function styleOf(id: SetId): string {
  return getSetDef(id).style;
}

/** Every caption phrase naming a set or a manner, for the tokenizer's vocabulary. */
export function stylePhrases(sets: readonly { style: string; manner: string }[] = PRETRAIN_SETS): string[] {
  return [...new Set(sets.flatMap((s) => [s.style, s.manner]))];
}

/**
 * The base names of a set's icons when its package holds several manners: "cat-thin" -> "cat" for
 * ph-thin; names of the other manners are left out of the default manner. Sets without a variant rule
 * keep every name as it is.
 */
export function variantBaseName(set: EmojiSetDef, name: string): string | null {
  const v = set.variant;
  if (!v) return name;
  if (v.suffix) return name.endsWith(v.suffix) && name.length > v.suffix.length ? name.slice(0, -v.suffix.length) : null;
  return (v.others ?? []).some((s) => name.endsWith(s)) ? null : name;
}

const require = createRequire(import.meta.url);
const iconCache = new Map<string, IconifyJSON>();
const charsCache = new Map<string, Record<string, string>>();

function readPkgJson<T>(pkg: string, file: string): T {
  const path = require.resolve(`${pkg}/${file}`);
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The iconify JSON of a set's package (cached per package). */
export function loadIconSet(id: SetId): IconifyJSON {
  const pkg = getSetDef(id).pkg;
  let data = iconCache.get(pkg);
  if (!data) {
    data = readPkgJson<IconifyJSON>(pkg, 'icons.json');
    iconCache.set(pkg, data);
  }
  return data;
}

/**
 * The set's chars.json: lowercase hex codepoint sequence ("1f468-200d-1f4bb")
 * -> icon name. Inverted by callers to get a name's codepoints. Icon collections map private-use
 * codepoints of their fonts; only emoji sets' codepoints mean anything here.
 */
export function loadChars(id: SetId): Record<string, string> {
  const d = getSetDef(id);
  if (d.kind !== 'emoji') return {};
  let data = charsCache.get(d.pkg);
  if (!data) {
    data = readPkgJson<Record<string, string>>(d.pkg, 'chars.json');
    charsCache.set(d.pkg, data);
  }
  return data;
}
