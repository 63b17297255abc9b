/**
 * Pictures inside a bot message on Slack. A message cannot carry file bytes, but its image blocks may
 * show a Slack file by id (`slack_file`, png/jpeg/gif, one the poster can see). So pictures are uploaded
 * with files.uploadV2 without a channel (private to the bot: nothing appears in the channel by itself),
 * then named in the message's blocks. Slack processes an upload asynchronously and refuses blocks that
 * name a file it has not processed yet (`invalid_blocks`); its `mimetype` in files.info stays empty until
 * then, so the upload is polled until it has one. Files a message no longer shows (a progress preview
 * replaced by a newer one, or by the final pictures) are deleted.
 */
import type { webApi } from '@slack/bolt';
import type { ResultImage } from '../../queue/job.ts';

type WebClient = webApi.WebClient;

/** The longest wait for Slack to process an upload (ms) before giving up on showing it in a message. */
export const DEFAULT_PROCESSING_WAIT_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Uploads `images` privately and waits until Slack can show them in a message: their file ids, in
 * order, or undefined when Slack did not process them within `waitMs` (they are deleted again).
 */
export async function uploadForMessage(client: WebClient, images: readonly ResultImage[], waitMs = DEFAULT_PROCESSING_WAIT_MS): Promise<string[] | undefined> {
  const res = (await client.files.uploadV2({
    file_uploads: images.map((i) => ({ file: Buffer.from(i.png), filename: i.name, alt_text: i.name })),
  })) as { files?: { files?: { id?: string }[] }[] };
  const ids = (res.files ?? []).flatMap((c) => (c.files ?? []).map((f) => f.id)).filter((id): id is string => !!id);
  if (ids.length !== images.length) {
    await deleteFiles(client, ids);
    return undefined;
  }
  if (await processed(client, ids, waitMs)) return ids;
  await deleteFiles(client, ids);
  return undefined;
}

/** Whether Slack has processed every file within `waitMs` (polling files.info: 100 ms, doubling, at most 1 s apart). */
async function processed(client: WebClient, ids: string[], waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  const pending = new Set(ids);
  for (let delay = 100; ; delay = Math.min(1000, delay * 2)) {
    for (const id of [...pending]) {
      const info = await client.files.info({ file: id });
      if (info.file?.mimetype) pending.delete(id);
    }
    if (!pending.size) return true;
    if (Date.now() + delay > deadline) return false;
    await sleep(delay);
  }
}

/** Deletes the bot's own files (pictures no message shows any more); a failure is only logged by the caller. */
export async function deleteFiles(client: WebClient, ids: readonly string[]): Promise<void> {
  for (const id of ids) await client.files.delete({ file: id });
}
