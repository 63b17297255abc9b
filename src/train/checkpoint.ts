/**
 * Training checkpoints: one safetensors file per save holding
 *   param/<name>, adam_m/<name>, adam_v/<name> and (optionally) ema/<name>
 * with metadata {format, step, adam_step, ema_updates?, extra (JSON)}. Files are written atomically
 * (temp file + fsync + rename) as <dir>/checkpoint-<step>.safetensors; only the newest `keep` stay.
 */
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type TensorInput } from '../formats/safetensors.ts';
import type { AdamWState } from './optim.ts';
import type { EMAState } from './ema.ts';

const FORMAT = 'pairstyle-train-checkpoint/1';
const FILE_RE = /^checkpoint-(\d+)\.safetensors$/;

/** Parameters by name: flat arrays, or {shape, data} to record a shape. */
export type CheckpointParams = Record<string, Float32Array | TensorInput> | { name: string; data: Float32Array; shape?: number[] }[];

export interface CheckpointInput {
  params: CheckpointParams;
  optimizerState: AdamWState;
  ema?: EMAState;
  step: number;
  /** Any JSON-serialisable extras (config, rng seed, data cursor, ...). */
  extra?: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  path: string;
  step: number;
  params: Record<string, Float32Array>;
  shapes: Record<string, number[]>;
  optimizerState: AdamWState;
  ema?: EMAState;
  extra: Record<string, unknown>;
}

export interface SaveOptions {
  /** How many of the newest checkpoints to keep (default 3, minimum 1). */
  keep?: number;
}

function checkpointName(step: number): string {
  return `checkpoint-${String(step).padStart(8, '0')}.safetensors`;
}

function normaliseParams(params: CheckpointParams): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  const list = Array.isArray(params) ? params.map((p) => [p.name, p.shape ? { shape: p.shape, data: p.data } : p.data] as const) : Object.entries(params);
  for (const [name, p] of list) {
    out[name] = p instanceof Float32Array ? { shape: [p.length], data: p } : p;
  }
  return out;
}

/** Checkpoints in `dir`, oldest first. Missing directory -> []. */
export async function listCheckpoints(dir: string): Promise<{ step: number; path: string }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .map((n) => ({ m: FILE_RE.exec(n), n }))
    .filter((x): x is { m: RegExpExecArray; n: string } => x.m !== null)
    .map(({ m, n }) => ({ step: Number(m[1]), path: join(dir, n) }))
    .sort((a, b) => a.step - b.step);
}

/** Write a checkpoint atomically, then delete all but the newest `keep`. Returns its path. */
export async function saveCheckpoint(dir: string, ckpt: CheckpointInput, opts: SaveOptions = {}): Promise<string> {
  const keep = Math.max(1, opts.keep ?? 3);
  if (!Number.isSafeInteger(ckpt.step) || ckpt.step < 0) throw new Error(`saveCheckpoint: invalid step ${ckpt.step}`);
  const params = normaliseParams(ckpt.params);
  const tensors: Record<string, TensorInput> = {};
  // Moments and EMA get the parameter's shape when lengths agree.
  const like = (name: string, data: Float32Array): TensorInput => {
    const p = params[name];
    return { shape: p && p.data.length === data.length ? p.shape : [data.length], data };
  };
  for (const [name, t] of Object.entries(params)) tensors[`param/${name}`] = t;
  for (const [name, d] of Object.entries(ckpt.optimizerState.m)) tensors[`adam_m/${name}`] = like(name, d);
  for (const [name, d] of Object.entries(ckpt.optimizerState.v)) tensors[`adam_v/${name}`] = like(name, d);
  if (ckpt.ema) for (const [name, d] of Object.entries(ckpt.ema.shadow)) tensors[`ema/${name}`] = like(name, d);

  const metadata: Record<string, string> = {
    format: FORMAT,
    step: String(ckpt.step),
    adam_step: String(ckpt.optimizerState.step),
    extra: JSON.stringify(ckpt.extra ?? {}),
  };
  if (ckpt.ema) metadata.ema_updates = String(ckpt.ema.updates);

  await mkdir(dir, { recursive: true });
  const path = join(dir, checkpointName(ckpt.step));
  await writeSafetensors(path, tensors, { metadata });

  const all = await listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    await unlink(old.path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
  return path;
}

/** Load one checkpoint file written by saveCheckpoint. */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== FORMAT) {
    throw new Error(`${path}: not a training checkpoint (metadata format ${JSON.stringify(metadata.format)}, expected ${FORMAT})`);
  }
  const int = (key: string): number => {
    const v = Number(metadata[key]);
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${path}: bad "${key}" in metadata: ${JSON.stringify(metadata[key])}`);
    return v;
  };
  let extra: Record<string, unknown>;
  try {
    extra = JSON.parse(metadata.extra ?? '{}') as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path}: bad "extra" JSON in metadata: ${(e as Error).message}`);
  }
  const out: LoadedCheckpoint = {
    path,
    step: int('step'),
    params: {},
    shapes: {},
    optimizerState: { step: int('adam_step'), m: {}, v: {} },
    extra,
  };
  const shadow: Record<string, Float32Array> = {};
  for (const [key, t] of Object.entries(tensors)) {
    const slash = key.indexOf('/');
    const kind = key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (kind === 'param') {
      out.params[name] = t.data;
      out.shapes[name] = t.shape;
    } else if (kind === 'adam_m') out.optimizerState.m[name] = t.data;
    else if (kind === 'adam_v') out.optimizerState.v[name] = t.data;
    else if (kind === 'ema') shadow[name] = t.data;
    else throw new Error(`${path}: unexpected tensor "${key}" in checkpoint`);
  }
  if (metadata.ema_updates !== undefined) out.ema = { updates: int('ema_updates'), shadow };
  return out;
}

/** Load the newest checkpoint in `dir`, or null if there is none (or the directory is missing). */
export async function loadLatestCheckpoint(dir: string): Promise<LoadedCheckpoint | null> {
  const all = await listCheckpoints(dir);
  const latest = all[all.length - 1];
  return latest ? loadCheckpoint(latest.path) : null;
}
