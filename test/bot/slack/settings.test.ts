/**
 * /pairstyle settings on Slack: the real Bolt app over its HTTP receiver with signed requests, against
 * the loopback fake Web API. Workspace admins are told by users.info (is_admin / is_owner) through
 * Bolt's client; every answer and refusal goes back ephemerally through the response URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botBackend } from '../../helpers/bot-fixture.ts';
import { postSignedToSlack, slashCommand, startSlackApp, type SlackAppFixture } from '../../helpers/slack-app.ts';
import { FakeSlack, type SlackCall } from '../../../testing/fake-slack.ts';

const SECRET = 'settings-signing-secret';
const fake = new FakeSlack();
let slack: SlackAppFixture;
let backend: Awaited<ReturnType<typeof botBackend>>;
let n = 0;

beforeAll(async () => {
  backend = await botBackend();
  slack = await startSlackApp(fake, { botToken: 'xoxb-settings', signingSecret: SECRET, backend });
  fake.admins.add('UADMIN');
});
afterAll(() => slack.close());

/** Sends `/pairstyle <text>` by `user` in `channel` of team T1. */
async function send(text: string, user: string, channel: string): Promise<string> {
  const { body, respondPath } = slashCommand(fake, text, user, ++n, channel);
  expect((await postSignedToSlack(slack.url, SECRET, body)).status).toBe(200);
  return respondPath;
}

/** Sends `/pairstyle <text>`; resolves with the message sent to the response URL (short answers, refusals). */
async function slash(text: string, user = 'U1', channel = 'C1'): Promise<{ response_type?: unknown; text: string }> {
  const respondPath = await send(text, user, channel);
  const r = await fake.waitFor((c: SlackCall) => c.method === respondPath.slice(1));
  return { response_type: r.body.response_type, text: String(r.body.text) };
}

describe('/pairstyle settings on Slack (Bolt)', () => {
  it('shows the settings privately', async () => {
    const r = await slash('settings');
    expect(r.response_type).toBe('ephemeral');
    expect(r.text).toMatch(/Your settings here[\s\S]*channels: every channel/);
  });

  it('refuses a member who is not a workspace admin (users.info), privately, and saves nothing', async () => {
    const r = await slash('settings sharing:admins', 'U1');
    expect(r).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/only admins of this server\/workspace can change its settings/) });
    expect(fake.calls.some((c) => c.method === 'users.info' && c.body.user === 'U1')).toBe(true);
    expect(await slack.backend.registry.keyv.get('settings:server:slack:T1')).toBeUndefined();
  });

  it('an admin limits the channels with here or a channel link; a command elsewhere is refused privately', async () => {
    const set = await slash('settings channels:"here <#C0ART|art>"', 'UADMIN', 'C1');
    expect(set).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/saved[\s\S]*channels: &lt;#C1&gt;, &lt;#C0ART&gt;/) });
    try {
      const refused = await slash('draw red apple', 'U2', 'C9');
      expect(refused).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/PairStyle is not used in this channel here/) });
      expect(fake.calls.some((c) => c.method === 'chat.postMessage' && c.body.channel === 'C9')).toBe(false);
      // A channel typed as plain text cannot be told from a word: refused with how to name it.
      expect((await slash('settings channels:#general', 'UADMIN')).text).toMatch(/'#general' is not a channel: pick it with #/);
    } finally {
      await slack.backend.registry.keyv.delete('settings:server:slack:T1');
    }
  });

  it('has no role to train on Slack, and says why', async () => {
    const r = await slash('settings train_role:@artists', 'UADMIN');
    expect(r.text).toMatch(/a role to train exists on Discord only: here the bot is not told its users' roles/);
    expect(await slack.backend.registry.keyv.get('settings:server:slack:T1')).toBeUndefined();
  });

  it('a draw uses the user’s default strength, steps and seed', async () => {
    // A style of their own that the bot's default strength (3) would draw in; their strength 0 draws none.
    await slack.backend.registry.put({ platform: 'slack', workspace: 'T1', user: 'U3' }, 'ink', new Uint8Array([1]), {});
    expect((await slash('settings strength:0 steps:7 seed:11', 'U3')).text).toMatch(/saved[\s\S]*strength: 0[\s\S]*steps: 7[\s\S]*seed: fixed at 11/);
    await send('draw blue pear', 'U3', 'C1');
    await fake.waitFor((c) => c.method === 'chat.update' && /'blue pear', no style, seed 11/.test(String(c.body.text)));
    const job = backend.executor.started.find((j) => j.kind === 'draw' && j.args.prompt === 'blue pear');
    expect(job?.kind === 'draw' && [job.args.steps, job.args.seed]).toEqual([7, 11]);
  });
});
