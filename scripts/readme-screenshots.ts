/**
 * The README's screenshots of the playground, made by driving it: starts the bot's playground on
 * 127.0.0.1 with the embedded model (emoji-mini) and a throwaway store, opens it in headless Chromium
 * (testing/chromium.ts), trains a style from the form with the README's pair (docs/example/dog-noto.png
 * → dog-openmoji.png), draws "cat face" in it from the command line, and photographs the channel with the
 * finished draw and its buttons (the reply as it looks on Discord): docs/playground.png at 1280 px wide
 * and docs/playground-narrow.png at 420 px (a phone), each a palette PNG made small by sharp. Needs
 * what the browser test needs, and a colour emoji font (Debian: fonts-noto-color-emoji).
 *   npm run docs:screenshots
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadBotConfig } from '../config/bot.ts';
import { startBot } from '../src/bot/main.ts';
import { chromiumMissing, launchChromium, type Page } from '../testing/chromium.ts';

/** Each picture stays under this many bytes (the README loads both). */
const MAX_BYTES = 300 * 1024;
const SHOTS = [
  { file: 'docs/playground.png', width: 1280, height: 800 },
  { file: 'docs/playground-narrow.png', width: 420, height: 860 },
];

/** The replies start with emoji (🎨, 🎲): without a colour emoji font Chromium draws empty boxes. */
function emojiFontMissing(): string | undefined {
  let fonts = '';
  try {
    fonts = execFileSync('fc-list', [':charset=1f3a8', 'family'], { encoding: 'utf8' });
  } catch {
    return 'fontconfig (fc-list) is absent';
  }
  return fonts.trim() ? undefined : 'no font has emoji (apt-get install -y fonts-noto-color-emoji)';
}

const missing = chromiumMissing() ?? emojiFontMissing();
if (missing) {
  console.error(`cannot take the screenshots: ${missing}`);
  process.exit(1);
}

const home = mkdtempSync(join(tmpdir(), 'pairstyle-screenshots-'));
const env = { PAIRSTYLE_PORT: '0', PAIRSTYLE_STORE_URL: `sqlite://${join(home, 'store.sqlite')}` };
const bot = await startBot(loadBotConfig(env));
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewportSize({ width: SHOTS[0].width, height: SHOTS[0].height });
  await page.goto(bot.playgroundUrl!);
  await page.locator('aside button.sub[data-name="train"]').waitFor();
  const t0 = performance.now();
  await train(page);
  console.log(`trained in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await page.locator('#line').fill('/pairstyle draw prompt:"cat face" seed:1');
  await page.locator('#line').press('Enter');
  const drawn = page.locator('.msg[data-final="true"]:has-text("\'cat face\'") img').last();
  await drawn.waitFor({ timeout: 120_000 });
  await waitForImages(page);
  for (const shot of SHOTS) {
    await page.setViewportSize({ width: shot.width, height: shot.height });
    // The newest message at the bottom, as the page shows a new reply.
    await page.evaluate(`(() => { const m = document.querySelector('#messages'); m.scrollTop = m.scrollHeight; })()`);
    await new Promise((r) => setTimeout(r, 300));
    const raw = await page.screenshot();
    const png = await sharp(raw).png({ palette: true, colours: 128, compressionLevel: 9, effort: 10 }).toBuffer();
    if (png.length > MAX_BYTES) throw new Error(`${shot.file} would be ${png.length} bytes (over ${MAX_BYTES})`);
    writeFileSync(shot.file, png);
    const { width, height } = await sharp(png).metadata();
    console.log(`${shot.file}: ${width}x${height}, ${(png.length / 1024).toFixed(0)} KB`);
  }
} finally {
  await browser.close();
  await bot.stop();
  rmSync(home, { recursive: true, force: true });
}

/** The training form with the README's pair, sent; resolves when the style is learned. */
async function train(page: Page): Promise<void> {
  await page.locator('aside button.sub[data-name="train"]').click();
  const file = (path: string) => ({ name: path.split('/').pop()!, mimeType: 'image/png', buffer: readFileSync(path) });
  await page.locator('#form input[name="content"]').setInputFiles(file('docs/example/dog-noto.png'));
  await page.locator('#form input[name="style"]').setInputFiles(file('docs/example/dog-openmoji.png'));
  await page.locator('#form input[name="name"]').fill('openmoji');
  await page.locator('#form input[name="subject"]').fill('dog face');
  await page.locator('#form button[type="submit"]').click();
  await page.locator('.msg[data-final="true"]:has-text("learned style openmoji")').waitFor({ timeout: 600_000 });
}

/** Until every picture in the channel has loaded. */
async function waitForImages(page: Page): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await page.evaluate<boolean>(`[...document.querySelectorAll('#messages img')].every((i) => i.complete && i.naturalWidth > 0)`)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the pictures in the channel did not load');
}
