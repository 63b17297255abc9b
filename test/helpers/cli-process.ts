/**
 * The pairstyle command as a user runs it: `node bin/pairstyle.mjs ARGS` in a child process, with its
 * own environment, exit status, stdout and stderr. Options for the cases a test cannot set up with
 * files alone:
 * - `unprivileged`: run as nobody (uid/gid 65534) when the tests run as root, so that file modes
 *   (a read-only folder, an unwritable file) apply to the command as they would to a user;
 * - `fullDisk`: a folder whose disk holds only `freeBytes` more bytes (test/helpers/full-disk.mjs,
 *   loaded with --import: writes under it fail with ENOSPC, as the kernel answers on a full disk).
 */
import { spawn } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/pairstyle.mjs');
const FULL_DISK = pathToFileURL(join(ROOT, 'test/helpers/full-disk.mjs')).href;
const NOBODY = 65534;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  unprivileged?: boolean;
  fullDisk?: { dir: string; freeBytes: number };
  timeoutMs?: number;
}

/** True when `unprivileged` runs change the user (the tests run as root). */
export const runsAsRoot = (): boolean => process.getuid?.() === 0;

/** Makes test folders and files readable (and folders enterable) by the unprivileged user. */
export function shareWithNobody(...paths: string[]): void {
  for (const p of paths) chmodSync(p, 0o755);
}

/**
 * Throws a clear error when nobody cannot reach the checkout: a clone inside a folder without
 * permission for others (e.g. `mktemp -d`, mode 0700) would otherwise fail as an unreadable module.
 */
function assertNobodyCanRunCheckout(): void {
  const blocked: string[] = [];
  for (let dir = ROOT; ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) blocked.push(dir);
    if (dirname(dir) === dir) break;
  }
  if ((statSync(BIN).mode & 0o004) === 0) blocked.push(BIN);
  if (blocked.length > 0) {
    throw new Error(
      `this test runs the CLI as nobody (uid ${NOBODY}), who cannot reach the checkout: ${blocked.join(', ')} ` +
        'gives other users no access. Clone into a folder others can enter (e.g. chmod o+x on those folders).',
    );
  }
}

export function runPairstyle(args: readonly string[], opts: CliRunOptions = {}): Promise<CliRun> {
  // Only the settings the test gives: nothing of the developer's own PAIRSTYLE_* environment.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PAIRSTYLE_')));
  const env: NodeJS.ProcessEnv = { ...base, ...opts.env };
  if (opts.fullDisk)
    Object.assign(env, { PAIRSTYLE_TEST_FULL_DISK_DIR: resolve(opts.fullDisk.dir), PAIRSTYLE_TEST_FULL_DISK_FREE: String(opts.fullDisk.freeBytes) });
  const drop = opts.unprivileged && runsAsRoot() ? { uid: NOBODY, gid: NOBODY } : {};
  if ('uid' in drop) assertNobodyCanRunCheckout();
  const argv = [...(opts.fullDisk ? ['--import', FULL_DISK] : []), BIN, ...args];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, argv, { cwd: opts.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], ...drop });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
