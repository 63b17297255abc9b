/**
 * The pairstyle command line: train a style from a pair, draw with it, blend two styles, manage the
 * registry in PAIRSTYLE_HOME/styles (default ./data/styles).
 */
import { join } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { checkedModelConfig, modelRuntimeConfig } from '../../config/model.ts';
import { DiffusionPipeline } from '../pipeline/diffusion-pipeline.ts';
import { loadModelOf } from '../pipeline/load-model.ts';
import { SAMPLERS, type SamplerName } from '../diffusion/samplers.ts';
import { DEVICES, PRECISIONS } from '../graph/device.ts';
import { checkDevice } from '../graph/providers.ts';
import { gridPng } from '../images/grid.ts';
import { imagePng, loadImage } from '../images/io.ts';
import { unitToRgb } from '../formats/pixels.ts';
import type { UNet2DConditionConfig } from '../models/unet-config.ts';
import { blendStrip, drawMixes, drawStyled, type WeightedStyle } from '../pair/draw.ts';
import { encodeStyleAs, STYLE_FORMATS, type StyleFormat } from '../pair/portable.ts';
import { checkStyleFitsModel } from '../pair/style-fit.ts';
import { MAX_PAIRS } from '../queue/job.ts';
import { pairDefaultsFor, trainPair } from '../pair/train.ts';
import { STYLIZE_DEFAULTS, stylizeImage, stylizeInjectionOf } from '../pair/stylize.ts';
import { checkStyleName, StyleDirectory } from '../store/style-directory.ts';
import { parseDecimal, printable, textProblem, visibleText } from '../../commands/options.ts';
import { say } from '../i18n/message.ts';
import { parseStyleList, styleWeights } from '../../commands/weighted-styles.ts';
import { checkDistinctOutputs, checkOutputFile, checkWritableFolder, fileProblem, OutputPathError, writeOutputs } from './cli-files.ts';
import { MIN_IMAGE_SIDE } from '../images/io.ts';
import { UserError } from '../errors/user-error.ts';

export class UsageError extends UserError {
  override name = 'UsageError';
}

const USAGE = `usage: pairstyle <command> [options]

  train --content A.png --style B.png [--content C.png --style D.png ...] --name NAME [--subject TEXT] [--steps N]
        [--seed N] [--overwrite] [--json]      (up to 4 pairs of one style: each --content with its --style)
  draw "PROMPT" [--style "NAME[::W] ..." --strength S] [--seed N] [--steps N] [--cfg W] [--sampler ddim|euler|dpmpp2m]
       [--mode guidance|lora-scale] [--out styled.png] [--unstyled-out plain.png] [--scale K] [--json]
  stylize IMAGE --style "NAME[::W] ..." [--strength S] [--keep K] [--steps N] --out styled.png [--unstyled-out plain.png]
          [--inject resnets|attention|resnets+attention|none] [--inject-until U] [--scale K] [--json]
          (IMAGE redrawn in the style; keep 0-0.95: how much of its structure to keep; --inject: the layout
          held by the plain reconstruction's features for the first U (0-1] of the steps)
  blend NAME_A[::W] NAME_B[::W] --prompt "PROMPT" [--weights WA,WB | --strip K] [--strength S] [--seed N] --out FILE.png [--json]
  styles [--json]
  delete NAME
  export NAME --out FILE.safetensors [--format pairstyle|kohya|diffusers]

--style takes one style or several with relative weights, as in the bot: --style "openmoji::2 crayon::1" or
--style openmoji::2 --style crayon::1 (up to 4; the strength S is shared in proportion: here 2 and 1 of 3).
Weights on blend's names (a::3 b::1) draw one picture at that mix, like --weights with the strength shared.

train, draw, stylize and blend also take --device cpu|cuda and --precision fp32|fp16 (default: PAIRSTYLE_DEVICE,
PAIRSTYLE_PRECISION, else cpu and fp32; fp16 is for GPUs).

PAIRSTYLE_HOME chooses the registry directory (default ./data); PAIRSTYLE_MODEL the model (default: the
embedded emoji-mini model): a model folder, a diffusers SD 1.x or SDXL folder, or a .safetensors
checkpoint with PAIRSTYLE_TOKENIZER naming its tokenizer folder (SDXL: and PAIRSTYLE_TOKENIZER_2 its
second); PAIRSTYLE_IMAGE_SIZE a checkpoint's working size in pixels (default its own).`;

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
}

