// The playground streams through the gateway with the signed-in key: the answer grows piece by
// piece, then shows its TTFT, TPOT, tokens and cost; "Compare with" streams two models at once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, signIn } from '../lib/browser.mjs';
import { eventually } from '../lib/wait.mjs';

/** Records, for the region with `id`, the length of its text after each change. */
function watchGrowth(page, id, otherId = null) {
  return page.evaluate(
    ([regionId, other]) => {
      const region = document.getElementById(regionId);
      const seen = [];
      window.__growth = window.__growth ?? {};
      window.__growth[regionId] = seen;
      new MutationObserver(() => {
        const busyOther = other ? document.getElementById(other).getAttribute('aria-busy') === 'true' : null;
        seen.push({ length: region.textContent.length, busy: region.getAttribute('aria-busy'), busyOther });
      }).observe(region, { childList: true, characterData: true, subtree: true, attributes: true });
    },
    [id, otherId],
  );
}

const growth = (page, id) => page.evaluate((regionId) => window.__growth[regionId], id);

/** The pane's measurements, by name. */
async function measurements(page, region) {
  const pane = page.locator('.pane').filter({ has: region });
  const out = {};
  for (const key of ['model', 'provider', 'ttft', 'tpot', 'tokens', 'cost']) out[key] = await pane.locator(`[data-stat="${key}"]`).innerText();
  return out;
}

function assertMeasured(m, model) {
  assert.equal(m.model, model);
  assert.match(m.ttft, /^[\d.]+ m?s$/, `TTFT ${m.ttft}`);
  assert.match(m.tpot, /^[\d.]+ m?s$/, `TPOT ${m.tpot}`);
  assert.match(m.tokens, /^\d+ in, \d+ out$/, `tokens ${m.tokens}`);
  assert.match(m.cost, /^[\d.]+ USD · [\d.,]+ JPY$/, `cost ${m.cost}`);
  assert.ok(Number(m.cost.split(' ')[0]) > 0, `cost ${m.cost}`);
}

export default function playground(env) {
  test('an answer streams into "Answer" piece by piece, then shows TTFT, TPOT, tokens and cost', async () => {
    const { page, problems, cspViolations, close } = await openPage(env.browser, env.gw.url);
    const sent = [];
    page.on('request', (req) => {
      if (req.url().endsWith('/v1/chat/completions')) sent.push({ body: req.postDataJSON(), auth: req.headers().authorization });
    });
    try {
      await signIn(page, env.gw.admin.secret);
      await page.getByRole('link', { name: 'Playground' }).click();
      const model = page.getByRole('combobox', { name: 'Model', exact: true });
      await eventually(async () => assert.ok((await model.locator('option').allInnerTexts()).includes('slow')));
      await model.selectOption('slow');
      assert.equal(await page.getByRole('combobox', { name: 'Compare with' }).inputValue(), '', 'compare is off');
      await page.getByRole('textbox', { name: 'Prompt' }).fill('Tell me about rivers.');
      const answer = page.getByRole('region', { name: 'Answer', exact: true });
      assert.equal(await page.getByRole('region', { name: 'Answer (compare)' }).count(), 0, 'no compare pane when off');
      await watchGrowth(page, await answer.getAttribute('id'));
      await page.getByRole('button', { name: 'Send' }).click();

      await eventually(async () => assert.equal(await answer.getAttribute('aria-busy'), 'true'));
      await eventually(async () => assert.equal(await answer.getAttribute('aria-busy'), 'false'), 20_000);
      const lengths = (await growth(page, await answer.getAttribute('id'))).filter((s) => s.busy === 'true').map((s) => s.length);
      const distinct = [...new Set(lengths)].filter((n) => n > 0);
      assert.ok(distinct.length >= 5, `the answer grew in ${distinct.length} steps while streaming: ${distinct}`);
      assert.deepEqual(distinct, [...distinct].sort((a, b) => a - b), 'it only grew');
      assert.ok((await answer.innerText()).trim().length > 0);
      assertMeasured(await measurements(page, answer), 'slow');
      assert.equal(await page.locator('.pane [data-stat="provider"]').first().innerText(), 'sim');

      assert.equal(sent.length, 1);
      assert.equal(sent[0].auth, `Bearer ${env.gw.admin.secret}`, 'streams with the signed-in key');
      assert.equal(sent[0].body.model, 'slow');
      assert.equal(sent[0].body.stream, true);
      assert.deepEqual(sent[0].body.stream_options, { include_usage: true });
      assert.equal('max_tokens' in sent[0].body, false, 'no max_tokens unless set');
      assert.deepEqual([...problems, ...(await cspViolations())], []);
    } finally {
      await close();
    }
  });

  test('"Compare with" streams two models at once into "Answer" and "Answer (compare)"', async () => {
    const { page, problems, close } = await openPage(env.browser, env.gw.url);
    const sent = [];
    page.on('request', (req) => {
      if (req.url().endsWith('/v1/chat/completions')) sent.push(req.postDataJSON());
    });
    try {
      await signIn(page, env.gw.admin.secret);
      await page.getByRole('link', { name: 'Playground' }).click();
      const model = page.getByRole('combobox', { name: 'Model', exact: true });
      await eventually(async () => assert.ok((await model.locator('option').allInnerTexts()).includes('slow')));
      await model.selectOption('slow');
      await page.getByRole('combobox', { name: 'Compare with' }).selectOption('mock');
      await page.getByLabel('Max tokens (optional)').fill('12');
      const main = page.getByRole('region', { name: 'Answer', exact: true });
      const other = page.getByRole('region', { name: 'Answer (compare)', exact: true });
      await other.waitFor();
      await watchGrowth(page, await other.getAttribute('id'), await main.getAttribute('id'));
      await page.getByRole('button', { name: 'Send' }).click();

      await eventually(async () => {
        assert.equal(await main.getAttribute('aria-busy'), 'false');
        assert.equal(await other.getAttribute('aria-busy'), 'false');
        assert.match(await page.locator('.pane').first().innerText(), /Done/);
        assert.match(await page.locator('.pane').nth(1).innerText(), /Done/);
      }, 20_000);
      assert.ok((await main.innerText()).trim().length > 0);
      assert.ok((await other.innerText()).trim().length > 0);
      assertMeasured(await measurements(page, main), 'slow');
      assertMeasured(await measurements(page, other), 'mock');
      // The fast model's text arrived while the slow one was still streaming: both at once.
      const overlap = (await growth(page, await other.getAttribute('id'))).filter((s) => s.length > 0 && s.busyOther === true);
      assert.ok(overlap.length > 0, 'the compare answer streamed while the main one was in flight');
      assert.deepEqual(sent.map((b) => b.model).sort(), ['mock', 'slow']);
      assert.ok(sent.every((b) => b.max_tokens === 12), 'a max_tokens set by the person is sent');
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
}
