/**
 * The pair evaluation's statistics over pairs (src/eval/pair-curves.ts) and eval:pair-compare, the
 * comparison of two eval:pair runs on the same pairs, run as a user runs it (a child process on two
 * report files).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PairCurves, type PairSample, type UnstyledSample } from '../../src/eval/pair-curves.ts';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** A pair's pictures: per strength, how many of `n` subjects keep their identity and their P(target). */
function pairPictures(pair: number, curve: { w: number; agree: number; p: number }[], n = 4, unstyledP = 0.1, method = 'pair-guidance') {
  const styled: PairSample[] = curve.flatMap(({ w, agree, p }) =>
    Array.from({ length: n }, (_, subject) => ({
      pair,
      subject,
      method,
      weight: w,
      pTarget: p,
      distRatio: 1,
      agree: subject < agree,
      ssim: 0.8,
      leak: false,
      subjectTop5: true,
    })),
  );
  const unstyled: UnstyledSample[] = Array.from({ length: n }, () => ({ pair, pTarget: unstyledP, leak: false, subjectTop5: true }));
  return { styled, unstyled };
}

describe('PairCurves', () => {
  it('finds the style where identity agreement falls to 50%, interpolating on the crossing segment', () => {
    // agreement 1 -> 0.75 (w 1) -> 0.25 (w 2): crosses 0.5 halfway between w 1 (P 0.2) and w 2 (P 0.4).
    const { styled, unstyled } = pairPictures(0, [
      { w: 1, agree: 3, p: 0.2 },
      { w: 2, agree: 1, p: 0.4 },
      { w: 3, agree: 0, p: 0.9 },
    ]);
    const c = new PairCurves(styled, unstyled);
    expect(c.styleAtAgreement('pair-guidance', [1, 2, 3], [0])).toBeCloseTo(0.3, 10);
    expect(c.metricOver([0], 'pair-guidance', 1, 'identityAgreement')).toBeCloseTo(0.75, 10);
    expect(c.unstyledOver([0], 'pTarget')).toBeCloseTo(0.1, 10);
  });

  it('counts a pair twice when a resample draws it twice', () => {
    const a = pairPictures(0, [{ w: 1, agree: 4, p: 0.2 }]);
    const b = pairPictures(1, [{ w: 1, agree: 4, p: 0.6 }]);
    const c = new PairCurves([...a.styled, ...b.styled], [...a.unstyled, ...b.unstyled]);
    expect(c.metricOver([0, 1], 'pair-guidance', 1, 'pTarget')).toBeCloseTo(0.4, 10);
    expect(c.metricOver([1, 1, 0], 'pair-guidance', 1, 'pTarget')).toBeCloseTo((0.6 * 2 + 0.2) / 3, 10);
  });
});

