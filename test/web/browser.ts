/**
 * Helpers for the dashboard's browser tests: the built dashboard (web/dist, rebuilt with Vite's
 * JS API when a source is newer than the build), Debian's Chromium driven by playwright-core
 * (never a downloaded browser), and the screenshots directory (test-artifacts/, git-ignored).
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const WEB_DIR = join(ROOT, 'web');
export const DIST_DIR = join(WEB_DIR, 'dist');
export const ARTIFACTS_DIR = join(ROOT, 'test-artifacts');
export const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser suite cannot run here, or false. */
export const BROWSER_SKIP: string | false = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does it)`;

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path).reduce((m, name) => Math.max(m, newest(join(path, name))), s.mtimeMs);
}

/** Builds web/ into web/dist unless the build is newer than every source. */
export async function ensureDashboardBuilt(): Promise<void> {
  const index = join(DIST_DIR, 'index.html');
  const sources = Math.max(newest(join(WEB_DIR, 'src')), newest(join(WEB_DIR, 'public')), newest(join(WEB_DIR, 'index.html')), newest(join(WEB_DIR, 'vite.config.ts')));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  const { build } = await import('vite');
  await build({ root: WEB_DIR, configFile: join(WEB_DIR, 'vite.config.ts'), logLevel: 'warn' });
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Saves a screenshot (the whole page, or the viewport) as test-artifacts/<name>.png. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/** Generous: the machine is shared; nothing here asserts on timing. */
export const WAIT_MS = 30_000;
