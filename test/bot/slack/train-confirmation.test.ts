/**
 * Slack training that its user can follow, through Bolt's HTTP receiver against the loopback fake Slack
 * Web API, on the tiny random model in the engine thread: the confirmation that shows the chosen pair
 * before anything is queued (Train / Swap / Cancel, only for the person who asked), then progress with a
 * preview and final images in the message that carries their buttons.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_COMMAND_LIMITS } from '../../../commands/types.ts';
import { decodeStyle } from '../../../src/pair/style-file.ts';
import { InProcessQueue } from '../../../src/queue/in-process.ts';
import { openKeyv } from '../../../src/store/open-keyv.ts';
import { StyleRegistry } from '../../../src/store/style-registry.ts';
import { FAKE_BOT_USER, FakeSlack, type FakeSlackMessage, type SlackCall } from '../../../testing/fake-slack.ts';
import { WorkerExecutor } from '../../../workers/executor.ts';
import { pngOf } from '../../helpers/bot-fixture.ts';
import { buttonPress, postSignedToSlack, slashCommand, startSlackApp, viewSubmission, type SlackAppFixture } from '../../helpers/slack-app.ts';
import { writeTinyModelFolder } from '../../helpers/tiny-model.ts';

const SECRET = 'test-signing-secret';
const BOT = 'xoxb-test';
const fake = new FakeSlack();
let slack: SlackAppFixture;
let n = 0;

beforeAll(async () => {
  const executor = new WorkerExecutor({ model: { dir: await writeTinyModelFolder() }, sampleSteps: 4, previewEveryMs: 0 });
  const backend = {
    queue: new InProcessQueue({ executors: [executor] }),
    registry: new StyleRegistry(await openKeyv('memory:')),
    limits: DEFAULT_COMMAND_LIMITS,
    minEditIntervalMs: 0,
    log: (m: string, e?: unknown) => console.error(m, e),
  };
  slack = await startSlackApp(fake, { botToken: BOT, signingSecret: SECRET, backend, slack: { previewEveryMs: 0, imageProcessingWaitMs: 1500 } });
});
afterAll(() => slack?.close());

const signed = (body: string) => postSignedToSlack(slack.url, SECRET, body);
const slash = (text: string, user: string) => slashCommand(fake, text, user, ++n);
const press = (actionId: string, user: string, ts: string) => buttonPress(fake, actionId, user, ++n, ts);
const responded = (path: string) => (c: SlackCall) => c.method === path.slice(1);
const jobsOf = (user: string) => slack.backend.queue.jobsOf({ platform: 'slack', workspace: 'T1', user });

type Block = { type: string; text?: { text: string }; accessory?: { slack_file?: { id: string } }; elements?: { action_id?: string }[] };
const blocksOf = (m: FakeSlackMessage | undefined) => (m?.blocks ?? []) as Block[];
/** The file ids the confirmation shows, in order, as [before, after] per pair. */
const shownPairs = (m: FakeSlackMessage | undefined) => {
  const ids = blocksOf(m)
    .filter((b) => b.type === 'section' && b.accessory?.slack_file)
    .map((b) => b.accessory!.slack_file!.id);
  return Array.from({ length: ids.length / 2 }, (_, i) => [ids[2 * i], ids[2 * i + 1]]);
};
const buttonIds = (m: FakeSlackMessage | undefined) => blocksOf(m).flatMap((b) => (b.type === 'actions' ? b.elements!.map((e) => e.action_id!) : []));
const idOf = (m: FakeSlackMessage | undefined, action: string) => buttonIds(m).find((id) => id.startsWith(`pst:${action}:`))!;
const imageBlockFiles = (m: FakeSlackMessage | undefined) =>
  blocksOf(m)
    .filter((b) => b.type === 'image')
    .map((b) => (b as { slack_file?: { id: string } }).slack_file?.id);

/** Runs `/pairstyle <text>` as `user` and returns the confirmation message the bot posted for it. */
async function confirmation(text: string, user: string): Promise<FakeSlackMessage> {
  const before = fake.calls.length;
  expect((await signed(slash(text, user).body)).status).toBe(200);
  const post = await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === 'chat.postMessage');
  const m = [...fake.messages.values()].find((x) => x.user === FAKE_BOT_USER && x.text === post.body.text && x.channel === 'C1');
  expect(m).toBeDefined();
  return m!;
}

