/** /pairstyle list | delete | share | unshare | export: the user's style registry. */
import { loadStyle, withStyleSuggestions } from './style-names.ts';
import { CommandError, reply, type Command } from './types.ts';

const nameOption = (description: string) => [{ name: 'name', type: 'string' as const, required: true, autocomplete: true, maxLength: 32, description }];

export const list: Command = {
  name: 'list',
  description: 'Your styles, and the styles shared in this server/workspace',
  ephemeral: true,
  options: [],
  async run(ctx) {
    const { own, shared } = await ctx.registry.list(ctx.who);
    if (!own.length && !shared.length) return reply('You have no styles yet. Train one: `/pairstyle train content:<image> style:<image> name:<name>`');
    const line = (e: (typeof own)[number]) =>
      `• **${e.name}** — subject '${String(e.info.subject ?? '?')}', ${String(e.info.steps ?? '?')} steps, ${e.createdAt.slice(0, 10)}${e.shared ? ' (shared)' : ''}`;
    const parts = [];
    if (own.length) parts.push(`Your styles:\n${own.map(line).join('\n')}`);
    if (shared.length) parts.push(`Shared here by others:\n${shared.map((e) => `• **${e.name}** (by ${e.owner.user})`).join('\n')}`);
    return reply(parts.join('\n\n'));
  },
};

export const del: Command = {
  name: 'delete',
  description: 'Delete one of your styles',
  ephemeral: true,
  options: nameOption('the style to delete'),
  async run(ctx, o) {
    const e = await withStyleSuggestions(ctx, o.name as string, () => ctx.registry.delete(ctx.who, o.name as string, { isAdmin: ctx.isAdmin }));
    return reply(`🗑️ deleted style '${e.name}'${ctx.registry.isOwner(ctx.who, e) ? '' : ` (owned by ${e.owner.user})`}`);
  },
};

export const share: Command = {
  name: 'share',
  description: 'Let everyone in this server/workspace draw with one of your styles',
  ephemeral: true,
  options: nameOption('the style to share'),
  async run(ctx, o) {
    const e = await withStyleSuggestions(ctx, o.name as string, () => ctx.registry.setShared(ctx.who, o.name as string, true));
    return reply(`🔓 '${e.name}' is now shared here: anyone can draw with it (only you can delete it)`);
  },
};

export const unshare: Command = {
  name: 'unshare',
  description: 'Make a shared style private again',
  ephemeral: true,
  options: nameOption('the style to make private'),
  async run(ctx, o) {
    const e = await withStyleSuggestions(ctx, o.name as string, () => ctx.registry.setShared(ctx.who, o.name as string, false, { isAdmin: ctx.isAdmin }));
    return reply(`🔒 '${e.name}' is private again`);
  },
};

export const exportStyle: Command = {
  name: 'export',
  description: "Download one of your styles' LoRA weights (safetensors)",
  ephemeral: true,
  options: nameOption('the style to export'),
  async run(ctx, o) {
    const { entry, bytes } = await loadStyle(ctx, o.name as string);
    // Sharing lends a style for drawing in the workspace; a copy would outlive an unshare.
    if (!ctx.registry.isOwner(ctx.who, entry)) throw new CommandError(`'${entry.name}' is shared with you for drawing only: only its owner can export it`);
    const info = entry.info;
    return reply(
      `📦 style '${entry.name}' (rank ${String(info.rank ?? '?')}, base model ${String(info.baseModel ?? '?')}): LoRA weights in diffusers' safetensors layout`,
      { files: [{ name: `${entry.name}.safetensors`, data: bytes }] },
    );
  },
};
