// The dashboard (GET /) in a real browser: Debian's headless Chromium driven by playwright-core (no
// browser is downloaded). It loads the page from orch.listen(), sees every worker, sees a failure
// arrive live over /events, and replays the dead letter with the token asked by a prompt.
// Skipped when /usr/bin/chromium is missing (CI installs it, see .ci/run). Single host: no hosts panel
// (test/cluster/dashboard.test.ts has the cluster's).
// CORRAL_UPDATE_SCREENSHOT=1 also writes the populated page to docs/dashboard.png for the README.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { WorkerExecutionMode } from '../../src/index.ts';
import {
  type Browser,
  launchBrowser,
  pageErrors,
  skipWithoutChromium as skip,
  textOf,
} from '../browser-helpers.ts';
import { tmpModule, useOrchestrator, waitFor } from '../helpers.ts';

const { SCHEDULED, TRIGGERED, CONTINUOUS } = WorkerExecutionMode;

const SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
const TOKEN = 'dashboard-test-token';

// Isolated workers with some CPU and memory to show, in bursts so the charts move.
const BUSY_MODULE = `
const kept = [];
export default async function busy(ctx) {
  const end = Date.now() + 40 + Math.floor(Math.random() * 160);
  while (Date.now() < end) kept.length;
  if (kept.length < (ctx.payload?.chunks ?? 10)) kept.push(new Array(512 * 1024).fill(kept.length));
  await new Promise((resolve) => setTimeout(resolve, 250));
  return kept.length;
}
`;

/** The token the page keeps in this tab's sessionStorage. (Page code is passed as strings: no DOM lib here.) */
function storedToken(page: Page): Promise<string | null> {
  return page.evaluate<string | null>("sessionStorage.getItem('corral.token')");
}

