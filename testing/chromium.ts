/**
 * Headless Chromium through playwright-core, for the playground's browser test
 * (test/bot/playground.browser.test.ts) and the README's screenshots (scripts/readme-screenshots.ts).
 * Needs Debian's chromium at /usr/bin/chromium (`npm test` installs it with apt-get when it can:
 * test/install-prerequisites.ts) and the playwright-core package (a devDependency, loaded only here and
 * only when present, so its types are the few calls used, written out below).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

export const CHROMIUM = '/usr/bin/chromium';
const PLAYWRIGHT = 'playwright-core';

/** Why Chromium cannot be driven here (what to install), or undefined when it can. */
export function chromiumMissing(): string | undefined {
  const why: string[] = [];
  if (!existsSync(CHROMIUM)) why.push(`${CHROMIUM} is absent (apt-get install -y chromium)`);
  try {
    createRequire(import.meta.url).resolve(PLAYWRIGHT);
  } catch {
    why.push(`${PLAYWRIGHT} is not installed (npm i -D ${PLAYWRIGHT})`);
  }
  return why.length ? why.join('; ') : undefined;
}

/** The few playwright-core calls used (the package is optional, so no type import). */
export interface Locator {
  waitFor(o?: { state?: string; timeout?: number }): Promise<void>;
  textContent(): Promise<string | null>;
  evaluate<T>(fn: (el: unknown) => T): Promise<T>;
  click(): Promise<void>;
  fill(v: string): Promise<void>;
  press(key: string): Promise<void>;
  setInputFiles(f: { name: string; mimeType: string; buffer: Buffer }): Promise<void>;
  last(): Locator;
  first(): Locator;
  locator(selector: string): Locator;
}
export interface Response {
  status(): number;
  url(): string;
}
/** A request the page made, held by Page.route until it is continued. */
export interface Route {
  continue(): Promise<void>;
}
export interface Page {
  goto(url: string): Promise<unknown>;
  /** Hands each request whose URL matches to `handler` instead of sending it. */
  route(url: RegExp, handler: (route: Route) => unknown): Promise<void>;
  unroute(url: RegExp): Promise<void>;
  mouse: { move(x: number, y: number): Promise<void>; wheel(dx: number, dy: number): Promise<void> };
  locator(selector: string): Locator;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  on(event: 'response', fn: (r: Response) => void): void;
  /** Runs the expression in the page (a string: this project's TypeScript has no DOM types). */
  evaluate<T>(expression: string): Promise<T>;
  /** A PNG of the viewport (or of the whole page with fullPage). */
  screenshot(o?: { fullPage?: boolean }): Promise<Buffer>;
}
export interface Browser {
  newPage(o?: { deviceScaleFactor?: number }): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launch(o: { executablePath: string; headless: boolean }): Promise<Browser> };
}

/** Starts headless Chromium (check chromiumMissing() first). */
export async function launchChromium(): Promise<Browser> {
  const pw = (await import(PLAYWRIGHT)) as Playwright;
  return pw.chromium.launch({ executablePath: CHROMIUM, headless: true });
}
