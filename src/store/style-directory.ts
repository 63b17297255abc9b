/**
 * A style registry in a directory: one safetensors file per style (weights + description in its
 * metadata). A style appears only once its file is complete (written to a temp file, fsynced, renamed);
 * the temp files of writes that were killed are removed by the next put or list. Reading a style checks
 * its file (src/pair/style-file.ts); listing shows every file, readable or not. Used by the CLI
 * (PAIRSTYLE_HOME/styles); the bot keeps per-user registries in Keyv.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensorsHeader, removeStaleTemps } from '../formats/safetensors.ts';
import { readStyleFile, StyleFileError, writeStyleFile } from '../pair/style-file.ts';
import type { Style, StyleInfo } from '../pair/style.ts';
import { UserError } from '../errors/user-error.ts';
import { msg } from '../i18n/message.ts';

export const STYLE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** One file of the directory as `list` sees it: its description, or why it cannot be read. */
export interface ListedStyle {
  name: string;
  file: string;
  /** The description in the file's metadata (fields may be missing in files from elsewhere). */
  info?: Partial<StyleInfo>;
  problem?: string;
}

export class StyleNameError extends UserError {
  override name = 'StyleNameError';
}

export function checkStyleName(name: string): string {
  const n = name.trim().toLowerCase();
  if (!STYLE_NAME.test(n)) {
    throw new StyleNameError(msg('style.bad-name', { name }));
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

  /** The style, its file checked (StyleFileError naming the style when it is damaged or forged). */
  async get(name: string): Promise<Style | undefined> {
    if (!(await this.has(name))) return undefined;
    const label = `style '${checkStyleName(name)}'`;
    try {
      return await readStyleFile(this.path(name), label);
    } catch (e) {
      if ((e as Error).name === 'SafetensorsError')
        throw new StyleFileError(`${label} cannot be read: ${this.path(name)} is not a valid style file (${(e as Error).message})`);
      throw e;
    }
  }

  /** Stores a style; refuses to replace an existing one unless `overwrite`. */
  async put(style: Style, opts: { overwrite?: boolean } = {}): Promise<string> {
    const path = this.path(style.info.name);
    if (!opts.overwrite && (await this.has(style.info.name))) {
      throw new StyleNameError(`a style named '${style.info.name}' exists already: choose another name, or delete it first`);
    }
    await mkdir(this.dir, { recursive: true });
    await removeStaleTemps(this.dir);
    await writeStyleFile(path, style);
    return path;
  }

  async delete(name: string): Promise<boolean> {
    if (!(await this.has(name))) return false;
    await rm(this.path(name));
    return true;
  }

  /**
   * Every stored style by name, from the file headers only: its description, or why the file cannot be
   * read (one bad file never hides the others). Removes temp files of killed writes on the way.
   */
  async list(): Promise<ListedStyle[]> {
    await removeStaleTemps(this.dir);
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const out: ListedStyle[] = [];
    for (const f of files.filter((f) => f.endsWith('.safetensors') && !f.startsWith('.')).sort()) {
      const file = join(this.dir, f);
      const name = f.replace(/\.safetensors$/, '');
      try {
        const raw = (await readSafetensorsHeader(file)).metadata['pairstyle.style'];
        if (raw === undefined) throw new Error("no 'pairstyle.style' metadata (not a PairStyle style file)");
        const info = JSON.parse(raw) as unknown;
        if (!info || typeof info !== 'object' || Array.isArray(info)) throw new Error('the style metadata is not an object');
        out.push({ name, file, info: info as Partial<StyleInfo> });
      } catch (e) {
        out.push({ name, file, problem: String((e as Error)?.message ?? e).replace(`${file}: `, '') });
      }
    }
    return out;
  }

  filePath(name: string): string {
    return this.path(name);
  }
}
