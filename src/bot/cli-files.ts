/**
 * The command line's files: every path it will write is checked before any work starts (a folder
 * where a file is wanted, a folder that does not exist, a file or folder it may not write, two outputs
 * on one file), and outputs are written whole (temp files, fsync, then renames) so that a full disk or
 * a kill never leaves a truncated picture or style file. Problems are OutputPathErrors: one line for
 * the user (src/bot/cli-main.ts prints it and exits 2).
 */
import { constants } from 'node:fs';
import { access, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { UserError } from '../errors/user-error.ts';
import { removeStaleTemps, syncDirectory, writeTempFile } from '../formats/safetensors.ts';

/** A path the command cannot write (checked before the work), or a write that failed (a full disk). */
export class OutputPathError extends UserError {
  override name = 'OutputPathError';
}

/** A file-system failure in words for the user ('no space left on the disk'), or undefined for other errors. */
export function fileProblem(e: unknown): string | undefined {
  switch ((e as NodeJS.ErrnoException)?.code) {
    case 'ENOSPC':
      return 'no space left on the disk';
    case 'EDQUOT':
      return 'over the disk quota';
    case 'EROFS':
      return 'the disk is read-only';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'it is a folder';
    case 'ENOENT':
      return 'a folder on the path does not exist';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'EIO':
      return 'the disk reported an input/output error';
    default:
      return undefined;
  }
}

const statOf = (p: string) => stat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
const writable = (p: string) =>
  access(p, constants.W_OK).then(
    () => undefined,
    (e: unknown) => fileProblem(e) ?? String(e),
  );

/**
 * Checks that `path` (given with `option`, e.g. '--out') can be written: not a folder, in a folder that
 * exists and may be written, itself writable if it exists. Returns the absolute path.
 */
export async function checkOutputFile(path: string, option: string): Promise<string> {
  const abs = resolve(path);
  const at = `${option} ${path}`;
  const self = await statOf(abs).catch((e) => {
    throw new OutputPathError(`${at}: cannot be used (${fileProblem(e) ?? String(e)})`);
  });
  if (self?.isDirectory()) throw new OutputPathError(`${at} is a folder: give a file name, e.g. ${option} ${path.replace(/\/+$/, '')}/picture.png`);
  const dir = dirname(abs);
  const parent = await statOf(dir).catch(() => undefined);
  if (!parent) throw new OutputPathError(`${at}: the folder ${dirname(path)} does not exist; create it first`);
  if (!parent.isDirectory()) throw new OutputPathError(`${at}: ${dirname(path)} is not a folder`);
  const dirProblem = await writable(dir);
  if (dirProblem) throw new OutputPathError(`${at}: the folder ${dirname(path)} cannot be written (${dirProblem})`);
  if (self) {
    const fileProblemText = await writable(abs);
    if (fileProblemText) throw new OutputPathError(`${at}: the file cannot be written (${fileProblemText})`);
  }
  return abs;
}

/** Refuses two outputs of one command on the same file (one would silently overwrite the other). */
export function checkDistinctOutputs(outputs: readonly { option: string; path: string }[]): void {
  for (let i = 0; i < outputs.length; i++) {
    for (let j = i + 1; j < outputs.length; j++) {
      if (resolve(outputs[i].path) === resolve(outputs[j].path)) {
        throw new OutputPathError(`${outputs[i].option} and ${outputs[j].option} name the same file (${outputs[j].path}): give them different names`);
      }
    }
  }
}

/**
 * Makes sure folder `dir` exists (created if missing) and may be written; `what` names it for the user
 * ('PAIRSTYLE_HOME (./data)'), `hint` says what to do.
 */
export async function checkWritableFolder(dir: string, what: string, hint: string): Promise<void> {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const s = await statOf(d).catch(() => undefined);
    if (s && !s.isDirectory()) throw new OutputPathError(`${what}: ${d} is a file, not a folder; ${hint}`);
    if (s || dirname(d) === d) break;
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new OutputPathError(`${what}: cannot write ${dir} (${fileProblem(e) ?? String(e)}); ${hint}`);
  }
  const problem = await writable(dir);
  if (problem) throw new OutputPathError(`${what}: cannot write ${dir} (${problem}); ${hint}`);
}

/**
 * Writes every output whole, all or none: each to a temp file beside it (fsynced), then the renames.
 * A failure (a full disk) removes the temp files, leaves existing files as they were, and becomes an
 * OutputPathError naming the option and the reason.
 */
export async function writeOutputs(outputs: readonly { option: string; path: string; bytes: Uint8Array }[]): Promise<void> {
  const temps: string[] = [];
  const fail = (o: { option: string; path: string }, e: unknown, kept: string): never => {
    const problem = fileProblem(e);
    if (!problem) throw e;
    throw new OutputPathError(`could not write ${o.option} ${o.path}: ${problem} (${kept})`);
  };
  for (const o of outputs) {
    await removeStaleTemps(dirname(resolve(o.path)), basename(o.path));
    try {
      temps.push(await writeTempFile(o.path, o.bytes));
    } catch (e) {
      await Promise.all(temps.map((t) => unlink(t).catch(() => {})));
      fail(o, e, outputs.length > 1 ? 'no output was written' : 'the file was not changed');
    }
  }
  for (const [i, o] of outputs.entries()) {
    try {
      await rename(temps[i], o.path);
    } catch (e) {
      await Promise.all(temps.slice(i).map((t) => unlink(t).catch(() => {})));
      fail(
        o,
        e,
        i === 0
          ? 'no output was written'
          : `only ${outputs
              .slice(0, i)
              .map((x) => x.path)
              .join(', ')} was written`,
      );
    }
  }
  for (const dir of new Set(outputs.map((o) => dirname(resolve(o.path))))) await syncDirectory(dir);
}
