/**
 * The playground page driven in headless Chromium by playwright-core: help from the
 * command line, a draw with its image, a training from the form's two file inputs, on the tiny model.
 * Needs Debian's chromium at /usr/bin/chromium and the playwright-core package; without either the
 * test is skipped, with the reason in its name (`npm test` installs chromium with apt-get when it can:
 * test/install-prerequisites.ts; playwright-core is in devDependencies).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBotConfig } from '../../config/bot.ts';
import { startBot } from '../../src/bot/main.ts';
import { pngOf } from '../helpers/bot-fixture.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';

const CHROMIUM = '/usr/bin/chromium';
const PLAYWRIGHT = 'playwright-core';

function missing(): string | undefined {
  const why: string[] = [];
  if (!existsSync(CHROMIUM)) why.push(`${CHROMIUM} is absent (apt-get install -y chromium)`);
  try {
    createRequire(import.meta.url).resolve(PLAYWRIGHT);
  } catch {
    why.push(`${PLAYWRIGHT} is not installed (npm i -D ${PLAYWRIGHT})`);
  }
  return why.length ? why.join('; ') : undefined;
}

/** The few playwright-core calls used here (the package is optional, so no type import). */
interface Locator {
  waitFor(o?: { state?: string; timeout?: number }): Promise<void>;
  textContent(): Promise<string | null>;
  evaluate<T>(fn: (el: unknown) => T): Promise<T>;
  click(): Promise<void>;
  fill(v: string): Promise<void>;
  press(key: string): Promise<void>;
  setInputFiles(f: { name: string; mimeType: string; buffer: Buffer }): Promise<void>;
  last(): Locator;
}
interface Page {
  goto(url: string): Promise<unknown>;
  locator(selector: string): Locator;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launch(o: { executablePath: string; headless: boolean }): Promise<Browser> };
}

const reason = missing();

if (reason) {
  console.warn(`playground browser test skipped: ${reason}`);
  describe('the playground in headless Chromium', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
} else {
  describe('the playground in headless Chromium', () => {
    let bot: Awaited<ReturnType<typeof startBot>>;
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      const env = {
        PAIRSTYLE_PORT: '0',
        PAIRSTYLE_MODEL: await writeTinyModelFolder(),
        PAIRSTYLE_STORE_URL: `sqlite://${join(mkdtempSync(join(tmpdir(), 'pairstyle-pgb-')), 'pg.sqlite')}`,
      };
      bot = await startBot(loadBotConfig(env), { task: { sampleSteps: 2 }, minEditIntervalMs: 0 });
      const pw = (await import(PLAYWRIGHT)) as Playwright;
      browser = await pw.chromium.launch({ executablePath: CHROMIUM, headless: true });
      page = await browser.newPage();
      await page.goto(bot.playgroundUrl!);
      await page.locator('aside button.sub[data-name="train"]').waitFor();
    });
    afterAll(async () => {
      await browser?.close();
      await bot?.stop();
    });

    const send = async (line: string) => {
      await page.locator('#line').fill(line);
      await page.locator('#line').press('Enter');
    };
    const lastFinalBot = () => page.locator('.msg[data-final="true"]:has(.from.bot)').last();

    it('answers help typed in the command line', async () => {
      await send('/pairstyle help');
      await page.locator('.msg:has-text("learns a style from ONE before/after pair")').waitFor({ timeout: 10_000 });
    });

    it('trains from the form with two files, then draws and shows the image', async () => {
      await page.locator('aside button.sub[data-name="train"]').click();
      await page
        .locator('#form input[name="content"]')
        .setInputFiles({ name: 'before.png', mimeType: 'image/png', buffer: Buffer.from(await pngOf('#d22', 40, 30)) });
      await page
        .locator('#form input[name="style"]')
        .setInputFiles({ name: 'after.png', mimeType: 'image/png', buffer: Buffer.from(await pngOf('#22d', 30, 30)) });
      await page.locator('#form input[name="name"]').fill('blue');
      await page.locator('#form input[name="steps"]').fill('10');
      await page.locator('#form button[type="submit"]').click();
      await page.locator('.msg[data-final="true"]:has-text("learned style blue")').waitFor({ timeout: 60_000 });

      await send('draw prompt:"cat face" steps:2 seed:1');
      await page.locator('.msg[data-final="true"]:has-text("\'cat face\', style blue at strength 3, seed 1") img').waitFor({ timeout: 30_000 });
      const img = page.locator('.msg[data-final="true"] img').last();
      await expect.poll(() => img.evaluate((el) => (el as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
      expect(await lastFinalBot().textContent()).toMatch(/Reroll/);
    });
  });
}
