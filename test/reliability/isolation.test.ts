/**
 * Isolation through the commands users type: a private style is reachable by its owner only (draw,
 * blend, export, autocomplete, delete, share), a shared one is usable but not deletable by others in
 * its workspace, an admin may delete or unshare a shared style, and the same ids in another workspace
 * or on another platform never collide. A stored style whose bytes were damaged is reported, not loaded.
 */
import { describe, expect, it } from 'vitest';
import { autocompleteStyles, isUserError, runButton, runCommand, type CommandContext, type Outcome } from '../../commands/index.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';
import type { Scope } from '../../src/store/style-registry.ts';
import { backend } from './fixture.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
const STYLE = new Uint8Array([7, 7, 7, 7]);

describe('isolation between users, workspaces and platforms', () => {
  it('keeps private styles private through every command, shares within a workspace, lets owners and admins manage', async () => {
    const b = await backend();
    const as = (user: string, workspace = 'w', platform = 'test', isAdmin = false): CommandContext => ({
      ...b.ctx(user, isAdmin),
      who: { platform, workspace, user } satisfies Scope,
    });
    const alice = as('alice');
    await b.registry.put(alice.who, 'secret', STYLE, { subject: 'cat face' });
    await b.registry.put(alice.who, 'open', STYLE, { subject: 'cat face' });

    const refusedFor = async (what: string, ctx: CommandContext, sub: string, opts: Record<string, string>, expected: RegExp) => {
      let error: unknown;
      try {
        await runCommand(ctx, sub, opts);
      } catch (e) {
        error = e;
      }
      const msg = (error as Error | undefined)?.message ?? '(accepted)';
      const pass = isUserError(error) && expected.test(msg);
      report.row({ section: 'Isolation', case: what, expected: `refused: ${expected.source.replace(/\\/g, '')}`, result: msg, pass });
      expect(pass, `${what}: ${msg}`).toBe(true);
    };
    const bob = as('bob');
    await refusedFor("bob draws with alice's private style", bob, 'draw', { prompt: 'dog face', style: 'secret' }, /no style named 'secret' that you can use/);
    await refusedFor("bob blends alice's private style", bob, 'blend', { style_a: 'secret', style_b: 'secret' }, /no style named 'secret' that you can use/);
    await refusedFor("bob exports alice's private style", bob, 'export', { name: 'secret' }, /no style named 'secret'/);
    await refusedFor("bob deletes alice's private style", bob, 'delete', { name: 'secret' }, /no style named 'secret'/);
    await refusedFor("bob shares alice's private style", bob, 'share', { name: 'secret' }, /no style named 'secret'/);
    const bobSees = await autocompleteStyles(bob, '');
    report.row({
      section: 'Isolation',
      case: 'autocomplete for bob while alice has 2 private styles',
      expected: 'nothing of alice',
      result: `${bobSees.length} choices`,
      pass: bobSees.length === 0,
    });
    expect(bobSees).toEqual([]);

    await runCommand(alice, 'share', { name: 'open' });
    const drawn = await runCommand(bob, 'draw', { prompt: 'dog face', style: 'open' });
    const usable = drawn.type === 'job' && drawn.job.kind === 'draw' && drawn.job.args.styles[0]?.style.name === 'open';
    report.row({
      section: 'Isolation',
      case: 'bob draws with the style alice shared in their workspace',
      expected: 'allowed',
      result: usable ? 'queued with the shared style' : 'refused',
      pass: usable,
    });
    expect(usable).toBe(true);
    await refusedFor("bob deletes alice's shared style", bob, 'delete', { name: 'open' }, /belongs to someone else: only its owner or an admin can delete it/);
    await refusedFor("bob unshares alice's shared style", bob, 'unshare', { name: 'open' }, /only its owner or an admin can unshare/);
    const elsewhere = as('bob', 'other-workspace');
    await refusedFor(
      'a user of another workspace draws with a style shared in the first',
      elsewhere,
      'draw',
      { prompt: 'dog face', style: 'open' },
      /no style named 'open' that you can use/,
    );
    const samePeopleOtherPlatform = as('alice', 'w', 'other-platform');
    await refusedFor('the same user and workspace ids on another platform', samePeopleOtherPlatform, 'export', { name: 'secret' }, /no style named 'secret'/);

    const admin = as('admin', 'w', 'test', true);
    await runCommand(admin, 'unshare', { name: 'open' });
    const unshared = !(await b.registry.resolve(bob.who, 'open'));
    report.row({
      section: 'Isolation',
      case: "a workspace admin unshares alice's shared style",
      expected: 'allowed; others lose it, alice keeps it',
      result: unshared && (await b.registry.has(alice.who, 'open')) ? 'unshared; still alice’s' : 'not unshared',
      pass: unshared,
    });
    expect(unshared).toBe(true);
    await refusedFor("a workspace admin deletes alice's private style", admin, 'delete', { name: 'secret' }, /no style named 'secret'/);
    await b.queue.close();
  });

  it('reports a stored style whose bytes were damaged instead of loading it', async () => {
    const b = await backend();
    const ctx = b.ctx('carol');
    const entry = await b.registry.put(ctx.who, 'fragile', STYLE, {});
    await b.registry.keyv.set(entry.blob, Buffer.from([7, 7, 7, 8]).toString('base64'));
    let msg = '(loaded)';
    try {
      await runCommand(ctx, 'draw', { prompt: 'cat face', style: 'fragile' });
    } catch (e) {
      msg = (e as Error).message;
    }
    const pass = /the stored style 'fragile' is damaged/.test(msg);
    report.row({
      section: 'Faults injected',
      case: "one byte of a stored style's data changed in the store",
      expected: 'detected by its hash and reported; not loaded',
      result: msg,
      pass,
    });
    expect(pass).toBe(true);
    await b.queue.close();
  });

  it("buttons re-check the style with the presser's rights on every press; only the owner exports", async () => {
    const b = await backend({ executor: new FakeExecutor({ auto: true }) });
    const alice = b.ctx('alice');
    const bob = b.ctx('bob');
    await b.registry.put(alice.who, 'open', STYLE, { subject: 'cat face' });
    await runCommand(alice, 'share', { name: 'open' });
    const finished = async (o: Outcome) => {
      if (o.type !== 'job') throw new Error('expected a job');
      return b.queue.finished(o.job.id);
    };
    const drawn = await finished(await runCommand(bob, 'draw', { prompt: 'dog face', style: 'open', seed: 1 }));
    const blended = await finished(await runCommand(bob, 'blend', { style_a: 'open', style_b: 'open', seed: 1 }));
    // While shared, bob's buttons work.
    const again = await finished(await runButton(bob, `ps:reroll:${drawn.id}`));
    expect(again.status).toBe('done');
    expect((await finished(await runButton(bob, `ps:vary:${drawn.id}`))).status).toBe('done');

    const pressRefused = async (what: string, ctx: CommandContext, id: string, expected: RegExp) => {
      let error: unknown;
      const queued = b.queue.stats.queued + b.queue.stats.running;
      try {
        await runButton(ctx, id);
      } catch (e) {
        error = e;
      }
      const msg = (error as Error | undefined)?.message ?? '(accepted: a job was queued)';
      const pass = isUserError(error) && expected.test(msg) && b.queue.stats.queued + b.queue.stats.running === queued;
      report.row({ section: 'Isolation', case: what, expected: `refused: ${expected.source.replace(/\\/g, '')}`, result: msg, pass });
      expect(pass, `${what}: ${msg}`).toBe(true);
    };
    await runCommand(alice, 'unshare', { name: 'open' });
    const gone = /the style 'open' is no longer available to you/;
    await pressRefused('bob presses Reroll under his drawing after alice unshared its style', bob, `ps:reroll:${drawn.id}`, gone);
    await pressRefused('bob presses Strength + under his drawing after alice unshared its style', bob, `ps:stronger:${drawn.id}`, gone);
    await pressRefused('bob presses Reroll under his blend after alice unshared its style', bob, `ps:reroll:${blended.id}`, gone);
    await pressRefused('bob presses Vary under his drawing after alice unshared its style', bob, `ps:vary:${drawn.id}`, gone);
    await pressRefused('bob presses Vary under his blend after alice unshared its style', bob, `ps:vary:${blended.id}`, gone);
    await runCommand(alice, 'share', { name: 'open' });
    await runCommand(alice, 'delete', { name: 'open' });
    await pressRefused('bob presses Strength − under his drawing after alice deleted its style', bob, `ps:weaker:${drawn.id}`, gone);

    // Export: sharing lets others draw with a style, not take a copy of it.
    await b.registry.put(alice.who, 'lent', STYLE, {});
    await runCommand(alice, 'share', { name: 'lent' });
    await refusedExport(bob, alice);
    await b.queue.close();

    async function refusedExport(other: CommandContext, owner: CommandContext) {
      let msg = '(exported)';
      try {
        await runCommand(other, 'export', { name: 'lent' });
      } catch (e) {
        msg = (e as Error).message;
      }
      const own = await runCommand(owner, 'export', { name: 'lent' });
      const pass = /only its owner can export it/.test(msg) && own.type === 'reply' && own.reply.files?.length === 1;
      report.row({
        section: 'Isolation',
        case: 'bob exports the style alice shared in their workspace',
        expected: 'refused: only its owner can export it (sharing lends a style for drawing; unsharing takes it back)',
        result: msg,
        pass,
      });
      expect(pass, msg).toBe(true);
    }
  });
});
