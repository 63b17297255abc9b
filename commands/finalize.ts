/**
 * A finished job's final reply, made from the job alone (its arguments and result), so the same reply
 * can be made by the command that queued it or, after a restart, by whichever adapter resumes it. A
 * train job stores its style here: the style becomes visible when its reply is made. Storing is
 * idempotent (the registry records the job's id with the style), so finalising a job again after a
 * crash finds the style stored and gives the same answer. A finished training that cannot be stored
 * (the store is full, the per-user limit was reached meanwhile, the name was taken meanwhile) is not
 * thrown away: the reply says why and carries the style file.
 */
import type { Job, Variation } from '../src/queue/job.ts';
import { isStoreFull } from '../src/store/store-full.ts';
import type { StyleRegistry } from '../src/store/style-registry.ts';
import { unfinishedReply } from './render.ts';
import type { Button, Reply } from './types.ts';

export function drawButtons(job: Job): Button[] {
  // A stylization is deterministic (DDIM inversion): rerolling would give the same picture.
  const buttons: Button[] = job.kind === 'stylize' ? [] : [{ id: `ps:reroll:${job.id}`, label: '🎲 Reroll' }];
  // A close variation of this picture: the same settings with another seed's noise mixed in.
  if (job.kind !== 'train') buttons.push({ id: `ps:vary:${job.id}`, label: '🔀 Vary' });
  if ((job.kind === 'draw' || job.kind === 'stylize') && job.args.styles.length)
    buttons.push({ id: `ps:weaker:${job.id}`, label: 'Strength −' }, { id: `ps:stronger:${job.id}`, label: 'Strength +' });
  return buttons;
}

export async function finalizeJob(registry: StyleRegistry, job: Job): Promise<Reply> {
  if (job.status !== 'done' || !job.result) return unfinishedReply(job);
  const r = job.result;
  switch (job.kind) {
    case 'train': {
      const name = job.args.name;
      try {
        await registry.put(job.owner, name, r.style!.bytes, r.style!.info, { overwrite: job.args.overwrite, jobId: job.id });
      } catch (e) {
        const why = notStoredReason(e);
        if (!why) throw e;
        return {
          text: `⚠️ learned style **${name}** in ${r.seconds.toFixed(0)} s, but could not save it: ${why}. Nothing is lost: its weights are attached as ${name}.safetensors (LoRA, diffusers layout); keep the file.`,
          images: r.images,
          files: [{ name: `${name}.safetensors`, data: r.style!.bytes }],
        };
      }
      const notices = (job.args.notices ?? []).map((n) => `\nℹ️ ${n}`).join('');
      return {
        text: `✅ learned style **${name}** in ${r.seconds.toFixed(0)} s. The pair, then sample prompts unstyled and in the style. Draw with \`/pairstyle draw prompt:… style:${name}\`${notices}`,
        images: r.images,
      };
    }
    case 'draw': {
      const args = job.args;
      const s = args.styles.map((x) => `style **${x.style.name}** at strength ${x.weight}`).join(' + ') || 'no style';
      return {
        text: `🎨 '${args.prompt}', ${s}, seed ${args.seed}${variationText(args.variation)}, ${args.steps} steps (${r.seconds.toFixed(1)} s)${args.styles.length ? ': unstyled | styled' : ''}`,
        images: r.images,
        buttons: drawButtons(job),
      };
    }
    case 'blend': {
      const args = job.args;
      const how =
        args.ratio !== undefined
          ? `${Math.round((1 - args.ratio) * 100)}% ${args.a.name} / ${Math.round(args.ratio * 100)}% ${args.b.name}`
          : `from ${args.a.name} (left) to ${args.b.name} (right)`;
      return {
        text: `🎨 '${args.prompt}' blended ${how}, strength ${args.strength}, seed ${args.seed}${variationText(args.variation)}`,
        images: r.images,
        buttons: drawButtons(job),
      };
    }
    case 'stylize': {
      const args = job.args;
      const s = args.styles.map((x) => `style **${x.style.name}** at strength ${x.weight}`).join(' + ') || 'no style';
      const notices = (args.notices ?? []).map((n) => `\nℹ️ ${n}`).join('');
      return {
        text: `🖌️ '${args.imageName}' in ${s}${r.text ? `, ${r.text}` : ''}${variationText(args.variation)} (${r.seconds.toFixed(1)} s): ${args.styles.length ? 'plain reconstruction | styled' : 'plain reconstruction'}${notices}`,
        images: r.images,
        buttons: drawButtons(job),
      };
    }
  }
}

/** ", variation 123 (0.3)" for a picture made by the vary button. */
const variationText = (v: Variation | undefined): string => (v ? `, variation ${v.seed} (${v.strength})` : '');

/** Why a finished training could not be stored, for its user; undefined for an unexpected failure. */
function notStoredReason(e: unknown): string | undefined {
  if (isStoreFull(e)) return "the bot's style storage is full (tell the bot's operator; train again once there is room)";
  const err = e as Error;
  if (err?.name === 'RegistryError' || err?.name === 'StoreBusyError' || err?.name === 'StoreUnavailableError') return err.message.replace(/[.\s]+$/, '');
  return undefined;
}
