/** /pairstyle help: how to use PairStyle. */
import { defineCommand, reply } from './types.ts';

export const HELP = `**PairStyle** learns a style from ONE before/after pair and draws anything in it.
• \`/pairstyle train content:<image> style:<image> name:<name> [subject:<text>]\` — learn a style (a minute or two)
• \`/pairstyle draw prompt:<text> [style:<name>] [strength:0-10] [seed] [steps]\` — styled beside unstyled, same seed; several styles weighted: \`style:openmoji::2 crayon::1\`
• \`/pairstyle stylize image:<picture> [style:<name>] [strength:0-10] [keep:0-0.95]\` — your picture redrawn in the style, beside its plain reconstruction
• \`/pairstyle blend style_a:<name> style_b:<name> [prompt] [ratio:0-1]\` — a mix, or a strip from A to B (\`style_a:openmoji::3 style_b:crayon::1\`: one picture, 3:1)
Under a result: 🎲 Reroll (a new seed), 🔀 Vary (a close variation of the picture), Strength −/+.
• \`/pairstyle list\` · \`delete name\` · \`share name\` · \`unshare name\` · \`export name\` · \`status\`
Styles are private to you until you share them in this server/workspace.`;

export const help = defineCommand({
  name: 'help',
  description: 'How to use PairStyle',
  ephemeral: true,
  options: [],
  async run() {
    return reply(HELP);
  },
});