test('dashboard: lists the workers, shows a failure live, replays its dead letter', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const orch = useOrchestrator(t, { healthSampleMs: 500 });
  let sends = 0;
  orch.registerWorker('ingest', () => new Promise((resolve) => setTimeout(() => resolve('ok'), 20)), {
    executionMode: SCHEDULED,
    intervalSeconds: 1,
  });
  orch.registerWorker('thumbnails', tmpModule(BUSY_MODULE), {
    executionMode: CONTINUOUS,
    isolation: 'thread',
  });
  orch.registerWorker('transcode', tmpModule(BUSY_MODULE), {
    executionMode: CONTINUOUS,
    isolation: 'process',
  });
  // Fails its first run (maxRetries 0: at once a dead letter), succeeds afterwards: the replay works.
  orch.registerWorker(
    'send-invoices',
    (ctx) => {
      sends++;
      if (sends === 1) throw new Error('SMTP connection refused by mail.example.com:587');
      return { sent: (ctx.payload as { batch: number }).batch };
    },
    { executionMode: TRIGGERED, maxRetries: 0 },
  );
  orch.registerWorker('nightly-report', () => 'done', { executionMode: SCHEDULED, intervalSeconds: 3600 });
  await orch.start();
  orch.disableWorker('nightly-report');
  const server = await orch.listen({ port: 0, token: TOKEN });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close();
    await server.close();
  });
  browser = await launchBrowser();
  const { page } = browser;
  const errors = pageErrors(page);
  const foreign: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(server.url)) foreign.push(request.url());
  });
  page.setDefaultTimeout(15_000);

  await page.goto(server.url);

  // Every worker, with its mode, isolation and state.
  for (const [name, mode, isolation] of [
    ['ingest', 'scheduled', 'inline'],
    ['thumbnails', 'continuous', 'thread'],
    ['transcode', 'continuous', 'process'],
    ['send-invoices', 'triggered', 'inline'],
    ['nightly-report', 'scheduled', 'inline'],
  ] as const) {
    const row = `#workers-body tr[data-worker="${name}"]`;
    await page.waitForSelector(row);
    assert.equal(await textOf(page, `${row} [data-col="mode"]`), mode, `${name}: mode`);
    assert.equal(await textOf(page, `${row} [data-col="isolation"]`), isolation, `${name}: isolation`);
  }
  const disabledRow = '#workers-body tr[data-worker="nightly-report"]';
  assert.equal(await page.getAttribute(disabledRow, 'data-state'), 'disabled');
  assert.match(
    await textOf(page, `${disabledRow} [data-col="state"]`),
    /disabled/,
    'a label, not only a colour',
  );
  await page.waitForSelector('#workers-body tr[data-worker="send-invoices"][data-failing="false"]');
  // A single host: no hosts panel, no cluster in the header, no Host column in the recent runs.
  assert.equal(await page.isHidden('#hosts-section'), true, 'no hosts panel on a single host');
  assert.equal(await page.locator('#hosts-body tr').count(), 0);
  assert.equal(await page.isHidden('#cluster'), true);
  assert.equal(await page.isHidden('#runs-host'), true);
  assert.equal(await page.locator('#dl-body tr').count(), 0);
  assert.equal(await page.isVisible('#dl-empty'), true);

  // Live: the event stream is connected and the charts of the isolated workers fill up.
  await page.waitForSelector('#conn[data-live="live"]');
  await page.waitForSelector('#runs-body tr[data-outcome="succeeded"]');
  assert.equal(await page.locator('#runs-body td[data-col="host"]').count(), 0);
  for (const name of ['thumbnails', 'transcode']) {
    // Polled from here: the page's CSP (script-src 'self') refuses the eval a string predicate needs.
    const svg = page.locator(`tr[data-worker="${name}"] [data-col="cpu"] svg`);
    await waitFor(
      async () => Number((await svg.count()) > 0 ? await svg.first().getAttribute('data-points') : 0) >= 5,
      30_000,
      `${name}: 5 chart points`,
      200,
    );
  }

  // A failure appears live. Its error message only travels in the worker:failure event (the run
  // history has none), so seeing it in the recent runs proves the page took it from /events.
  assert.equal(await orch.triggerWorker('send-invoices', { batch: 42 }), true);
  const failingRow = '#workers-body tr[data-worker="send-invoices"]';
  await page.waitForSelector(`${failingRow}[data-failing="true"]`);
  assert.match(await textOf(page, `${failingRow} [data-col="state"]`), /failing/);
  assert.match(await textOf(page, `${failingRow} [data-col="error"]`), /SMTP connection refused/);
  await page
    .locator('#runs-body tr[data-outcome="failed"]', { hasText: 'SMTP connection refused' })
    .waitFor();
  await page.locator('#attention', { hasText: 'send-invoices' }).waitFor();
  const [letter] = orch.deadLetters.list('send-invoices');
  assert.ok(letter, 'the failed trigger left a dead letter');
  const letterRow = `#dl-body tr[data-dead-letter="${letter.id}"]`;
  await page.waitForSelector(letterRow);
  assert.match(await textOf(page, letterRow), /SMTP connection refused/);
  // The list comes without payloads; the page fetches each one (GET dead-letters/:id) once.
  await page.locator(letterRow, { hasText: '"batch":42' }).waitFor();
  assert.match(await textOf(page, '#dl-count'), /^\(1\)$/);

  await page.waitForTimeout(400); // let the row flash settle before the picture
  if (process.env.CORRAL_UPDATE_SCREENSHOT === '1') {
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
  } else {
    assert.ok((await page.screenshot()).length > 10_000, 'the page renders');
  }

  // "failures only" keeps the failed run and hides the successes of the other workers.
  await page.check('#only-problems');
  await page.waitForSelector('#runs-body tr[data-outcome="succeeded"]', { state: 'detached' });
  assert.match(await textOf(page, '#runs-body tr[data-outcome="failed"]'), /send-invoices/);
  await page.uncheck('#only-problems');
  await page.waitForSelector('#runs-body tr[data-outcome="succeeded"]');

  // A wrong token kept in the tab is refused (403) and forgotten.
  await page.evaluate("sessionStorage.setItem('corral.token', 'not-the-token')");
  await page.click(`${letterRow} button[data-action="replay"]`);
  await page.waitForSelector('#notices .notice.bad');
  assert.match(await textOf(page, '#notices .notice.bad'), /Token refused \(403\)/);
  assert.equal(await storedToken(page), null);
  assert.equal(orch.deadLetters.list().length, 1, 'nothing replayed with a wrong token');

  // Replay asks for the token, keeps it for the tab, and succeeds (the worker succeeds this time).
  const prompts: string[] = [];
  page.once('dialog', (dialog) => {
    prompts.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.accept(TOKEN);
  });
  await page.click(`${letterRow} button[data-action="replay"]`);
  await page.waitForSelector('#notices .notice.ok');
  assert.match(await textOf(page, '#notices .notice.ok'), /Replay of send-invoices succeeded.*"sent":42/);
  assert.equal(prompts.length, 1);
  assert.match(prompts[0] as string, /^prompt: .*Token/);
  assert.equal(await storedToken(page), TOKEN);
  await page.waitForSelector(letterRow, { state: 'detached' });
  await page.waitForSelector('#dl-empty', { state: 'visible' });
  assert.deepEqual(orch.deadLetters.list(), []);
  await page.waitForSelector(`${failingRow}[data-failing="false"]`);
  assert.equal(sends, 2);

  assert.deepEqual(foreign, [], 'self-contained: every request goes to the corral server');
  // The one refused replay is logged by Chromium as a failed request; nothing else may be.
  const unexpected = errors.filter((text) => !/status of 403/.test(text));
  assert.deepEqual(unexpected, [], 'no script error nor failed request in the page');
});