describe('eval:pair-compare', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pair-compare-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const STRENGTHS = [1, 2];
  /** An eval:pair report of `pairs` pairs whose styled pictures have P(target) `p` at both strengths. */
  function report(
    name: string,
    o: {
      p: number;
      subjects?: string[];
      strengths?: number[];
      scales?: [number, number];
      samples?: boolean;
      schedule?: unknown;
      styleTimesteps?: number;
      cfg?: number;
      /** The run's --convs, and the method's own (convsByMethod). */
      convs?: boolean;
      methodConvs?: boolean;
      /** The modules the method's style adapter trained on (styleLayersByMethod). */
      styleLayers?: string;
      identityJudge?: string;
    },
  ): string {
    const pairs = ['dog face', 'cat face', 'red apple'].map((subject, i) => ({
      seed: 0,
      target: i < 2 ? 'openmoji' : 'fluent-hc',
      subject: o.subjects?.[i] ?? subject,
      drawSubjects: ['tree', 'house'],
    }));
    const pictures = pairs.map((_, i) =>
      pairPictures(i, [
        { w: 1, agree: 3, p: o.p },
        { w: 2, agree: 1, p: o.p + 0.1 + 0.05 * i },
      ]),
    );
    // A baseline by LoRA scale, at scales other than the strengths: agreement 0.75 at 0.5, 0.25 at 1.
    const baseline = pairs.map((_, i) =>
      pairPictures(
        i,
        [
          { w: o.scales?.[0] ?? 0.5, agree: 3, p: o.p },
          { w: o.scales?.[1] ?? 1, agree: 1, p: o.p + 0.1 },
        ],
        4,
        0.1,
        'pair-lora-scale',
      ),
    );
    const file = join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        model: { dir: `models/${name}`, id: name, hash: name },
        settings: {
          subjects: 2,
          strengths: o.strengths ?? STRENGTHS,
          steps: 30,
          cfg: o.cfg ?? 5,
          trainSteps: 100,
          rank: 8,
          seeds: [0],
          targets: ['openmoji', 'fluent-hc'],
          ...(o.schedule === null
            ? {}
            : { guidanceSchedules: { 'pair-guidance': o.schedule ?? { style: { every: 2, head: 1 }, cfg: { every: 2, head: 1 } } } }),
          ...(o.styleTimesteps === undefined ? {} : { styleTimesteps: { 'pair-guidance': o.styleTimesteps } }),
          ...(o.convs === undefined ? {} : { convs: o.convs }),
          ...(o.methodConvs === undefined ? {} : { convsByMethod: { 'pair-guidance': o.methodConvs } }),
          ...(o.styleLayers === undefined ? {} : { styleLayersByMethod: { 'pair-guidance': o.styleLayers } }),
          ...(o.identityJudge === undefined ? {} : { identityJudge: o.identityJudge }),
        },
        pairs,
        ...(o.samples === false
          ? {}
          : { samples: { styled: [...pictures, ...baseline].flatMap((x) => x.styled), unstyled: pictures.flatMap((x) => x.unstyled) } }),
      }),
    );
    return file;
  }
  const compare = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/eval-pair-compare.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

  it('gives each run its headline and B minus A on the same resamples of the pairs', () => {
    const a = report('a', { p: 0.2 });
    const b = report('b', { p: 0.3 });
    const out = join(dir, 'cmp.json');
    const r = compare(a, b, '--out', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Every pair moved by exactly +0.1 at every strength: the difference is 0.1 on every resample, its interval a point.
    expect(r.stdout).toMatch(
      /all targets \(3 pairs\):\n {2}headline: A 0\.\d+ \[[^\]]+\], B 0\.\d+ \[[^\]]+\]; B - A \+0\.100 \[0\.100, 0\.100\] \(apart from 0\)/,
    );
    expect(r.stdout).toMatch(/openmoji \(2 pairs\)/);
    expect(r.stdout).toMatch(/fluent-hc \(1 pairs\)/);
    expect(r.stdout).toMatch(
      /strength 1: P\(target\) B - A \+0\.100 \[0\.100, 0\.100\] \(apart from 0\); identity agreement B - A \+0\.000 \[0\.000, 0\.000\] \(inside the noise\)/,
    );
    // A baseline's headline walks its own LoRA scales (0.5, 1), not the strengths: halfway between them.
    const byScale = compare(a, b, '--method', 'pair-lora-scale');
    expect(byScale.status).toBe(0);
    expect(byScale.stdout).toMatch(/headline: A 0\.250 \[0\.250, 0\.250\], B 0\.350 \[0\.350, 0\.350\]; B - A \+0\.100 \[0\.100, 0\.100\]/);
    const same = compare(a, a);
    expect(same.stdout).toMatch(/headline: A [^;]+; B - A \+0\.000 \[0\.000, 0\.000\] \(inside the noise\)/);
  });

  it('refuses runs on other pairs, with other settings, without samples, or unreadable, saying which', () => {
    const a = report('a2', { p: 0.2 });
    const otherPairs = compare(a, report('c', { p: 0.2, subjects: ['dog face', 'pig face', 'red apple'] }));
    expect(otherPairs.status).toBe(2);
    expect(otherPairs.stderr).toMatch(/pair 2 differs: cat face \(seed 0, openmoji\) against pig face/);
    const otherStrengths = compare(a, report('d', { p: 0.2, strengths: [1, 3] }));
    expect(otherStrengths.status).toBe(2);
    expect(otherStrengths.stderr).toMatch(/setting strengths differs: \[1,2\] against \[1,3\]/);
    const otherCfg = report('k', { p: 0.3, cfg: 3 });
    expect(compare(a, otherCfg).stderr).toMatch(/setting cfg differs: 5 against 3/);
    const byCfg = compare(a, otherCfg, '--may-differ', 'cfg');
    expect(byCfg.status).toBe(0);
    expect(byCfg.stdout).toMatch(/settings that differ: cfg 5 in A, 3 in B/);
    // Identity agreement by two judges is not compared; a report that records none was judged by v3.
    const otherJudge = compare(a, report('v4', { p: 0.2, identityJudge: 'v4' }));
    expect(otherJudge.status).toBe(2);
    expect(otherJudge.stderr).toMatch(/setting identityJudge differs: "?v3"? against "?v4"?/);
    expect(compare(a, report('v3', { p: 0.2, identityJudge: 'v3' })).status).toBe(0);
    const mayNot = compare(a, a, '--may-differ', 'strengths');
    expect(mayNot.status).toBe(2);
    expect(mayNot.stderr).toMatch(/--may-differ strengths: only steps, cfg, trainSteps, rank may differ/);
    const old = compare(a, report('e', { p: 0.2, samples: false }));
    expect(old.status).toBe(2);
    expect(old.stderr).toMatch(/no per-picture samples: it was written by an earlier eval:pair; run it again/);
    const otherSchedule = compare(a, report('f', { p: 0.2, schedule: { style: { every: 2, head: 0 }, cfg: { every: 1, head: 0 } } }));
    expect(otherSchedule.status).toBe(2);
    expect(otherSchedule.stderr).toMatch(/method pair-guidance drew with another guidance schedule in each run/);
    const noSchedules = compare(a, report('g', { p: 0.2, schedule: null }));
    expect(noSchedules.status).toBe(2);
    expect(noSchedules.stderr).toMatch(/does not record its guidance schedules/);
    const otherWindow = compare(a, report('i', { p: 0.2, styleTimesteps: 0.5 }));
    expect(otherWindow.status).toBe(2);
    expect(otherWindow.stderr).toMatch(/method pair-guidance trained its style row on another share of the noise schedule in each run: 1 against 0\.5/);
    const allowed = compare(a, join(dir, 'i.json'), '--training-may-differ');
    expect(allowed.status).toBe(0);
    expect(allowed.stdout).toMatch(/the style row trained on the lowest 1 of the noise schedule in A, 0\.5 in B/);
    // A report from before the window was recorded trained on all of the schedule.
    expect(compare(a, report('j', { p: 0.2, styleTimesteps: 1 })).status).toBe(0);
    // The adapters' layers: the method's own (convsByMethod) before the run's --convs; a report with neither trained on attention only.
    const otherLayers = compare(a, report('l', { p: 0.2, convs: false, methodConvs: true }));
    expect(otherLayers.status).toBe(2);
    expect(otherLayers.stderr).toMatch(
      /method pair-guidance trained its adapters on other layers in each run: attention only against attention and resnet convolutions \(--training-may-differ compares them\)/,
    );
    const layersAllowed = compare(a, join(dir, 'l.json'), '--training-may-differ');
    expect(layersAllowed.status).toBe(0);
    expect(layersAllowed.stdout).toMatch(/adapters on attention only in A, attention and resnet convolutions in B/);
    expect(compare(report('m', { p: 0.2, convs: true }), join(dir, 'l.json')).status).toBe(0);
    expect(compare(a, report('n', { p: 0.2, convs: true, methodConvs: false })).status).toBe(0);
    // The style adapter's modules (styleLayersByMethod); a report without them trained it on all.
    const otherModules = compare(a, report('o', { p: 0.2, styleLayers: 'up-blocks' }));
    expect(otherModules.status).toBe(2);
    expect(otherModules.stderr).toMatch(/method pair-guidance trained its style adapter on other modules in each run: all against up-blocks/);
    const modulesAllowed = compare(a, join(dir, 'o.json'), '--training-may-differ');
    expect(modulesAllowed.status).toBe(0);
    expect(modulesAllowed.stdout).toMatch(/the style adapter on all modules in A, up-blocks in B/);
    expect(compare(a, report('q', { p: 0.2, styleLayers: 'all' })).status).toBe(0);
    const missing = compare(a, join(dir, 'nope.json'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.json/);
    const method = compare(a, a, '--method', 'dreambooth-lora');
    expect(method.status).toBe(2);
    expect(method.stderr).toMatch(/has no pictures of method dreambooth-lora \(its methods: pair-guidance, pair-lora-scale\)/);
    const otherScales = compare(a, report('h', { p: 0.2, scales: [0.5, 2] }), '--method', 'pair-lora-scale');
    expect(otherScales.status).toBe(2);
    expect(otherScales.stderr).toMatch(/method pair-lora-scale drew at weights \[0\.5,1\] in .*a2\.json and \[0\.5,2\] in .*h\.json/);
    // Two methods of one run (--method-b): their schedules may differ, their weights must match.
    const twoMethods = compare(a, a, '--method-b', 'pair-lora-scale');
    expect(twoMethods.status).toBe(2);
    expect(twoMethods.stderr).toMatch(
      /method pair-guidance \(A\) against pair-lora-scale \(B\) drew at weights \[1,2\] in .*a2\.json and \[0\.5,1\] in .*a2\.json/,
    );
    const sameWeights = report('o', { p: 0.2, scales: [1, 2] });
    const byMethod = compare(sameWeights, sameWeights, '--method-b', 'pair-lora-scale');
    expect(byMethod.stderr).toBe('');
    expect(byMethod.status).toBe(0);
    expect(byMethod.stdout).toMatch(/method pair-guidance \(A\) against pair-lora-scale \(B\); 3 pairs/);
    // A is the guided method's curve, B the baseline's (pair-guidance's P rises by 0.05 per pair at weight 2; the baseline's does not).
    expect(byMethod.stdout).toMatch(/all targets \(3 pairs\):\n {2}headline: A 0\.275 \[0\.250, 0\.300\], B 0\.250 \[0\.250, 0\.250\]; B - A -0\.025/);
    const one = compare(a);
    expect(one.status).toBe(2);
    expect(one.stderr).toMatch(/give two eval:pair reports/);
  });
});
