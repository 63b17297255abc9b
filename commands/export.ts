/** /pairstyle export name: one of the user's styles as a LoRA file (diffusers' safetensors layout). */
import { loadStyle, styleNameOption } from './style-names.ts';
import { msg, t } from '../src/i18n/message.ts';
import { CommandError, defineCommand, reply } from './types.ts';

export const exportStyle = defineCommand({
  name: 'export',
  description: msg('describe.export'),
  ephemeral: true,
  options: [styleNameOption(msg('describe.export.name'))],
  async run(ctx, o) {
    const { entry, bytes } = await loadStyle(ctx, o.name);
    // Sharing lends a style for drawing in the workspace; a copy would outlive an unshare.
    if (!ctx.registry.isOwner(ctx.who, entry)) throw new CommandError(msg('export.shared-only', { name: entry.name }));
    const info = entry.info;
    return reply(t(ctx.locale, 'export.done', { name: entry.name, rank: String(info.rank ?? '?'), model: String(info.baseModel ?? '?') }), {
      files: [{ name: `${entry.name}.safetensors`, data: bytes }],
    });
  },
});