/** A number option, read as the bot reads numbers (commands/options.ts parseDecimal): no '', no hex, no 'Infinity'. */
const num = (v: string | undefined, name: string, def: number, min: number, max: number, integer = false): number => {
  if (v === undefined) return def;
  const n = parseDecimal(v);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got '${printable(v)}'`);
  }
  return n;
};

/** stylize's --inject and --inject-until as a feature injection (src/pair/stylize.ts), or null. */
function injectionOption(points: string | undefined, until: string | undefined) {
  if (points !== undefined && !/^[a-z+]+$/.test(points))
    throw new UsageError(`--inject must be resnets, attention, resnets+attention or none, got '${printable(points)}'`);
  const u = until === undefined ? undefined : num(until, 'inject-until', 1, 0.01, 1);
  try {
    return stylizeInjectionOf({ points, until: u });
  } catch (e) {
    throw new UsageError(`--inject: ${(e as Error).message.replace(/^feature injection: /, '')}`);
  }
}

/** A prompt, checked as the bot checks text (commands/options.ts): controls, bidi overrides, nothing visible. */
function checkPrompt(p: string | undefined): string {
  const problem = p === undefined ? undefined : textProblem(p);
  if (problem) throw new UsageError(`the prompt ${say(problem)}`);
  const text = p === undefined ? '' : visibleText(p);
  if (!text) throw new UsageError('give a prompt, e.g. pairstyle draw "cat face"');
  if (text.length > 200) throw new UsageError(`the prompt is ${text.length} characters long; keep it under 200`);
  return text;
}

/**
 * `--name -1` as `--name=-1` for the string options: parseArgs would take '-1' for an option, and the
 * answer would be its "unknown option" instead of the option's own range message.
 */
function attachNegativeValues(args: readonly string[], options: ParseArgsOptionsConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([\w-]+)$/.exec(args[i]);
    if (m && options[m[1]]?.type === 'string' && i + 1 < args.length && /^-[\d.]/.test(args[i + 1])) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

/**
 * The --style values (one or repeated) as one weighted list, read as the bot reads it
 * (commands/weighted-styles.ts): each style from the directory, `strength` shared by the weights.
 */
async function stylesOf(registry: StyleDirectory, values: string[] | undefined, strength: number): Promise<WeightedStyle[] | undefined> {
  if (!values?.length) return undefined;
  const list = parseStyleList(values.join(' '));
  const weights = styleWeights(list, strength);
  const out: WeightedStyle[] = [];
  for (const [i, s] of list.entries()) {
    const style = await registry.get(s.name);
    if (!style) throw new UsageError(`no style named '${s.name}' (see: pairstyle styles)`);
    out.push({ style, weight: weights[i] });
  }
  return out;
}

/** "style 'a'", or "styles 'a' 2 + 'b' 1" for a weighted list. */
const stylesText = (styles: readonly WeightedStyle[]): string =>
  styles.length === 1 ? `style '${styles[0].style.info.name}'` : `styles ${styles.map((s) => `'${s.style.info.name}' ${s.weight}`).join(' + ')}`;

/** The styles in --json output: `style` (the names, joined by ' + ') and `styles` with their weights. */
const stylesJson = (styles: readonly WeightedStyle[]) => ({
  style: styles.map((s) => s.style.info.name).join(' + '),
  styles: styles.map((s) => ({ name: s.style.info.name, weight: s.weight })),
});

/** The commands that run the model take these beside their own options. */
const RUNTIME_OPTIONS = { device: { type: 'string' }, precision: { type: 'string' } } as const;

export async function runCli(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  const home = env.PAIRSTYLE_HOME || './data';
  const registry = new StyleDirectory(join(home, 'styles'));
  const parse = (options: ParseArgsOptionsConfig) => {
    try {
      return parseArgs({ args: attachNegativeValues(rest, options), options, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  };
  /**
   * The configured model on --device / --precision (default PAIRSTYLE_DEVICE / PAIRSTYLE_PRECISION).
   * The device is checked before the model is read: a checkpoint takes a while to load.
   */
  const openModel = async (a: Record<string, unknown>) => {
    const device = a.device as string | undefined;
    const precision = a.precision as string | undefined;
    if (device !== undefined && !(DEVICES as readonly string[]).includes(device))
      throw new UsageError(`--device must be ${DEVICES.join(' or ')}, got '${device}'`);
    if (precision !== undefined && !(PRECISIONS as readonly string[]).includes(precision))
      throw new UsageError(`--precision must be ${PRECISIONS.join(' or ')}, got '${precision}'`);
    const modelEnv = { ...env, PAIRSTYLE_DEVICE: device ?? env.PAIRSTYLE_DEVICE, PAIRSTYLE_PRECISION: precision ?? env.PAIRSTYLE_PRECISION };
    const runtime = modelRuntimeConfig(modelEnv);
    checkDevice(runtime.device);
    return { model: await loadModelOf(checkedModelConfig(modelEnv)), runtime };
  };
  const json = (v: unknown) => io.out(JSON.stringify(v));
  switch (command) {
    case 'train': {
      const { values: a } = parse({
        content: { type: 'string', multiple: true },
        style: { type: 'string', multiple: true },
        name: { type: 'string' },
        subject: { type: 'string' },
        steps: { type: 'string' },
        seed: { type: 'string' },
        overwrite: { type: 'boolean' },
        json: { type: 'boolean' },
        ...RUNTIME_OPTIONS,
      });
      const contents = (a.content as string[] | undefined) ?? [];
      const styles = (a.style as string[] | undefined) ?? [];
      if (!contents.length || !styles.length || !a.name)
        throw new UsageError('train needs --content A.png --style B.png --name NAME (repeat --content and --style for more pairs)');
      if (contents.length !== styles.length)
        throw new UsageError(
          `train needs as many --style as --content images (one style image per pair): got ${contents.length} --content and ${styles.length} --style`,
        );
      if (contents.length > MAX_PAIRS) throw new UsageError(`train takes at most ${MAX_PAIRS} pairs; got ${contents.length}`);
      const name = checkStyleName(a.name as string);
      const seed = num(a.seed as string | undefined, 'seed', 0, 0, 2 ** 31 - 1, true);
      if (a.subject !== undefined) {
        const problem = textProblem(a.subject as string);
        if (problem) throw new UsageError(`--subject ${say(problem)}`);
      }
      // Where the style will go, before anything is trained.
      await checkWritableFolder(registry.dir, `PAIRSTYLE_HOME (${home})`, 'set PAIRSTYLE_HOME to a folder you can write');
      if (!a.overwrite && (await registry.has(name))) throw new UsageError(`a style named '${name}' exists already: choose another name or add --overwrite`);
      const { model, runtime } = await openModel(a);
      const steps = num(a.steps as string | undefined, 'steps', pairDefaultsFor(model).steps, 10, 5000, true);
      const picture = (option: 'content' | 'style', file: string) => readPicture(`--${option} ${file}`, file, model.imageSize);
      const pairs = [];
      for (let k = 0; k < contents.length; k++) {
        const pair = { content: await picture('content', contents[k]), style: await picture('style', styles[k]) };
        if (samePicture(pair.content, pair.style)) {
          throw new UsageError(
            `the content and style pictures${contents.length > 1 ? ` of pair ${k + 1}` : ''} are the same at the model's ${model.imageSize}x${model.imageSize} pixels: the style is what changes between them, so give --style the picture redrawn in the new style`,
          );
        }
        pairs.push(pair);
      }
      const [{ content, style }, ...extraPairs] = pairs;
      const bar = progressBar(io, 'training');
      const r = await trainPair({
        model,
        content,
        style,
        extraPairs,
        name,
        subject: visibleText((a.subject as string | undefined) ?? '') || undefined,
        steps,
        seed,
        device: runtime.device,
        precision: runtime.precision,
        onProgress: (p) => bar(p.step, p.steps, `loss ${p.loss.toFixed(4)}${p.phase === 'content' ? ' (content warm-up)' : ''}`),
      });
      let file: string;
      try {
        file = await registry.put(r.style, { overwrite: Boolean(a.overwrite) });
      } catch (e) {
        const problem = fileProblem(e);
        if (!problem) throw e;
        throw new OutputPathError(
          `the training finished, but the style could not be stored in ${registry.dir}: ${problem}; ${problem.startsWith('no space') || problem.startsWith('over') ? 'free some space' : 'fix that'} and train again`,
        );
      }
      if (a.json) json({ name, file, steps, seconds: r.seconds, meanStepMs: r.meanStepMs, finalLoss: r.losses.at(-1), info: r.style.info });
      else
        io.out(
          `learned style '${name}' from ${pairs.length === 1 ? 'one pair' : `${pairs.length} pairs`} in ${r.seconds.toFixed(1)} s (${steps} steps, ${r.meanStepMs.toFixed(0)} ms/step): ${file}`,
        );
      return 0;
    }
    case 'draw': {
      const { values: a, positionals } = parse({
        style: { type: 'string', multiple: true },
        strength: { type: 'string' },
        seed: { type: 'string' },
        steps: { type: 'string' },
        cfg: { type: 'string' },
        sampler: { type: 'string' },
        mode: { type: 'string' },
        out: { type: 'string' },
        'unstyled-out': { type: 'string' },
        scale: { type: 'string' },
        json: { type: 'boolean' },
        ...RUNTIME_OPTIONS,
      });
      const prompt = checkPrompt(positionals[0]);
      const sampler = (a.sampler ?? 'ddim') as SamplerName;
      if (!SAMPLERS.includes(sampler)) throw new UsageError(`--sampler must be one of ${SAMPLERS.join(', ')}`);
      const mode = (a.mode ?? 'guidance') as 'guidance' | 'lora-scale';
      if (mode !== 'guidance' && mode !== 'lora-scale') throw new UsageError('--mode must be guidance or lora-scale');
      const opts = {
        prompt,
        seed: num(a.seed as string | undefined, 'seed', 0, 0, 2 ** 31 - 1, true),
        steps: num(a.steps as string | undefined, 'steps', 30, 1, 200, true),
        cfg: num(a.cfg as string | undefined, 'cfg', 5, 0, 30),
        sampler,
        mode,
      };
      const scale = num(a.scale as string | undefined, 'scale', 8, 1, 32, true);
      if (!a.style && a.strength !== undefined) throw new UsageError('--strength needs --style NAME');
      const strength = num(a.strength as string | undefined, 'strength', 3, 0, 10);
      const outFile = (a.out as string | undefined) ?? (a.style ? 'styled.png' : 'image.png');
      const plainFile = (a['unstyled-out'] as string | undefined) ?? outFile.replace(/(\.png)?$/i, '.unstyled.png');
      const outputs = a.style
        ? [
            { option: '--out', path: outFile },
            { option: '--unstyled-out', path: plainFile },
          ]
        : [{ option: '--out', path: outFile }];
      checkDistinctOutputs(outputs);
      for (const o of outputs) await checkOutputFile(o.path, o.option);
      const styles = await stylesOf(registry, a.style as string[] | undefined, strength);
      const { model, runtime } = await openModel(a);
      for (const s of styles ?? []) checkStyleFitsModel(s.style, model, 'cli');
      const pipe = new DiffusionPipeline(model, runtime);
      try {
        if (!styles) {
          const r = await drawMixes(pipe, [[]], opts);
          await writeOutputs([{ ...outputs[0], bytes: await imagePng(r.images[0], model.imageSize, scale) }]);
          if (a.json) json({ out: outFile, seconds: r.seconds, ...opts });
          else io.out(`drew '${prompt}' (seed ${opts.seed}) in ${r.seconds.toFixed(2)} s: ${outFile}`);
          return 0;
        }
        const r = await drawStyled(pipe, styles, opts);
        await writeOutputs([
          { ...outputs[0], bytes: await imagePng(r.styled, model.imageSize, scale) },
          { ...outputs[1], bytes: await imagePng(r.unstyled, model.imageSize, scale) },
        ]);
        if (a.json) json({ out: outFile, unstyledOut: plainFile, ...stylesJson(styles), strength, seconds: r.seconds, rowsPerStep: r.rowsPerStep, ...opts });
        else
          io.out(
            `drew '${prompt}' in ${stylesText(styles)} at strength ${strength} (seed ${opts.seed}) in ${r.seconds.toFixed(2)} s: ${outFile} (unstyled: ${plainFile})`,
          );
        return 0;
      } finally {
        await pipe.release();
      }
    }
    case 'stylize': {
      const { values: a, positionals } = parse({
        style: { type: 'string', multiple: true },
        strength: { type: 'string' },
        keep: { type: 'string' },
        steps: { type: 'string' },
        out: { type: 'string' },
        'unstyled-out': { type: 'string' },
        inject: { type: 'string' },
        'inject-until': { type: 'string' },
        scale: { type: 'string' },
        json: { type: 'boolean' },
        ...RUNTIME_OPTIONS,
      });
      if (positionals.length !== 1 || !a.style || !a.out)
        throw new UsageError('usage: pairstyle stylize IMAGE --style NAME --out styled.png (see: pairstyle help)');
      const file = positionals[0];
      const strength = num(a.strength as string | undefined, 'strength', STYLIZE_DEFAULTS.strength, 0, 10);
      const keep = num(a.keep as string | undefined, 'keep', STYLIZE_DEFAULTS.keep, 0, 0.95);
      const steps = num(a.steps as string | undefined, 'steps', STYLIZE_DEFAULTS.steps, 1, 200, true);
      const scale = num(a.scale as string | undefined, 'scale', 8, 1, 32, true);
      const injection = injectionOption(a.inject as string | undefined, a['inject-until'] as string | undefined);
      const outFile = a.out as string;
      const plainFile = (a['unstyled-out'] as string | undefined) ?? outFile.replace(/(\.png)?$/i, '.unstyled.png');
      const outputs = [
        { option: '--out', path: outFile },
        { option: '--unstyled-out', path: plainFile },
      ];
      checkDistinctOutputs(outputs);
      for (const o of outputs) await checkOutputFile(o.path, o.option);
      const styles = (await stylesOf(registry, a.style as string[], strength))!;
      const { model, runtime } = await openModel(a);
      for (const s of styles) checkStyleFitsModel(s.style, model, 'cli');
      const image = await readPicture(file, file, model.imageSize);
      const pipe = new DiffusionPipeline(model, runtime);
      try {
        const bar = progressBar(io, 'stylizing');
        const r = await stylizeImage(pipe, image, styles, {
          keep,
          steps,
          injection,
          onInvertStep: (done, total) => bar(done, total, '(inverting the picture)'),
          onStep: (i, total) => bar(i + 1, total, '(denoising in the style)'),
        });
        await writeOutputs([
          { ...outputs[0], bytes: await imagePng(r.styled, model.imageSize, scale) },
          { ...outputs[1], bytes: await imagePng(r.unstyled, model.imageSize, scale) },
        ]);
        if (a.json)
          json({
            out: outFile,
            unstyledOut: plainFile,
            image: file,
            ...stylesJson(styles),
            strength,
            keep,
            steps,
            injection,
            startStep: r.startStep,
            seconds: r.seconds,
          });
        else
          io.out(
            `stylized ${file} in ${stylesText(styles)} at strength ${strength}, keep ${keep} (${steps} steps) in ${r.seconds.toFixed(2)} s: ${outFile} (plain reconstruction: ${plainFile})`,
          );
        return 0;
      } finally {
        await pipe.release();
      }
    }
    case 'blend': {
      const { values: a, positionals } = parse({
        prompt: { type: 'string' },
        weights: { type: 'string' },
        strip: { type: 'string' },
        strength: { type: 'string' },
        seed: { type: 'string' },
        steps: { type: 'string' },
        cfg: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        ...RUNTIME_OPTIONS,
      });
      if (positionals.length !== 2) throw new UsageError('blend needs two style names: pairstyle blend NAME_A NAME_B --prompt "..." --out FILE.png');
      if (!a.out) throw new UsageError('blend needs --out FILE.png');
      if (a.weights && a.strip) throw new UsageError('give --weights or --strip, not both');
      const entries = positionals.map((p) => {
        const list = parseStyleList(p);
        if (list.length !== 1)
          throw new UsageError(`'${printable(p)}': blend takes one style per name (NAME_A NAME_B); for more, use draw --style "a::2 b::1 c::1"`);
        return list[0];
      });
      const weighted = entries.some((e) => e.weighted);
      if (weighted && (a.weights || a.strip))
        throw new UsageError(
          `weights on the names (${entries[0].name}::2 ${entries[1].name}::1) choose one picture: give them, --weights or --strip, only one`,
        );
      const prompt = checkPrompt(a.prompt as string | undefined);
      const opts = {
        prompt,
        seed: num(a.seed as string | undefined, 'seed', 0, 0, 2 ** 31 - 1, true),
        steps: num(a.steps as string | undefined, 'steps', 30, 1, 200, true),
        cfg: num(a.cfg as string | undefined, 'cfg', 5, 0, 30),
      };
      const k = num(a.strip as string | undefined, 'strip', 5, 2, 12, true);
      const strength = num(a.strength as string | undefined, 'strength', 3, 0, 10);
      let weights = a.weights ? (a.weights as string).split(',').map((v, i) => num(v, `weights[${i}]`, 0, 0, 10)) : undefined;
      if (weights && weights.length !== 2) throw new UsageError('--weights takes two numbers: WA,WB');
      if (weighted) weights = styleWeights(entries, strength);
      const out = { option: '--out', path: a.out as string };
      await checkOutputFile(out.path, out.option);
      const [sa, sb] = await Promise.all(entries.map((e) => registry.get(e.name)));
      entries.forEach((e, i) => {
        if (![sa, sb][i]) throw new UsageError(`no style named '${e.name}' (see: pairstyle styles)`);
      });
      const { model, runtime } = await openModel(a);
      for (const s of [sa!, sb!]) checkStyleFitsModel(s, model, 'cli');
      const pipe = new DiffusionPipeline(model, runtime);
      try {
        let tiles: { image: Float32Array; label: string }[];
        let seconds: number;
        if (weights) {
          const r = await drawMixes(
            pipe,
            [
              [
                { style: sa!, weight: weights[0] },
                { style: sb!, weight: weights[1] },
              ].filter((x) => x.weight > 0),
            ],
            opts,
          );
          tiles = [{ image: r.images[0], label: `${weights[0]} / ${weights[1]}` }];
          seconds = r.seconds;
        } else {
          const r = await blendStrip(pipe, sa!, sb!, strength, k, opts);
          tiles = r.images.map((image, i) => ({ image, label: `${(strength * (1 - i / (k - 1))).toFixed(1)} / ${((strength * i) / (k - 1)).toFixed(1)}` }));
          seconds = r.seconds;
        }
        const size = model.imageSize;
        const png =
          tiles.length === 1
            ? await imagePng(tiles[0].image, size, 8)
            : await gridPng(
                tiles.map((t) => ({ rgb: unitToRgb(t.image, size, size), width: size, height: size, label: t.label })),
                { columns: tiles.length, scale: 4, labelHeight: 16 },
              );
        await writeOutputs([{ ...out, bytes: png }]);
        if (a.json) json({ out: a.out, images: tiles.length, seconds, ...opts });
        else
          io.out(
            `blended '${entries[0].name}' and '${entries[1].name}' (${tiles.length} image${tiles.length > 1 ? 's' : ''}) in ${seconds.toFixed(2)} s: ${a.out}`,
          );
        return 0;
      } finally {
        await pipe.release();
      }
    }
    case 'styles': {
      const { values: a } = parse({ json: { type: 'boolean' } });
      const list = await registry.list();
      if (a.json) {
        json(
          list.map((s) =>
            s.info
              ? { name: s.name, subject: s.info.subject, steps: s.info.steps, seconds: s.info.seconds, created: s.info.created, baseModel: s.info.baseModel }
              : { name: s.name, problem: s.problem },
          ),
        );
      } else if (list.length === 0) io.out(`no styles yet in ${registry.dir} (train one: pairstyle train --content A.png --style B.png --name NAME)`);
      else {
        for (const s of list) {
          if (!s.info) io.out(`${s.name.padEnd(20)} cannot be read: ${printable(s.problem, 200)}`);
          else
            io.out(
              `${s.name.padEnd(20)} subject '${printable(s.info.subject ?? '?', 60)}', ${s.info.steps ?? '?'} steps, ${typeof s.info.created === 'string' ? printable(s.info.created.slice(0, 16)) : 'created unknown'}`,
            );
        }
      }
      return 0;
    }
    case 'delete': {
      const { positionals } = parse({});
      if (positionals.length !== 1) throw new UsageError('usage: pairstyle delete NAME');
      if (!(await registry.delete(positionals[0]))) throw new UsageError(`no style named '${positionals[0]}'`);
      io.out(`deleted style '${checkStyleName(positionals[0])}'`);
      return 0;
    }
    case 'export': {
      const { values: a, positionals } = parse({ out: { type: 'string' }, format: { type: 'string' } });
      if (positionals.length !== 1 || !a.out) throw new UsageError('usage: pairstyle export NAME --out FILE.safetensors [--format pairstyle|kohya|diffusers]');
      const format = (a.format ?? 'pairstyle') as StyleFormat;
      if (!STYLE_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${STYLE_FORMATS.join(', ')}`);
      const out = { option: '--out', path: a.out as string };
      await checkOutputFile(out.path, out.option);
      const style = await registry.get(positionals[0]);
      if (!style) throw new UsageError(`no style named '${positionals[0]}'`);
      let unet: UNet2DConditionConfig | undefined;
      if (format === 'kohya') {
        // kohya keys name the base checkpoint's own modules: take them from the configured model, which must be the style's.
        const model = await loadModelOf(checkedModelConfig(env));
        checkStyleFitsModel(style, model, 'cli');
        unet = model.unet;
      }
      await writeOutputs([{ ...out, bytes: encodeStyleAs(style, format, unet) }]);
      io.out(`exported style '${style.info.name}' (${format} layout) to ${a.out}`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
      io.out(USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command '${command}' (commands: train, draw, stylize, blend, styles, delete, export; see: pairstyle help)`);
  }
}

