/**
 * Emoji icon sets used by the 32x32 text-to-image dataset.
 *
 * Pretraining sets (go into data/emoji32.bin):
 *   - noto     @iconify-json/noto               Apache-2.0
 *   - twemoji  @iconify-json/twemoji            CC-BY-4.0
 *   - fluent   @iconify-json/fluent-emoji-flat  MIT
 *
 * Held-out set (evaluation only, NEVER part of the pretraining dataset):
 *   - openmoji @iconify-json/openmoji           CC-BY-SA-4.0
 *
 * The held-out set is deliberately absent from PRETRAIN_SETS; it can only be
 * reached through `getSetDef("openmoji")` / `renderIcon("openmoji", ...)`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { IconifyJSON } from "@iconify/types";

export type PretrainSetId = "noto" | "twemoji" | "fluent";
export type HeldOutSetId = "openmoji";
export type SetId = PretrainSetId | HeldOutSetId;

export interface EmojiSetDef {
  readonly id: SetId;
  /** npm package holding the iconify JSON. */
  readonly pkg: string;
  /** SPDX licence id of the artwork. */
  readonly license: string;
  /** Style phrase used in captions, e.g. "noto style". */
  readonly style: string;
  /** True for evaluation-only sets that must never be trained on. */
  readonly heldOut: boolean;
}

const NOTO: EmojiSetDef = Object.freeze({
  id: "noto",
  pkg: "@iconify-json/noto",
  license: "Apache-2.0",
  style: "noto style",
  heldOut: false,
});
const TWEMOJI: EmojiSetDef = Object.freeze({
  id: "twemoji",
  pkg: "@iconify-json/twemoji",
  license: "CC-BY-4.0",
  style: "twemoji style",
  heldOut: false,
});
const FLUENT: EmojiSetDef = Object.freeze({
  id: "fluent",
  pkg: "@iconify-json/fluent-emoji-flat",
  license: "MIT",
  style: "fluent style",
  heldOut: false,
});
const OPENMOJI: EmojiSetDef = Object.freeze({
  id: "openmoji",
  pkg: "@iconify-json/openmoji",
  license: "CC-BY-SA-4.0",
  style: "openmoji style",
  heldOut: true,
});

/** Sets that make up the pretraining dataset, in dataset order. */
export const PRETRAIN_SETS: readonly EmojiSetDef[] = Object.freeze([NOTO, TWEMOJI, FLUENT]);

/** Evaluation-only sets. Never pass these to the dataset builder. */
export const HELDOUT_SETS: readonly EmojiSetDef[] = Object.freeze([OPENMOJI]);

const ALL_SETS: readonly EmojiSetDef[] = [...PRETRAIN_SETS, ...HELDOUT_SETS];

export function pretrainSetIds(): PretrainSetId[] {
  return PRETRAIN_SETS.map((s) => s.id as PretrainSetId);
}

export function isSetId(id: string): id is SetId {
  return ALL_SETS.some((s) => s.id === id);
}

export function getSetDef(id: SetId): EmojiSetDef {
  const def = ALL_SETS.find((s) => s.id === id);
  if (!def) throw new Error(`unknown emoji set: ${id}`);
  return def;
}

/** Style phrase of a set ("noto style"). */
export function styleOf(id: SetId): string {
  return getSetDef(id).style;
}

const require = createRequire(import.meta.url);
const iconCache = new Map<SetId, IconifyJSON>();
const charsCache = new Map<SetId, Record<string, string>>();

function readPkgJson<T>(pkg: string, file: string): T {
  const path = require.resolve(`${pkg}/${file}`);
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** The iconify JSON of a set (cached). */
export function loadIconSet(id: SetId): IconifyJSON {
  let data = iconCache.get(id);
  if (!data) {
    data = readPkgJson<IconifyJSON>(getSetDef(id).pkg, "icons.json");
    iconCache.set(id, data);
  }
  return data;
}

/**
 * The set's chars.json: lowercase hex codepoint sequence ("1f468-200d-1f4bb")
 * -> icon name. Inverted by callers to get a name's codepoints.
 */
export function loadChars(id: SetId): Record<string, string> {
  let data = charsCache.get(id);
  if (!data) {
    data = readPkgJson<Record<string, string>>(getSetDef(id).pkg, "chars.json");
    charsCache.set(id, data);
  }
  return data;
}
