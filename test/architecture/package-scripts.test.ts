/**
 * Every script in scripts/ has its npm script (package.json "scripts"), and every file an npm script
 * runs exists: `npm run` lists everything there is to run.
 */
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