/** A picture file at the model's size; anything sharp cannot read as a picture is a UsageError naming `label`. */
function readPicture(label: string, file: string, size: number): Promise<Float32Array> {
  return loadImage(file, size, { minSide: MIN_IMAGE_SIDE }).catch((e) => {
    throw new UsageError(`${label}: ${(e as Error).message}`);
  });
}

/**
 * Two pictures of a pair that are the same at the model's size (at most 1/255 apart in every value):
 * nothing changes between them, so there is no style to learn.
 */
function samePicture(a: Float32Array, b: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 2 / 255) return false;
  return a.length === b.length;
}

/** A progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise. */
function progressBar(io: Io, label: string) {
  const t0 = performance.now();
  let lastTenth = -1;
  return (step: number, total: number, extra: string) => {
    const frac = step / total;
    const elapsed = (performance.now() - t0) / 1000;
    const eta = step ? (elapsed / step) * (total - step) : 0;
    const line = `${label} [${'#'.repeat(Math.round(frac * 24)).padEnd(24, '.')}] ${step}/${total} ${extra} ${elapsed.toFixed(0)}s elapsed, ${eta.toFixed(0)}s left`;
    if (io.isTTY) io.err(`\r${line}${step === total ? '\n' : ''}`);
    else if (Math.floor(frac * 10) > lastTenth || step === total) {
      lastTenth = Math.floor(frac * 10);
      io.err(`${line}\n`);
    }
  };
}