describe('Slack training confirmation (Bolt, HTTP receiver, tiny model)', () => {
  it('shows the two latest images as before/after, in file order when one message shared both in the same second; Swap swaps; nothing is queued', async () => {
    fake.files.set('FOLDER001', { bytes: await pngOf('#777'), user: 'U1', created: 5, mimetype: 'image/png' });
    // One message with two images uploaded in the same second: before first, after second. Their ids
    // sort the other way, so only the message's order tells them apart.
    fake.files.set('FZZBEFORE', { bytes: await pngOf('#d22'), user: 'U1', created: 10, mimetype: 'image/png', name: 'before.png' });
    fake.files.set('FAAAFTER1', { bytes: await pngOf('#22d'), user: 'U1', created: 10, mimetype: 'image/png', name: 'after.png' });
    fake.shareFiles('C1', 'U1', ['FZZBEFORE', 'FAAAFTER1']);
    const m = await confirmation('train name:reds subject:"red disc"', 'U1');
    expect(shownPairs(m)).toEqual([['FZZBEFORE', 'FAAAFTER1']]);
    expect(m.text).toMatch(/reds/);
    expect(JSON.stringify(m.blocks)).toMatch(/before\.png.*after\.png/);
    expect(buttonIds(m).map((id) => id.split(':')[1])).toEqual(['train', 'swap', 'cancel']);
    expect(jobsOf('U1')).toEqual([]);

    const swap = press(idOf(m, 'swap'), 'U1', m.ts);
    expect((await signed(swap.body)).status).toBe(200);
    await expect.poll(() => shownPairs(fake.message('C1', m.ts))).toEqual([['FAAAFTER1', 'FZZBEFORE']]);
    expect(jobsOf('U1')).toEqual([]);
    // Swapped back for the training below.
    await signed(press(idOf(m, 'swap'), 'U1', m.ts).body);
    await expect.poll(() => shownPairs(fake.message('C1', m.ts))).toEqual([['FZZBEFORE', 'FAAAFTER1']]);
  });

  it('lists every pair given by file id, in order', async () => {
    const ids = ['FPAIR1BEF', 'FPAIR1AFT', 'FPAIR2BEF', 'FPAIR2AFT', 'FPAIR3BEF', 'FPAIR3AFT'];
    for (const [i, id] of ids.entries()) fake.files.set(id, { bytes: await pngOf(`#${i}${i}${i}`), user: 'U2', created: 20 + i, mimetype: 'image/png' });
    const m = await confirmation(
      `train name:trio content:${ids[0]} style:${ids[1]} content2:${ids[2]} style2:${ids[3]} content3:${ids[4]} style3:${ids[5]}`,
      'U2',
    );
    expect(shownPairs(m)).toEqual([
      [ids[0], ids[1]],
      [ids[2], ids[3]],
      [ids[4], ids[5]],
    ]);
    expect(JSON.stringify(m.blocks)).toMatch(/Pair 1.*Pair 2.*Pair 3/);
    expect(m.text).toMatch(/3 pairs/);
    // A picture Slack cannot show in a block (webp) is listed by name, without a thumbnail.
    fake.files.set('FWEBPAFT1', { bytes: await pngOf('#abc'), user: 'U2', created: 40, mimetype: 'image/webp', name: 'after.webp' });
    const w = await confirmation(`train name:webby content:${ids[0]} style:FWEBPAFT1`, 'U2');
    expect(JSON.stringify(w.blocks)).toMatch(/after\.webp/);
    expect(
      blocksOf(w)
        .filter((b) => b.accessory?.slack_file)
        .map((b) => b.accessory!.slack_file!.id),
    ).toEqual([ids[0]]);
  });

  it("refuses another user's press privately and leaves the confirmation as it was; Cancel removes it and queues nothing", async () => {
    fake.files.set('FU3BEFORE', { bytes: await pngOf('#d2d'), user: 'U3', created: 30, mimetype: 'image/png' });
    fake.files.set('FU3AFTER1', { bytes: await pngOf('#2dd'), user: 'U3', created: 31, mimetype: 'image/png' });
    const m = await confirmation('train name:pinks', 'U3');
    const shown = JSON.stringify(fake.message('C1', m.ts));
    for (const action of ['train', 'swap', 'cancel']) {
      const other = press(idOf(m, action), 'U4', m.ts);
      expect((await signed(other.body)).status).toBe(200);
      const r = await fake.waitFor(responded(other.respondPath));
      expect(r.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
      expect(String(r.body.text)).toMatch(/only the person who asked for this training can/);
    }
    expect(JSON.stringify(fake.message('C1', m.ts))).toBe(shown);
    expect(jobsOf('U4')).toEqual([]);
    expect(jobsOf('U3')).toEqual([]);

    await signed(press(idOf(m, 'cancel'), 'U3', m.ts).body);
    await expect.poll(() => fake.message('C1', m.ts)).toBeUndefined();
    expect(jobsOf('U3')).toEqual([]);
    // Its buttons are gone with it: a press that was already on its way is told so, privately.
    const late = press(idOf(m, 'train'), 'U3', m.ts);
    await signed(late.body);
    expect(String((await fake.waitFor(responded(late.respondPath))).body.text)).toMatch(/no longer waiting/);
    await new Promise((r) => setTimeout(r, 100));
    expect(jobsOf('U3')).toEqual([]);
    expect(await slack.backend.registry.has({ platform: 'slack', workspace: 'T1', user: 'U3' }, 'pinks')).toBe(false);
  });

  it('Train queues the confirmed pair and trains a real style; the same message shows progress with a preview, then the result', async () => {
    const m = [...fake.messages.values()].find((x) => x.user === FAKE_BOT_USER && buttonIds(x).some((id) => id.startsWith('pst:')) && /reds/.test(x.text))!;
    const before = fake.calls.length;
    await signed(press(idOf(m, 'train'), 'U1', m.ts).body);
    const done = await fake.waitFor(
      (c) => fake.calls.indexOf(c) >= before && c.method === 'chat.update' && /learned style \*reds\*/.test(String(c.body.text)),
      200_000,
    );
    expect(done.body.ts).toBe(m.ts);
    const updates = fake.calls.slice(before).filter((c) => c.method === 'chat.update' && c.body.ts === m.ts);
    // Progress was shown in the confirmation's own message, with a preview image while the samples were drawn.
    const previews = updates.filter((c) => /^⚙️/.test(String(c.body.text)) && JSON.parse(String(c.body.blocks)).some((b: Block) => b.type === 'image'));
    expect(previews.length).toBeGreaterThan(0);
    expect(fake.calls.slice(before).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
    // The style is real: the registry holds a style file trained from the pair.
    const who = { platform: 'slack', workspace: 'T1', user: 'U1' };
    const { bytes } = await slack.backend.registry.load(who, 'reds');
    expect(decodeStyle(bytes).info.name).toBe('reds');
    // The final message shows the result picture itself (a file only the bot holds, shown by its id).
    const final = fake.message('C1', m.ts)!;
    const shown = imageBlockFiles(final);
    expect(shown).toHaveLength(1);
    expect(fake.files.get(shown[0]!)?.user).toBe(FAKE_BOT_USER);
    // The previews it replaced are deleted.
    await expect.poll(() => [...fake.files.values()].filter((f) => f.user === FAKE_BOT_USER).length).toBe(1);
  }, 240_000);

  it('a draw ends in one message with its images and its buttons together (nothing uploaded below it)', async () => {
    const before = fake.calls.length;
    await signed(slash('draw cat face style:reds seed:4 steps:3', 'U1').body);
    const done = await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === 'chat.update' && /seed 4/.test(String(c.body.text)), 60_000);
    const m = fake.message('C1', String(done.body.ts))!;
    const images = imageBlockFiles(m);
    expect(images).toHaveLength(1);
    const file = fake.files.get(images[0]!)!;
    expect(file.user).toBe(FAKE_BOT_USER);
    expect(file.channels).toEqual([]);
    expect(buttonIds(m)).toEqual(expect.arrayContaining([expect.stringMatching(/^ps:reroll:/), expect.stringMatching(/^ps:stronger:/)]));
    // The image block comes before the buttons, in the same message; no file was shared to the channel.
    expect(blocksOf(m).findIndex((b) => b.type === 'image')).toBeLessThan(blocksOf(m).findIndex((b) => b.type === 'actions'));
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.calls.slice(before).filter((c) => c.method === 'files.completeUploadExternal' && c.body.channel_id)).toEqual([]);
  });

  it('final pictures Slack has not processed in time are shared under the message instead: nothing is lost', async () => {
    fake.processingMs = 60_000;
    try {
      const before = fake.calls.length;
      await signed(slash('draw cat face seed:6 steps:2', 'U1').body);
      const done = await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === 'chat.update' && /seed 6/.test(String(c.body.text)), 60_000);
      const m = fake.message('C1', String(done.body.ts))!;
      expect(imageBlockFiles(m)).toEqual([]);
      expect(buttonIds(m)).toEqual(expect.arrayContaining([expect.stringMatching(/^ps:reroll:/)]));
      const shared = await fake.waitFor(
        (c) => fake.calls.indexOf(c) > fake.calls.indexOf(done) && c.method === 'files.completeUploadExternal' && c.body.channel_id === 'C1',
      );
      const [{ id }] = JSON.parse(String(shared.body.files));
      expect(fake.files.get(id)?.channels).toEqual(['C1']);
      // The private copy that could not be shown was deleted.
      const privateUpload = fake.calls.find((c) => fake.calls.indexOf(c) > before && c.method === 'files.completeUploadExternal' && !c.body.channel_id)!;
      expect(fake.files.has(JSON.parse(String(privateUpload.body.files))[0].id)).toBe(false);
    } finally {
      fake.processingMs = 30;
    }
  });

  it("speaks the asker's language (Slack's users.info locale): a fr-FR user's confirmation in French, a de-DE presser refused in German", async () => {
    fake.locales.set('U7', 'fr-FR');
    fake.locales.set('U8', 'de-DE');
    fake.files.set('FFRBEFORE', { bytes: await pngOf('#d22'), user: 'U7', created: 60, mimetype: 'image/png', name: 'avant.png' });
    fake.files.set('FFRAFTER1', { bytes: await pngOf('#22d'), user: 'U7', created: 61, mimetype: 'image/png', name: 'apres.png' });
    const m = await confirmation('train name:rouges', 'U7');
    expect(m.text).toMatch(/^Entraîner le style \*rouges\* à partir de cette paire \?/);
    const sections = blocksOf(m)
      .filter((b) => b.type === 'section')
      .map((b) => b.text!.text);
    expect(sections.slice(1)).toEqual(['*Avant :* avant.png', '*Après :* apres.png']);
    const labels = blocksOf(m).flatMap((b) => (b.type === 'actions' ? (b.elements as { text: { text: string } }[]).map((e) => e.text.text) : []));
    expect(labels).toEqual(['Entraîner', 'Échanger avant/après', 'Annuler']);
    // Swapped, it stays in French; two pairs are numbered in French.
    await signed(press(idOf(m, 'swap'), 'U7', m.ts).body);
    await expect.poll(() => shownPairs(fake.message('C1', m.ts))).toEqual([['FFRAFTER1', 'FFRBEFORE']]);
    expect(blocksOf(fake.message('C1', m.ts))[1]!.text!.text).toBe('*Avant :* apres.png');
    const two = await confirmation('train name:duo content:FFRBEFORE style:FFRAFTER1 content2:FFRAFTER1 style2:FFRBEFORE', 'U7');
    expect(two.text).toMatch(/à partir de ces 2 paires/);
    expect(JSON.stringify(two.blocks)).toMatch(/Paire 1 — avant.*Paire 1 — après.*Paire 2 — avant.*Paire 2 — après/);

    const other = press(idOf(m, 'train'), 'U8', m.ts);
    await signed(other.body);
    const r = await fake.waitFor(responded(other.respondPath));
    expect(String(r.body.text)).toBe('⚠️ nur wer dieses Training angefragt hat, kann es starten, tauschen oder abbrechen; führ /pairstyle train selbst aus');
    expect(jobsOf('U8')).toEqual([]);
    await signed(press(idOf(m, 'cancel'), 'U7', m.ts).body);
    await signed(press(idOf(two, 'cancel'), 'U7', two.ts).body);
    await expect.poll(() => fake.message('C1', two.ts)).toBeUndefined();
  });

  describe('the training form (/pairstyle train alone: a modal with two file inputs)', () => {
    /** Runs `/pairstyle train` as `user` and returns the modal the bot opened with the command's trigger_id. */
    async function openForm(user: string): Promise<Record<string, unknown>> {
      const cmd = slash('train', user);
      const trigger = `tr${n}`;
      expect((await signed(cmd.body)).status).toBe(200);
      const open = await fake.waitFor((c) => c.method === 'views.open' && c.body.trigger_id === trigger);
      return JSON.parse(String(open.body.view));
    }
    const picture = (id: string) => ({
      type: 'file_input',
      files: [{ id, name: fake.files.get(id)!.name, mimetype: 'image/png', user: 'U6', url_private_download: `${fake.origin}/files/${id}` }],
    });
    const text = (value: string) => ({ type: 'plain_text_input', value });

    it('opens a form with a before and an after file input and a name; its submission posts the confirmation of that pair, nothing queued', async () => {
      const view = await openForm('U6');
      expect(view.callback_id).toBe('pst:train-form');
      const inputs = (view.blocks as { block_id: string; element: { type: string; max_files?: number } }[]).map((b) => [
        b.block_id,
        b.element.type,
        b.element.max_files,
      ]);
      expect(inputs).toEqual([
        ['before', 'file_input', 1],
        ['after', 'file_input', 1],
        ['name', 'plain_text_input', undefined],
        ['subject', 'plain_text_input', undefined],
      ]);
      // Uploaded in the form: the user's own files, shared in no channel.
      fake.files.set('FFORMBEF1', { bytes: await pngOf('#d22'), user: 'U6', created: 50, mimetype: 'image/png', name: 'form-before.png', channels: [] });
      fake.files.set('FFORMAFT1', { bytes: await pngOf('#22d'), user: 'U6', created: 50, mimetype: 'image/png', name: 'form-after.png', channels: [] });
      const before = fake.calls.length;
      const res = await signed(
        viewSubmission(
          view,
          'U6',
          {
            before: { file: picture('FFORMBEF1') },
            after: { file: picture('FFORMAFT1') },
            name: { text: text('formed') },
            subject: { text: text('red disc') },
          },
          ++n,
        ).body,
      );
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
      const post = await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === 'chat.postMessage' && /formed/.test(String(c.body.text)));
      expect(post.body.channel).toBe('C1');
      expect(String(post.body.blocks)).toMatch(/form-before\.png.*form-after\.png/);
      expect(String(post.body.blocks)).toMatch(/pst:train:/);
      expect(jobsOf('U6')).toEqual([]);
    });

    it("is in the user's language: a fr-FR user's form in French", async () => {
      fake.locales.set('U9', 'fr-FR');
      const view = await openForm('U9');
      expect([view.title, view.submit, view.close].map((x) => (x as { text: string }).text)).toEqual(['Entraîner un style', 'Suivant', 'Annuler']);
      const blocks = view.blocks as { label: { text: string }; hint?: { text: string } }[];
      expect(blocks.map((b) => b.label.text)).toEqual([
        'Avant : l’image simple',
        'Après : la même image dans le nouveau style',
        'Nom du style',
        'Ce que montre la paire',
      ]);
      expect(blocks.map((b) => b.hint?.text)).toEqual([undefined, undefined, 'lettres, chiffres, - ou _', 'p. ex. tête de chat (facultatif)']);
    });

    it('shows a refusal in the form, on the input it concerns, and posts nothing', async () => {
      const view = await openForm('U6');
      const before = fake.calls.length;
      const res = await signed(
        viewSubmission(
          view,
          'U6',
          { before: { file: picture('FFORMBEF1') }, after: { file: picture('FFORMAFT1') }, name: { text: text('no spaces allowed') } },
          ++n,
        ).body,
      );
      expect(res.status).toBe(200);
      const answer = await res.json();
      expect(answer).toMatchObject({ response_action: 'errors', errors: { name: expect.stringMatching(/name/) } });
      await new Promise((r) => setTimeout(r, 100));
      expect(fake.calls.slice(before).filter((c) => c.method.startsWith('chat.'))).toEqual([]);
    });
  });
});
