// Streamed requests through the gateway show up on the Overview (spend, latency per model,
// charts) and in the Requests tail, newest first, filtered and paged through the cursor.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, signIn } from '../lib/browser.mjs';
import { streamOne } from '../lib/gateway.mjs';
import { eventually } from '../lib/wait.mjs';

const STREAMS = 12;

/** The number in a text such as "0.0012 USD" or "1,234". */
const numberIn = (text) => Number(/-?[\d,]*\.?\d+/.exec(text ?? '')?.[0].replaceAll(',', '') ?? NaN);

export default function traffic(env) {
  test('streamed requests appear on the Overview: spend, latency per model, charts', async () => {
    for (let i = 0; i < STREAMS; i += 4) {
      await Promise.all([0, 1, 2, 3].map(() => streamOne(env.gw, env.gw.ordinary.secret, 'mock')));
    }
    const { page, problems, cspViolations, close } = await openPage(env.browser, env.gw.url);
    try {
      await signIn(page, env.gw.admin.secret);
      await eventually(async () => assert.equal(await page.getByRole('status').filter({ hasText: /^Live$/ }).count(), 1));

      const row = page.getByRole('table', { name: /Latency by model/ }).getByRole('row').filter({ hasText: 'mock' });
      await eventually(async () => {
        assert.equal(await row.count(), 1);
        const requests = await row.getByRole('cell').nth(2).innerText();
        assert.ok(numberIn(requests) >= STREAMS, `requests in the window: ${requests}`);
        assert.match(await row.innerText(), /\d ms \/ [\d.]+ m?s \/ [\d.]+ m?s/);
      });
      // Spend counts requests that finished seconds ago (the ledger's flush).
      await eventually(async () => {
        const today = await page.locator('#spend-today').innerText();
        assert.ok(numberIn(today) > 0, `spend today: ${today}`);
        assert.match(today, /USD/);
        assert.match(await page.locator('#spend-today + .stat-extra').innerText(), /JPY/);
        assert.ok(numberIn(await page.locator('#spend-month').innerText()) > 0);
      }, 20_000);
      // Spend by key from the rollups, today and this month.
      const byKey = page.getByRole('table', { name: 'Spend by key' }).getByRole('row').filter({ hasText: 'ordinary' });
      await eventually(async () => {
        assert.equal(await byKey.count(), 1);
        assert.ok(numberIn(await byKey.getByRole('cell').nth(1).innerText()) >= STREAMS);
        assert.match(await byKey.innerText(), /USD[\s\S]*JPY/);
      }, 20_000);
      await page.getByLabel('Spend period').selectOption('month');
      const byModel = page.getByRole('table', { name: 'Spend by model' }).getByRole('row').filter({ hasText: 'mock' });
      await eventually(async () => assert.ok(numberIn(await byModel.getByRole('cell').nth(1).innerText()) >= STREAMS));
      const throughput = page.getByRole('img', { name: /^Throughput/ });
      await eventually(async () => {
        const label = await throughput.getAttribute('aria-label');
        assert.ok(numberIn(label.split(':').pop()) > 0, label);
      });
      assert.equal(await page.locator('.chart canvas').count() >= 2, true, 'two charts drawn');
      assert.match(await page.locator('.breakers').innerText(), /builtin[\s\S]*Closed|Closed[\s\S]*builtin/);
      assert.deepEqual([...problems, ...(await cspViolations())], []);
    } finally {
      await close();
    }
  });

  test('the Requests tail lists them newest first, filters, and pages through the cursor', async () => {
    const { page, problems, close } = await openPage(env.browser, env.gw.url);
    try {
      await signIn(page, env.gw.admin.secret);
      await page.getByRole('link', { name: 'Requests' }).click();
      for (const name of ['Model', 'Provider', 'Key', 'Status', 'Tokens', 'Cost', 'TTFT']) {
        assert.equal(await page.getByRole('columnheader', { name, exact: true }).count(), 1, name);
      }
      const table = page.getByRole('table', { name: /Finished requests/ });
      const mine = table.getByRole('row').filter({ hasText: 'ordinary' });
      await eventually(async () => assert.ok((await mine.count()) >= STREAMS, `${await mine.count()} rows`), 20_000);
      const first = await mine.first().innerText();
      assert.match(first, /mock/);
      assert.match(first, /ok/);
      assert.match(first, /USD/);
      assert.match(first, /JPY/);
      const times = await table.locator('time').evaluateAll((els) => els.map((e) => Date.parse(e.getAttribute('datetime'))));
      assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');

      // A filter that matches nothing, then back.
      await page.getByLabel('Filter by model').fill('slow-model-nobody-used');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await table.getByRole('cell', { name: 'No requests match.' }).waitFor();
      await page.getByRole('button', { name: 'Clear filters' }).click();
      await eventually(async () => assert.ok((await mine.count()) >= STREAMS));

      // Pages of ten through the cursor.
      await page.getByLabel('Follow new requests').uncheck();
      await page.getByLabel('Rows per page').selectOption('10');
      const ids = () => table.getByRole('row').evaluateAll((rows) => rows.map((r) => r.getAttribute('title')).filter(Boolean));
      await eventually(async () => assert.equal((await ids()).length, 10));
      const pageOne = await ids();
      const next = page.getByRole('button', { name: 'Next page' });
      assert.equal(await next.isEnabled(), true);
      assert.equal(await page.getByRole('button', { name: 'Previous page' }).isEnabled(), false);
      await next.click();
      await eventually(async () => assert.notDeepEqual(await ids(), pageOne));
      const pageTwo = await ids();
      assert.ok(pageTwo.length >= 2, `page two: ${pageTwo.length} rows`);
      assert.deepEqual(pageTwo.filter((id) => pageOne.includes(id)), [], 'pages do not overlap');
      await page.getByRole('button', { name: 'Previous page' }).click();
      await eventually(async () => assert.deepEqual(await ids(), pageOne));
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
}
