/**
 * A finished job's final reply, made from the job alone (its arguments and result), so the same reply
 * can be made by the command that queued it or, after a restart, by whichever adapter resumes it. A
 * train job stores its style here, with the pictures it was trained from (kept for /pairstyle retrain):
 * the style becomes visible when its reply is made. Storing is
 * idempotent (the registry records the job's id with the style), so finalising a job again after a
 * crash finds the style stored and gives the same answer. A finished training that cannot be stored
 * (the store is full, the per-user limit was reached meanwhile, the name was taken meanwhile) is not
 * thrown away: the reply says why and carries the style file.
 */
import type { Job, TrainArgs, Variation } from '../src/queue/job.ts';
import { keptPicture } from '../src/images/io.ts';
import { encodeKeptPairs } from '../src/store/kept-pairs.ts';
import { isStoreFull } from '../src/store/store-full.ts';
import type { StyleRegistry } from '../src/store/style-registry.ts';
import { messageIn } from '../src/errors/user-error.ts';
import { msg, t, type Locale, type Param } from '../src/i18n/message.ts';
import { jobLocale, unfinishedReply } from './render.ts';
import type { Button, Reply } from './types.ts';

export function drawButtons(job: Job, locale: Locale = jobLocale(job)): Button[] {
  // A stylization is deterministic (DDIM inversion): rerolling would give the same picture.
  const buttons: Button[] = job.kind === 'stylize' ? [] : [{ id: `ps:reroll:${job.id}`, label: t(locale, 'button.reroll') }];
  // A close variation of this picture: the same settings with another seed's noise mixed in.
  if (job.kind !== 'train') buttons.push({ id: `ps:vary:${job.id}`, label: t(locale, 'button.vary') });
  if ((job.kind === 'draw' || job.kind === 'stylize') && job.args.styles.length)
    buttons.push({ id: `ps:weaker:${job.id}`, label: t(locale, 'button.weaker') }, { id: `ps:stronger:${job.id}`, label: t(locale, 'button.stronger') });
  return buttons;
}

/** The styles of a draw or stylization: "style **a** at strength 3 + style **b** at strength 1", or "no style". */
const stylesText = (styles: readonly { style: { name: string }; weight: number }[], locale: Locale): string =>
  styles.map((x) => t(locale, 'final.style-at', { name: x.style.name, weight: x.weight })).join(' + ') || t(locale, 'final.no-style');

/** The notices a command stored with its job (already in its user's language), one line each. */
const noticeLines = (notices: readonly string[] | undefined, locale: Locale): string =>
  (notices ?? []).map((notice) => t(locale, 'final.notice', { notice })).join('');

/** What the stylize task reports beside its pictures ("keep 0.8, 30 steps", workers/tasks/bot-jobs.ts), in the user's language. */
function stylizeDetail(text: string): Param {
  const m = /^keep ([\d.]+), (\d+) steps$/.exec(text);
  return m ? msg('final.keep-steps', { keep: m[1]!, steps: m[2]! }) : text;
}

/** A training's pictures and settings as the store keeps them (src/store/kept-pairs.ts), each picture made smaller by `keptPicture`. */
export async function keptPairsOf(args: TrainArgs): Promise<Uint8Array> {
  const uploads = [{ content: args.content, style: args.style }, ...(args.extraPairs ?? [])];
  const pairs = await Promise.all(uploads.map(async (p) => ({ content: await keptPicture(p.content), style: await keptPicture(p.style) })));
  return encodeKeptPairs({ pairs, subject: args.subject, steps: args.steps, labels: args.pairLabels });
}

export async function finalizeJob(registry: StyleRegistry, job: Job): Promise<Reply> {
  if (job.status !== 'done' || !job.result) return unfinishedReply(job);
  const r = job.result;
  const locale = jobLocale(job);
  switch (job.kind) {
    case 'train': {
      const name = job.args.name;
      // The pictures it was trained from, kept for `/pairstyle retrain` (a style stored without them still works).
      const pairs = await keptPairsOf(job.args).catch(() => undefined);
      try {
        await registry.put(job.owner, name, r.style!.bytes, r.style!.info, { overwrite: job.args.overwrite, jobId: job.id, ...(pairs ? { pairs } : {}) });
      } catch (e) {
        const why = notStoredReason(e, locale);
        if (!why) throw e;
        return {
          text: t(locale, 'final.not-saved', { name, seconds: r.seconds.toFixed(0), why }),
          images: r.images,
          files: [{ name: `${name}.safetensors`, data: r.style!.bytes }],
        };
      }
      return {
        text: t(locale, 'final.trained', { name, seconds: r.seconds.toFixed(0), notices: noticeLines(job.args.notices, locale) }),
        images: r.images,
      };
    }
    case 'draw': {
      const args = job.args;
      return {
        text: t(locale, 'final.drawn', {
          prompt: args.prompt,
          styles: stylesText(args.styles, locale),
          seed: args.seed,
          variation: variationText(args.variation),
          steps: args.steps,
          seconds: r.seconds.toFixed(1),
          layout: args.styles.length ? msg('final.unstyled-styled') : '',
        }),
        images: r.images,
        buttons: drawButtons(job, locale),
      };
    }
    case 'blend': {
      const args = job.args;
      const how =
        args.ratio !== undefined
          ? msg('final.blend-ratio', { percentA: Math.round((1 - args.ratio) * 100), a: args.a.name, percentB: Math.round(args.ratio * 100), b: args.b.name })
          : msg('final.blend-strip', { a: args.a.name, b: args.b.name });
      return {
        text: t(locale, 'final.blended', { prompt: args.prompt, how, strength: args.strength, seed: args.seed, variation: variationText(args.variation) }),
        images: r.images,
        buttons: drawButtons(job, locale),
      };
    }
    case 'stylize': {
      const args = job.args;
      return {
        text: t(locale, 'final.stylized', {
          image: args.imageName,
          styles: stylesText(args.styles, locale),
          detail: r.text ? msg('final.detail', { detail: stylizeDetail(r.text) }) : '',
          variation: variationText(args.variation),
          seconds: r.seconds.toFixed(1),
          layout: msg(args.styles.length ? 'final.reconstruction-styled' : 'final.reconstruction'),
          notices: noticeLines(args.notices, locale),
        }),
        images: r.images,
        buttons: drawButtons(job, locale),
      };
    }
  }
}

/** ", variation 123 (0.3)" for a picture made by the vary button. */
const variationText = (v: Variation | undefined): Param => (v ? msg('final.variation', { seed: v.seed, strength: v.strength }) : '');

/** Why a finished training could not be stored, for its user in `locale`; undefined for an unexpected failure. */
function notStoredReason(e: unknown, locale: Locale): string | undefined {
  if (isStoreFull(e)) return t(locale, 'final.store-full');
  const err = e as Error;
  if (err?.name === 'RegistryError' || err?.name === 'StoreBusyError' || err?.name === 'StoreUnavailableError')
    return messageIn(err, locale).replace(/[.\s]+$/, '');
  return undefined;
}
