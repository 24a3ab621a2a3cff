// The dashboard of a cluster host in a real browser (test/browser-helpers.ts; skipped when
// /usr/bin/chromium is missing): the hosts panel lists every live host with its role, the workers it
// executes and its runs in flight; the header names the cluster and Redis's state, and a lost Redis is
// listed under "Needs attention" (README: Running on several machines).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerExecutionMode } from '../../src/index.ts';
import {
  type Browser,
  launchBrowser,
  pageErrors,
  skipWithoutChromium as skip,
  textOf,
} from '../browser-helpers.ts';
import { gate, settle, waitFor } from '../helpers.ts';
import { defer, orchestrator, startRedis } from './harness.ts';

const TRIGGERED = { executionMode: WorkerExecutionMode.TRIGGERED };

test('cluster dashboard: the hosts panel shows each host, its role, workers and runs in flight, and a lost Redis', {
  skip,
  timeout: 150_000,
}, async (t) => {
  const redis = await startRedis(t);
  const cluster = { redis: redis.url, name: 'shop', lockMs: 2000 };
  // web-1 executes both workers; web-2 executes nothing (it queues and serves this page).
  const web1 = orchestrator(t, { cluster: { ...cluster, hostId: 'web-1' } });
  const web2 = orchestrator(t, { cluster: { ...cluster, hostId: 'web-2', execute: false } });
  const held = gate();
  let started = 0;
  web1.registerWorker(
    'ingest',
    async () => {
      started++;
      await held.opened;
      return 'ingested';
    },
    TRIGGERED,
  );
  web1.registerWorker('report', () => 'done', TRIGGERED);
  web2.registerWorker('ingest', () => 'never here', TRIGGERED);
  web2.registerWorker('report', () => 'never here', TRIGGERED);
  await web1.start();
  await web2.start();
  // Cleaned up before the hosts stop (last deferred, first run): a held run must not delay web-1's stop.
  defer(t, async () => held.open());
  const server = await web2.listen({ port: 0 });
  defer(t, () => server.close());

  let browser: Browser | undefined;
  defer(t, async () => {
    await browser?.close();
  });
  browser = await launchBrowser();
  const { page } = browser;
  const errors = pageErrors(page);
  page.setDefaultTimeout(15_000);

  await page.goto(server.url);

  // The panel is shown, with both hosts (web-2 sees web-1 once its mirror has read the heartbeats).
  await page.locator('#hosts-section').waitFor({ state: 'visible' });
  const web1Row = '#hosts-body tr[data-host="web-1"]';
  const web2Row = '#hosts-body tr[data-host="web-2"]';
  await page.waitForSelector(web1Row);
  await page.waitForSelector(web2Row);
  const ids: (string | null)[] = [];
  for (const row of await page.locator('#hosts-body tr').all()) ids.push(await row.getAttribute('data-host'));
  assert.deepEqual(ids, ['web-1', 'web-2']);
  assert.equal(await textOf(page, '#hosts-count'), '(2)');

  // web-1: executes both workers; not the host serving the page.
  assert.equal(await page.getAttribute(web1Row, 'data-role'), 'executes');
  assert.equal(await page.getAttribute(web1Row, 'data-self'), null);
  assert.equal(await textOf(page, `${web1Row} [data-col="host"]`), 'web-1');
  assert.equal(await textOf(page, `${web1Row} [data-col="role"]`), 'executes');
  const workersCell = `${web1Row} [data-col="workers"]`;
  assert.equal(await page.getAttribute(workersCell, 'data-count'), '2');
  assert.match(await textOf(page, workersCell), /^2\s*ingest, report$/);
  assert.equal(await page.getAttribute(workersCell, 'title'), '2 workers: ingest, report');
  assert.match(await textOf(page, `${web1Row} [data-col="seen"]`), /^(just now|\d+s ago)$/);
  // web-2: submits only, executes nothing, and is the host serving the page.
  assert.equal(await page.getAttribute(web2Row, 'data-role'), 'submits');
  assert.equal(await page.getAttribute(web2Row, 'data-self'), 'true');
  assert.match(await textOf(page, `${web2Row} [data-col="host"]`), /^web-2\s*this host$/);
  assert.equal(await textOf(page, `${web2Row} [data-col="role"]`), 'submits only');
  assert.equal(await page.getAttribute(`${web2Row} [data-col="workers"]`, 'data-count'), '0');
  assert.equal(await textOf(page, `${web2Row} [data-col="workers"]`), '—');
  for (const row of [web1Row, web2Row]) assert.equal(await textOf(page, `${row} [data-col="running"]`), '0');

  // The header names the cluster and Redis's state; the recent runs have a Host column.
  assert.equal(await page.getAttribute('#cluster', 'data-redis'), 'ready');
  assert.match(await textOf(page, '#cluster'), /cluster\s*shop\s*Redis ready/);
  assert.equal(await page.isVisible('#runs-host'), true);
  assert.equal(await page.isHidden('#attention'), true);

  // A run in flight on web-1, asked for on web-2: web-1's row counts it, web-2's does not.
  const run = settle(web2.run('ingest'));
  await waitFor(() => started === 1, 15_000, 'the run started on web-1');
  await page.locator(`${web1Row} [data-col="running"] .b-run`, { hasText: '1' }).waitFor();
  assert.equal(await textOf(page, `${web2Row} [data-col="running"]`), '0');
  await page.waitForSelector('#workers-body tr[data-worker="ingest"][data-state="running"]');
  held.open();
  const outcome = await run;
  assert.ok(outcome.ok && outcome.value === 'ingested', 'the run succeeded on web-1');
  await page.waitForSelector(`${web1Row} [data-col="running"] .b-run`, { state: 'detached' });
  assert.equal(await textOf(page, `${web1Row} [data-col="running"]`), '0');
  // Its events came to web-2's /events from web-1: the recent run names the host it ran on.
  await page.waitForSelector('#runs-body tr[data-host="web-1"]', { timeout: 15_000 });

  // Redis lost: the header says so and "Needs attention" lists it; both go once it is back.
  await redis.kill();
  await page.waitForSelector('#cluster[data-redis="unreachable"]', { timeout: 30_000 });
  assert.match(await textOf(page, '#cluster'), /Redis unreachable/);
  await page.locator('#attention [data-attention="redis"]').waitFor({ state: 'visible' });
  assert.match(await textOf(page, '#attention'), /Redis\s*unreachable from this host/);
  await redis.restart();
  await page.waitForSelector('#cluster[data-redis="ready"]', { timeout: 30_000 });
  await page.waitForSelector('#attention [data-attention="redis"]', { state: 'detached' });

  // A host that stops leaves the panel.
  await web1.stop();
  await page.waitForSelector(web1Row, { state: 'detached' });
  assert.equal(await textOf(page, '#hosts-count'), '(1)');

  assert.deepEqual(errors, [], 'no script error nor failed request in the page');
});
