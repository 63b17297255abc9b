/**
 * `npm test`'s set-up, run by npm as the `pretest` script: what the tests run besides Node and the npm
 * packages, installed when it is missing, so that the README's test command passes on a fresh machine.
 *
 *   redis-server  the BullMQ tests start their own throwaway server on 127.0.0.1 (testing/redis-server.ts)
 *   chromium      the playground's browser test drives /usr/bin/chromium (test/bot/playground.browser.test.ts)
 *
 * When both are there this does nothing. Otherwise it says what is missing and installs exactly those
 * Debian packages with apt-get (update, then install), as root, or through sudo when sudo needs no
 * password; nothing else is downloaded. Where apt-get cannot be used it says what to install; it stops
 * the test run (exit 1) only while redis-server is missing, since without Chromium the browser test is
 * skipped rather than failed.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

interface Prerequisite {
  /** The Debian package that brings it. */
  aptPackage: string;
  /** What the tests do with it. */
  usedBy: string;
  /** True when tests fail without it; false when they are skipped. */
  required: boolean;
  present(): boolean;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && isExecutable(join(dir, command)));
}

const PREREQUISITES: readonly Prerequisite[] = [
  { aptPackage: 'redis-server', usedBy: 'the BullMQ tests start their own redis-server on 127.0.0.1', required: true, present: () => onPath('redis-server') },
  {
    aptPackage: 'chromium',
    usedBy: "the playground's browser test drives /usr/bin/chromium (skipped without it)",
    required: false,
    present: () => isExecutable('/usr/bin/chromium'),
  },
];

/** How apt-get can run here (as root, or through password-less sudo), or why it cannot. */
function aptGet(): { argv: string[]; env: NodeJS.ProcessEnv } | { cannot: string } {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!onPath('apt-get')) return { cannot: 'apt-get is not on PATH (not a Debian or Ubuntu system?)' };
  if (process.getuid?.() === 0) return { argv: ['apt-get'], env };
  if (onPath('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) {
    return { argv: ['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get'], env };
  }
  return { cannot: 'this is not root and sudo is not available without a password' };
}

function run(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  console.log(`$ ${argv.join(' ')}`);
  return spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit', env }).status === 0;
}

const missing = PREREQUISITES.filter((p) => !p.present());
if (missing.length > 0) {
  const packages = missing.map((p) => p.aptPackage);
  console.log(`npm test: this machine lacks what some tests run:\n${missing.map((p) => `  - ${p.aptPackage}: ${p.usedBy}`).join('\n')}`);
  const apt = aptGet();
  if ('cannot' in apt) {
    console.log(`Cannot install it here: ${apt.cannot}. Install it yourself, e.g. sudo apt-get install ${packages.join(' ')}`);
  } else {
    console.log(`Installing ${packages.join(' ')} from the system's packages with apt-get (nothing else is downloaded):`);
    if (run([...apt.argv, 'update', '-qq'], apt.env)) run([...apt.argv, 'install', '-y', '-qq', ...packages], apt.env);
    if (packages.includes('redis-server'))
      console.log("(Debian's redis-server package may also start a Redis service on 127.0.0.1:6379; the tests do not use it.)");
  }
  let stop = false;
  for (const p of missing.filter((m) => !m.present())) {
    console.log(`${p.aptPackage} is still missing: ${p.required ? 'stopping, since the tests that use it would fail' : 'its test will be skipped'}.`);
    stop ||= p.required;
  }
  if (stop) process.exit(1);
}
