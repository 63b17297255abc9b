/**
 * The training form on Slack: `/pairstyle train` with nothing after it opens a modal (views.open with
 * the command's trigger_id) with two file inputs, the "before" and the "after" picture (one each,
 * uploaded from the user's device; Slack's file_input element, which needs the files:read scope), the
 * style's name and, optionally, what the pair shows. Its submission is checked as the command is
 * (train-confirmation.ts checkTraining); a refusal is shown in the form, on the input it concerns
 * (response_action "errors"); otherwise the form closes and the training's confirmation is posted in
 * the channel the command came from. The pictures are downloaded only when Train is pressed.
 */
import type { types, ViewOutput } from '@slack/bolt';
import type { Options } from '../../../commands/index.ts';
import { t, type Locale } from '../../i18n/message.ts';
import { attachmentOf, type SlackFile, type SlackFileAccess } from './files.ts';

/** The form's callback_id. */
export const TRAIN_FORM = 'pst:train-form';

/** The picture types the file inputs offer (every upload is still checked by its bytes). */
const PICTURE_TYPES = ['png', 'jpg', 'jpeg', 'gif', 'webp'];

const pictureInput = (block: 'before' | 'after', label: string): types.InputBlock => ({
  type: 'input',
  block_id: block,
  label: { type: 'plain_text', text: label },
  element: { type: 'file_input', action_id: 'file', filetypes: PICTURE_TYPES, max_files: 1 },
});

const textInput = (block: 'name' | 'subject', label: string, maxLength: number, optional: boolean, hint: string): types.InputBlock => ({
  type: 'input',
  block_id: block,
  optional,
  label: { type: 'plain_text', text: label },
  hint: { type: 'plain_text', text: hint },
  element: { type: 'plain_text_input', action_id: 'text', max_length: maxLength },
});

/** The form for a training asked for in `channel`, in the user's language. */
export function trainFormView(channel: string, locale: Locale = 'en'): types.ModalView {
  return {
    type: 'modal',
    callback_id: TRAIN_FORM,
    private_metadata: JSON.stringify({ channel }),
    title: { type: 'plain_text', text: t(locale, 'slack.form.title') },
    submit: { type: 'plain_text', text: t(locale, 'slack.form.next') },
    close: { type: 'plain_text', text: t(locale, 'slack.form.cancel') },
    blocks: [
      pictureInput('before', t(locale, 'slack.form.before')),
      pictureInput('after', t(locale, 'slack.form.after')),
      textInput('name', t(locale, 'slack.form.name'), 32, false, t(locale, 'slack.form.name-hint')),
      textInput('subject', t(locale, 'slack.form.subject'), 60, true, t(locale, 'slack.form.subject-hint')),
    ],
  };
}

/** A submitted form as the training's raw options (its pictures as attachments) and the channel it was asked for in. */
export function trainFormOptions(view: ViewOutput, access: SlackFileAccess): { channel: string; options: Options } {
  const values = view.state.values;
  const picture = (block: string) => values[block]?.file?.files?.[0] as SlackFile | undefined;
  const text = (block: string) => values[block]?.text?.value?.trim() || undefined;
  let channel: unknown;
  try {
    channel = (JSON.parse(view.private_metadata) as { channel?: unknown }).channel;
  } catch {
    channel = undefined;
  }
  if (typeof channel !== 'string' || !channel) throw new Error('a training form without its channel');
  const before = picture('before');
  const after = picture('after');
  return {
    channel,
    options: {
      ...(before ? { content: attachmentOf(before, access) } : {}),
      ...(after ? { style: attachmentOf(after, access) } : {}),
      name: text('name'),
      subject: text('subject'),
    },
  };
}

/** The input of the form a refusal concerns (where Slack shows it): a picture's, else the name's. */
export function formErrorBlock(message: string): 'before' | 'after' | 'name' {
  if (/'content'|\bthe content (image|file)\b/.test(message)) return 'before';
  if (/'style'|\bthe style (image|file)\b/.test(message)) return 'after';
  return 'name';
}
