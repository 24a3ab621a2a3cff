/**
 * The dashboard tests' browser: Debian's headless Chromium driven by playwright-core (no browser is
 * downloaded), in a throw-away profile. Those tests are skipped when /usr/bin/chromium is missing.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { cmdline, spawnedChildren, waitFor } from './helpers.ts';

export const CHROMIUM = '/usr/bin/chromium';

/** The `skip` option of a dashboard test: false, or why it cannot run here. */
export const skipWithoutChromium: string | false = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the dashboard test`;

/** Chromium processes started by this test process (the browser and its helpers). */
export function browserProcesses(): number[] {
  return spawnedChildren().filter((pid) => /chromium/.test(cmdline(pid)));
}

/** A browser with a page open on nothing yet, and how to close it (also removes its profile). */
export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Closes the browser, removes the profile, and waits until no chromium process is left. */
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile (1280×800, light colour scheme). */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'corral-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 800 },
      colorScheme: 'light',
      timeout: 30_000,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      await waitFor(() => browserProcesses().length === 0, 10_000, 'every chromium process gone');
    },
  };
}

/** The rendered text of the first element matching `selector`. */
export async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent()) ?? '';
}

/** Collects the page's script errors and console errors, for a test to assert there are none. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return errors;
}
