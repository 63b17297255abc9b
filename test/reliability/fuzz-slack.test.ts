/**
 * Fuzzing of Slack's interactive payloads over HTTP: the block_actions bodies a button press sends
 * (`payload=<json>`, form-encoded, signed with the signing secret as Slack signs them), mutated (JSON
 * cut, fields dropped or of the wrong type, random action ids, huge or binary values, wrong content
 * types) and posted to the real Bolt receiver on 127.0.0.1. No request may crash or hang the bot: every
 * answer is 200 (acknowledged) or a 4xx, never a 500, and the bot still answers a command afterwards.
 * Seeded (fixture.ts fuzzSeed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postSignedToSlack, startSlackApp, type SlackAppFixture } from '../helpers/slack-app.ts';
import { FakeSlack } from '../../testing/fake-slack.ts';
import { fuzzCount, fuzzSeed, fuzzTimeout, seeded, type Seeded } from './fixture.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
const SECRET = 'fuzz-signing-secret';
const BOT = 'xoxb-fuzz';
const fake = new FakeSlack();
let slack: SlackAppFixture;

beforeAll(async () => {
  slack = await startSlackApp(fake, { botToken: BOT, signingSecret: SECRET });
});
afterAll(() => slack.close());

const post = (body: string, contentType?: string) => postSignedToSlack(slack.url, SECRET, body, { contentType, timeoutMs: 15_000 });

const ACTION_IDS = ['ps:reroll:', 'ps:vary:', 'ps:stronger:', 'ps:weaker:', 'ps:cancel:', 'ps:', 'ps:reroll:job-1', 'ps:cancel:../../x', 'other', ''];

function validPayload(r: Seeded): Record<string, unknown> {
  return {
    type: 'block_actions',
    team: { id: 'T1', domain: 't' },
    user: { id: r.pick(['U1', 'U2', 'U3']), team_id: 'T1' },
    api_app_id: 'A1',
    token: 'x',
    trigger_id: 'tr1',
    channel: { id: 'C1', name: 'art' },
    container: { type: 'message', message_ts: '1.1', channel_id: 'C1' },
    response_url: `${fake.origin}/respond/fuzz`,
    actions: [{ type: 'button', action_id: `${r.pick(ACTION_IDS)}${r.chance(0.5) ? r.int(0, 99999) : ''}`, block_id: 'b', value: 'v', action_ts: '1.2' }],
  };
}

const WEIRD = [null, 0, -1, 1e308, '', 'x'.repeat(5000), [], {}, true, '\u0000\u202e', { id: null }];

function mutate(r: Seeded, p: Record<string, unknown>): { body: string; type?: string; how: string } {
  const hows: string[] = [];
  const keys = Object.keys(p);
  for (let k = r.int(1, 3); k > 0; k--) {
    switch (r.int(0, 4)) {
      case 0: {
        const key = r.pick(keys);
        delete p[key];
        hows.push(`${key} dropped`);
        break;
      }
      case 1: {
        const key = r.pick(keys);
        p[key] = r.pick(WEIRD);
        hows.push(`${key} of another type`);
        break;
      }
      case 2:
        p.actions = r.pick([[], [{}], [{ action_id: r.pick(WEIRD) }], 'x', null, Array.from({ length: 50 }, () => ({ action_id: 'ps:reroll:x' }))]);
        hows.push('actions replaced');
        break;
      case 3:
        p.type = r.pick(['block_actions', 'view_submission', 'shortcut', 'message_action', 'nonsense', 7]);
        hows.push(`type ${String(p.type)}`);
        break;
      default:
        hows.push('left as is');
    }
  }
  let json = JSON.stringify(p);
  if (r.chance(0.2)) {
    json = json.slice(0, r.int(0, json.length));
    hows.push('JSON cut');
  }
  if (r.chance(0.1)) {
    json = Buffer.from(r.bytes(r.int(1, 200))).toString('latin1');
    hows.push('random bytes');
  }
  const body = r.chance(0.1) ? json : `payload=${encodeURIComponent(json)}`;
  const type = r.chance(0.1) ? r.pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x']) : undefined;
  return { body, ...(type ? { type } : {}), how: hows.join(', ') };
}

describe('Slack interactive payload fuzzing', () => {
  it('mutated, signed block_actions payloads to the Bolt receiver', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(509);
    const r = seeded(seed);
    const n = fuzzCount(40);
    const failures: string[] = [];
    let acked = 0;
    let refused = 0;
    for (let i = 0; i < n; i++) {
      const m = mutate(r, validPayload(r));
      try {
        const res = await post(m.body, m.type);
        await res.arrayBuffer();
        if (res.status === 200) acked++;
        else if (res.status >= 400 && res.status < 500) refused++;
        else failures.push(`${res.status} for ${m.how}`);
      } catch (e) {
        failures.push(`${(e as Error).name} for ${m.how}`);
      }
    }
    // Still serving: a command after the storm is answered.
    const after = await post(
      new URLSearchParams({
        command: '/pairstyle',
        text: 'help',
        user_id: 'U1',
        team_id: 'T1',
        channel_id: 'C1',
        response_url: `${fake.origin}/respond/after`,
        token: 'x',
        api_app_id: 'A1',
      }).toString(),
    );
    expect(after.status).toBe(200);
    await fake.waitFor((c) => c.method === 'respond/after');
    report.row({
      section: 'Fuzzing',
      case: `${n} mutated, signed Slack block_actions payloads (fields dropped or of another type, random action ids, cut JSON, random bytes, other content types) to the Bolt receiver over HTTP (seed ${seed})`,
      expected: 'every answer a 200 or a 4xx; no 500, no hang; the bot still answers a command afterwards',
      result: `${n} sent: ${acked} acknowledged, ${refused} refused, ${failures.length} otherwise${failures.length ? `: ${failures[0]}` : ''}`,
      pass: failures.length === 0,
    });
    expect(failures).toEqual([]);
  });
});
