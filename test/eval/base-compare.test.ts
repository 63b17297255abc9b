/**
 * eval:base-compare, the comparison of two eval:base runs on the same captions, run as a user runs it
 * (a child process on two report files).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'base-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SUBJECTS = ['dog face', 'cat face', 'red apple', 'rocket'];

/** An eval:base report: ranks of the (a) and (b) pictures per caption, the artist judge's set for each. */
function report(
  name: string,
  o: {
    ranksA: (number | null)[];
    ranksB?: (number | null)[];
    artistA?: string[];
    steps?: number;
    cfg?: number;
    captions?: string[];
    noSwapped?: boolean;
    identityJudge?: string;
  },
): string {
  const file = join(dir, `${name}.json`);
  const captions = SUBJECTS.map((subject, i) => ({
    seed: 0,
    subject,
    set: 'noto',
    ...(o.noSwapped ? {} : { swappedSet: 'twemoji' }),
    a: { caption: o.captions?.[i] ?? `${subject} in noto style`, top5: [], rank: o.ranksA[i]!, artist: o.artistA?.[i] ?? 'noto' },
    b: { caption: `${subject} in twemoji style`, top5: [], rank: (o.ranksB ?? o.ranksA)[i]!, artist: 'twemoji' },
  }));
  writeFileSync(
    file,
    JSON.stringify({
      model: { dir: `models/${name}`, id: 'emoji-mini', hash: name },
      settings: {
        captions: 4,
        perSeed: 4,
        seeds: [0],
        steps: o.steps ?? 30,
        cfg: o.cfg ?? 5,
        sampler: 'ddim',
        batch: 16,
        ...(o.identityJudge === undefined ? {} : { identityJudge: o.identityJudge }),
      },
      captions,
    }),
  );
  return file;
}

const compare = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/eval-base-compare.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

describe('eval:base-compare', () => {
  it('gives each run its recognition and B minus A on the same resamples of the captions', () => {
    const a = report('a', { ranksA: [1, 3, null, null], artistA: ['noto', 'noto', 'fluent', 'noto'] });
    const b = report('b', { ranksA: [1, 3, 2, null] });
    const r = compare(a, b);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/4 captions, the same in both runs/);
    // Only caption 3 changed: it entered the top-5 (rank 2), so top-5 rose by 1 of 4 captions; top-1 did not move.
    expect(r.stdout).toMatch(/\(a\) top-1 +25\.0 \[[^\]]+\] +25\.0 \[[^\]]+\] +\+0\.0 \[0\.0, 0\.0\] +inside the noise/);
    expect(r.stdout).toMatch(/\(a\) top-5 +50\.0 \[[^\]]+\] +75\.0 \[[^\]]+\] +\+25\.0 \[0\.0, 75\.0\] +inside the noise/);
    // The artist judge put A's third picture in Fluent: 3 of 4 in the prompted set against 4 of 4.
    expect(r.stdout).toMatch(/\(a\) drawn in the prompted set +75\.0 \[[^\]]+\] +100\.0 \[[^\]]+\] +\+25\.0/);
    expect(r.stdout).toMatch(/\(b\) drawn in the prompted set +100\.0 \[[^\]]+\] +100\.0/);
  });

  it("reads (b)'s prompted set off its caption in reports that do not record it", () => {
    const a = report('old', { ranksA: [1, 1, 1, 1], noSwapped: true });
    const r = compare(a, a);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\(b\) drawn in the prompted set +100\.0/);
  });

  it('refuses runs on other captions, with other settings, or that are not eval:base reports, saying which', () => {
    const a = report('a2', { ranksA: [1, 2, 3, 4] });
    const otherCaptions = compare(a, report('c', { ranksA: [1, 2, 3, 4], captions: ['dog face in noto style', 'pig face in noto style'] }));
    expect(otherCaptions.status).toBe(2);
    expect(otherCaptions.stderr).toMatch(
      /caption 2 differs \('cat face in noto style', seed 0 against 'pig face in noto style', seed 0\): not the same captions/,
    );
    const otherSteps = compare(a, report('d', { ranksA: [1, 2, 3, 4], steps: 50 }));
    expect(otherSteps.status).toBe(2);
    expect(otherSteps.stderr).toMatch(/the runs differ in steps \(30 against 50\): not the same drawing settings/);
    // --may-differ names the drawing settings compared instead; the others must still match, and the captions may not be named.
    const otherCfg = report('e', { ranksA: [1, 1, 2, 4], cfg: 3 });
    expect(compare(a, otherCfg).stderr).toMatch(/the runs differ in cfg \(5 against 3\)/);
    const byCfg = compare(a, otherCfg, '--may-differ', 'cfg');
    expect(byCfg.status).toBe(0);
    expect(byCfg.stdout).toMatch(/drawing settings that differ: cfg \(5 against 3\)/);
    expect(byCfg.stdout).toMatch(/\(a\) top-1 +25\.0 \[[^\]]+\] +50\.0/);
    const stillSteps = compare(a, report('f', { ranksA: [1, 2, 3, 4], steps: 50, cfg: 3 }), '--may-differ', 'cfg');
    expect(stillSteps.status).toBe(2);
    expect(stillSteps.stderr).toMatch(/the runs differ in steps \(30 against 50\)/);
    // Two identity judges are never compared caption by caption; a report that records none was judged by v3.
    const byV4 = report('v4', { ranksA: [1, 2, 3, 4], identityJudge: 'v4' });
    const otherJudge = compare(a, byV4);
    expect(otherJudge.status).toBe(2);
    expect(otherJudge.stderr).toMatch(/the runs differ in identityJudge \("v3" against "v4"\): not the same drawing settings/);
    expect(compare(a, byV4, '--may-differ', 'identityJudge').stderr).toMatch(
      /--may-differ identityJudge: two identity judges cannot be compared caption by caption/,
    );
    expect(compare(a, report('v3', { ranksA: [1, 2, 3, 4], identityJudge: 'v3' })).status).toBe(0);
    const seeds = compare(a, a, '--may-differ', 'seeds');
    expect(seeds.status).toBe(2);
    expect(seeds.stderr).toMatch(/--may-differ seeds: the runs must share their captions and seeds/);
    const notReport = join(dir, 'pair.json');
    writeFileSync(notReport, JSON.stringify({ pairs: [], settings: {} }));
    const wrongKind = compare(a, notReport);
    expect(wrongKind.status).toBe(2);
    expect(wrongKind.stderr).toMatch(/is not an eval:base report/);
    const one = compare(a);
    expect(one.status).toBe(2);
    expect(one.stderr).toMatch(/give two eval:base reports/);
  });
});
