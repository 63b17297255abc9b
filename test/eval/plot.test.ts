import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { niceTicks, plotPng, plotSvg } from '../../src/eval/plot.ts';

const panel = {
  title: 'style vs content',
  xLabel: 'SSIM',
  yLabel: 'P(openmoji)',
  series: [
    {
      name: 'method <a>',
      points: [
        { x: 1, y: 0.1, label: '0' },
        { x: 0.8, y: 0.5, label: '2' },
      ],
    },
    {
      name: 'baseline',
      dashed: true,
      points: [
        { x: 1, y: 0.1 },
        { x: 0.6, y: 0.3 },
        { x: 0.4, y: Number.NaN },
      ],
    },
  ],
};

describe('plot', () => {
  it('writes a PNG of the expected size with a legend entry per series', async () => {
    const svg = plotSvg([panel, panel], { title: 'T', panelWidth: 300, panelHeight: 200 });
    expect(svg).toContain('method &#60;a&#62;');
    expect(svg.match(/<polyline/g)).toHaveLength(4);
    const png = await plotPng([panel, panel], { title: 'T', panelWidth: 300, panelHeight: 200 });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(600);
    expect(meta.height).toBeGreaterThan(200);
  });

  it('the legend takes fewer columns when a name would run into the next one', () => {
    const legendXs = (svg: string) => [...new Set([...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" font-size="11">/g)].map((m) => Number(m[1])))];
    const named = (name: string) => ({ ...panel, series: [0, 1, 2, 3].map((i) => ({ ...panel.series[0], name: `${name} ${i}` })) });
    expect(legendXs(plotSvg([named('short'), named('short'), named('short')]))).toHaveLength(3);
    expect(legendXs(plotSvg([named('a'.repeat(90)), named('a'.repeat(90)), named('a'.repeat(90))]))).toHaveLength(2);
    expect(legendXs(plotSvg([named('a'.repeat(200)), named('a'.repeat(200)), named('a'.repeat(200))]))).toHaveLength(1);
  });

  it('niceTicks uses 1/2/5 steps', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.13, 0.61, 4)).toEqual([0.2, 0.4, 0.6]);
    expect(niceTicks(0, 30, 6)).toEqual([0, 5, 10, 15, 20, 25, 30]);
  });
});
