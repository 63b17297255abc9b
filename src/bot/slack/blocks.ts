/** A platform-neutral Reply as Slack text + Block Kit buttons. */
import type { types } from '@slack/bolt';
import type { Reply } from '../../../commands/types.ts';

/** Discord-flavoured markdown -> Slack mrkdwn (bold). */
export const mrkdwn = (s: string) => s.replace(/\*\*(.+?)\*\*/g, '*$1*');

export function slackBlocks(reply: Reply) {
  const text = mrkdwn(reply.text).slice(0, 2900);
  const blocks: types.KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  if (reply.buttons?.length) {
    blocks.push({
      type: 'actions',
      elements: reply.buttons.slice(0, 5).map((b) => ({
        type: 'button' as const,
        action_id: b.id,
        text: { type: 'plain_text' as const, text: b.label },
        ...(b.style === 'danger' || b.style === 'primary' ? { style: b.style } : {}),
      })),
    });
  }
  return { text, blocks };
}
