/**
 * A style registry in a directory: one safetensors file per style (weights + description in its
 * metadata). A style appears only once its file is complete (written to a temp file, fsynced, renamed).
 * Used by the CLI (PAIRSTYLE_HOME/styles); the bot keeps per-user registries in Keyv.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensorsHeader } from '../train/safetensors.ts';
import { readStyleFile, writeStyleFile } from '../pair/style-file.ts';
import type { Style, StyleInfo } from '../pair/style.ts';

export const STYLE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export class StyleNameError extends Error {
  override name = 'StyleNameError';
}

export function checkStyleName(name: string): string {
  const n = name.trim().toLowerCase();
  if (!STYLE_NAME.test(n)) {
    throw new StyleNameError(`'${name}' is not a valid style name: use 1-32 letters, digits, '-' or '_', starting with a letter or digit`);
  }
  return n;
}

export class StyleDirectory {
  constructor(readonly dir: string) {}

  private path(name: string): string {
    return join(this.dir, `${checkStyleName(name)}.safetensors`);
  }

  async has(name: string): Promise<boolean> {
    return stat(this.path(name)).then(
      () => true,
      () => false,
    );
  }

  async get(name: string): Promise<Style | undefined> {
    if (!(await this.has(name))) return undefined;
    return readStyleFile(this.path(name));
  }

  /** Stores a style; refuses to replace an existing one unless `overwrite`. */
  async put(style: Style, opts: { overwrite?: boolean } = {}): Promise<string> {
    const path = this.path(style.info.name);
    if (!opts.overwrite && (await this.has(style.info.name))) {
      throw new StyleNameError(`a style named '${style.info.name}' exists already: choose another name, or delete it first`);
    }
    await mkdir(this.dir, { recursive: true });
    await writeStyleFile(path, style);
    return path;
  }

  async delete(name: string): Promise<boolean> {
    if (!(await this.has(name))) return false;
    await rm(this.path(name));
    return true;
  }

  /** Descriptions of every stored style (read from the file headers only). */
  async list(): Promise<(StyleInfo & { file: string })[]> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const out: (StyleInfo & { file: string })[] = [];
    for (const f of files.filter((f) => f.endsWith('.safetensors')).sort()) {
      const file = join(this.dir, f);
      try {
        const h = await readSafetensorsHeader(file);
        out.push({ ...(JSON.parse(h.metadata['pairstyle.style']) as StyleInfo), name: f.replace(/\.safetensors$/, ''), file });
      } catch {
        // A file that is not a readable style is skipped, not fatal to listing.
      }
    }
    return out;
  }

  filePath(name: string): string {
    return this.path(name);
  }
}
