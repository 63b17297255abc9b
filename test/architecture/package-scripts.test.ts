/**
 * Every script in scripts/ has its npm script (package.json "scripts"), and every file an npm script
 * runs exists: `npm run` lists everything there is to run. And the code cites no tracker issue by number:
 * the tracker is not in the repository, so "(issue 16)" or "#21" tells a reader nothing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const npmScripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const commands = Object.values(npmScripts);

describe('package.json scripts', () => {
  it('run every script in scripts/ (scripts/lib/ holds what they share)', () => {
    const files = readdirSync(join(ROOT, 'scripts')).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(0);
    const unlisted = files.filter((f) => !commands.some((c) => c.split(/\s+/).includes(`scripts/${f}`)));
    expect(unlisted, 'add an npm script for each').toEqual([]);
  });

  it('name only files that exist', () => {
    const named = commands.flatMap((c) => c.split(/\s+/).filter((w) => /^(scripts|src|test|workers)\/\S+\.(ts|mjs)$/.test(w)));
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((f) => !existsSync(join(ROOT, f)))).toEqual([]);
  });
});

/** Folders of code, what scripts and tests share, and the tests. */
const CODE = ['src', 'scripts', 'commands', 'workers', 'config', 'bin', 'testing', 'test'];
/** This file, whose examples cite on purpose. */
const SELF = 'test/architecture/package-scripts.test.ts';
/** "issue 16", "Issue #21", "issues 3 and 4". */
const ISSUE_WORD = /\bissues?\s*#?\d+/i;
/** A bare "#18" (after a space or bracket, before a space, bracket or punctuation); in script files only, where CSS colours do not stand so. */
const BARE_NUMBER = /(?:^|[\s([])#\d{1,5}(?=[\s).,:;\]]|$)/m;

/** The lines of `text` that cite an issue number. */
function issueCitations(text: string, scriptFile: boolean): string[] {
  return text.split('\n').filter((line) => ISSUE_WORD.test(line) || (scriptFile && BARE_NUMBER.test(line)));
}

describe('the code cites no tracker issue numbers', () => {
  it('finds the ways of citing one, and not colours or other numbers', () => {
    expect(issueCitations('// the fix (issue 16)', true)).toHaveLength(1);
    expect(issueCitations('/* see issue #21 */', true)).toHaveLength(1);
    expect(issueCitations('// as in #18, the cap holds', true)).toHaveLength(1);
    expect(issueCitations(`fill="#222" stroke='#333' n = a#1; // 3 issues here`, true)).toEqual([]);
    expect(issueCitations('  background: #111; }', false)).toEqual([]);
  });

  it(`in ${CODE.join('/, ')}/`, () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', ...CODE], { cwd: ROOT, encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter((f) => f && f !== SELF && existsSync(join(ROOT, f)));
    expect(files.length).toBeGreaterThan(100);
    const cited: string[] = [];
    for (const f of files) {
      const bytes = readFileSync(join(ROOT, f));
      if (bytes.includes(0)) continue; // binary
      for (const line of issueCitations(bytes.toString('utf8'), /\.(ts|mjs|js)$/.test(f))) cited.push(`${f}: ${line.trim()}`);
    }
    expect(cited, 'name the reason instead of the issue number').toEqual([]);
  });
});
