/** A platform-neutral Reply as Slack text + Block Kit images (Slack files shown by id) and buttons. */
import type { types } from '@slack/bolt';
import type { Reply } from '../../../commands/types.ts';

/** Discord-flavoured markdown -> Slack mrkdwn (bold). */
export const mrkdwn = (s: string) => s.replace(/\*\*(.+?)\*\*/g, '*$1*');

/**
 * Slack's three control characters escaped (https://api.slack.com/reference/surfaces/formatting#escaping):
 * a prompt, style subject or name typed as `<!channel>`, `<@U…>` or `<https://…|…>` is shown as typed
 * instead of pinging, mentioning or linking. The bot's own texts use no Slack `<…>` syntax, so the whole
 * text is escaped: no user-supplied part can be missed.
 */
export const escapeSlack = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A reply text (or an error line) as a Slack message text: escaped, then mrkdwn, within Slack's length. */
export const slackText = (s: string) => mrkdwn(escapeSlack(s)).slice(0, 2900);

/**
 * The message of a reply; `imageFiles` are the Slack files (uploaded by the bot: src/bot/slack/message-images.ts)
 * of its images, shown between the text and the buttons.
 */
export function slackBlocks(reply: Reply, imageFiles: readonly string[] = []) {
  const text = slackText(reply.text);
  const blocks: types.KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  imageFiles.forEach((id, i) => {
    const name = reply.images?.[i]?.name ?? 'picture';
    blocks.push({ type: 'image', slack_file: { id }, alt_text: name, title: { type: 'plain_text', text: name } });
  });
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
