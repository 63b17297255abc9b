/**
 * The pretest step (test/install-prerequisites.ts), run as npm runs it, on a PATH made for each case:
 * a folder that holds only what the case needs. apt-get there is a shell script that records how it was
 * called and, asked to install redis-server, puts an executable of that name beside itself; nothing is
 * installed on this machine.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = 'test/install-prerequisites.ts';
const folders: string[] = [];
afterEach(() => folders.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function pathFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pairstyle-prereq-'));
  folders.push(dir);
  return dir;
}

function executable(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/** An apt-get that appends its arguments to apt-get.log and, on install of redis-server, provides one. */
function fakeAptGet(dir: string): void {
  executable(
    join(dir, 'apt-get'),
    `echo "$DEBIAN_FRONTEND $*" >> "${dir}/apt-get.log"\ncase "$*" in *install*redis-server*) printf '#!/bin/sh\\n' > "${dir}/redis-server"; /bin/chmod 755 "${dir}/redis-server";; esac`,
  );
}

function pretest(dir: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT], { env: { PATH: dir, HOME: process.env.HOME }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const aptCalls = (dir: string): string[] => (existsSync(join(dir, 'apt-get.log')) ? readFileSync(join(dir, 'apt-get.log'), 'utf8').trim().split('\n') : []);
const chromiumHere = existsSync('/usr/bin/chromium');

describe('npm test set-up (pretest)', () => {
  it('does nothing when redis-server and Chromium are there', () => {
    const dir = pathFolder();
    executable(join(dir, 'redis-server'), 'exit 0');
    fakeAptGet(dir);
    const r = pretest(dir);
    expect(r.status, r.out).toBe(0);
    if (chromiumHere) {
      expect(r.out).toBe('');
      expect(aptCalls(dir)).toEqual([]);
    }
  });

  it('stops with what to install when redis-server is missing and apt-get cannot be used', () => {
    const r = pretest(pathFolder());
    expect(r.status).toBe(1);
    expect(r.out).toContain('redis-server: the BullMQ tests start their own redis-server');
    expect(r.out).toContain('apt-get is not on PATH');
    expect(r.out).toMatch(/Install it yourself, e\.g\. sudo apt-get install redis-server/);
    expect(r.out).toContain('redis-server is still missing: stopping');
  });

  it('installs what is missing with apt-get (update, then install of exactly those packages), as root', () => {
    const dir = pathFolder();
    fakeAptGet(dir);
    const r = pretest(dir);
    if (process.getuid?.() !== 0) {
      // Not root and no sudo on this PATH: it says so and stops.
      expect(r.status).toBe(1);
      expect(r.out).toContain('this is not root and sudo is not available without a password');
      return;
    }
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('Installing redis-server');
    const packages = chromiumHere ? 'redis-server' : 'redis-server chromium';
    expect(aptCalls(dir)).toEqual(['noninteractive update -qq', `noninteractive install -y -qq ${packages}`]);
  });
});
