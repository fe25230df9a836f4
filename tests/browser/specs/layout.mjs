// For people and assistive technology: every control reached with Tab and drawn with a focus
// ring; every view within a 390-px screen; the system's light or dark scheme followed. The same
// run saves the screenshots of docs/screenshots/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openPage, signIn } from '../lib/browser.mjs';
import { eventually } from '../lib/wait.mjs';

const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/screenshots');
const VIEWS = ['overview', 'requests', 'keys', 'playground'];
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's WCAG 2.1 A/AA findings on the page as it is: `rule: elements`. */
async function axeViolations(page) {
  await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => {
    const res = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return res.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

/** Opens `view` by its link and waits until its data is on screen. */
async function openView(page, view) {
  const name = view[0].toUpperCase() + view.slice(1);
  await page.getByRole('link', { name }).click();
  await page.getByRole('heading', { name, level: 2 }).waitFor();
  if (view === 'overview') {
    await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor();
    await page.locator('.chart canvas').first().waitFor();
  }
  if (view === 'requests') await page.getByRole('table', { name: /Finished requests/ }).getByRole('row').nth(1).getByRole('cell').nth(1).waitFor();
  if (view === 'keys') await page.getByRole('button', { name: 'Revoke' }).first().waitFor();
  if (view === 'playground') await page.getByRole('combobox', { name: 'Model', exact: true }).locator('option').first().waitFor({ state: 'attached' });
}

/** Streams the playground's two answers to their end, so the view shows what it is for. */
async function compareAnswers(page) {
  await page.getByRole('combobox', { name: 'Model', exact: true }).selectOption('slow');
  await page.getByRole('combobox', { name: 'Compare with' }).selectOption('mock');
  await page.getByRole('button', { name: 'Send' }).click();
  await eventually(async () => assert.equal(await page.locator('.pane[data-state="done"]').count(), 2), 20_000);
}

const horizontalOverflow = (page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

export default function layout(env) {
  test('Tab reaches every control of every view, each with a visible focus ring', async () => {
    const { page, close } = await openPage(env.browser, env.gw.url);
    try {
      await signIn(page, env.gw.admin.secret);
      for (const view of VIEWS) {
        // A fresh load (not a hash change), so that Tab starts at the top of the document.
        await page.goto('about:blank');
        await page.goto(`/#${view}`);
        await openView(page, view);
        const total = await page.evaluate(() => {
          const all = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex], summary')];
          const controls = all.filter((el) => !el.disabled && el.tabIndex >= 0 && !el.closest('[hidden]') && el.getClientRects().length > 0);
          controls.forEach((el, i) => (el.dataset.tabTarget = String(i)));
          return controls.length;
        });
        assert.ok(total >= 5, `${view}: ${total} controls`);
        const reached = new Set();
        const unringed = [];
        for (let i = 0; i < total + 10 && reached.size < total; i++) {
          await page.keyboard.press('Tab');
          const at = await page.evaluate(() => {
            const el = document.activeElement;
            // Past the last control focus leaves the page (the body holds it): no ring needed.
            if (!el || el === document.body) return { id: null, ring: true, what: 'body' };
            const style = getComputedStyle(el);
            return { id: el.dataset.tabTarget ?? null, ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2, what: el.outerHTML.slice(0, 80) };
          });
          if (at.id !== null) reached.add(at.id);
          if (!at.ring) unringed.push(at.what);
        }
        const missed = await page.evaluate((seen) => [...document.querySelectorAll('[data-tab-target]')].filter((el) => !seen.includes(el.dataset.tabTarget)).map((el) => el.outerHTML.slice(0, 80)), [...reached]);
        assert.deepEqual(missed, [], `${view}: not reached by Tab`);
        assert.deepEqual(unringed, [], `${view}: focused without a visible ring`);
      }
    } finally {
      await close();
    }
  });

  test('every view fits a 390-px screen without sideways scrolling', async () => {
    const { page, close } = await openPage(env.browser, env.gw.url, { width: 390, height: 844 });
    try {
      await page.goto('/');
      await page.getByLabel('Admin key').waitFor();
      assert.equal(await horizontalOverflow(page), 0, 'sign-in');
      await signIn(page, env.gw.admin.secret);
      for (const view of VIEWS) {
        await openView(page, view);
        if (view === 'playground') await compareAnswers(page);
        assert.equal(await horizontalOverflow(page), 0, view);
      }
    } finally {
      await close();
    }
  });

  test('axe finds no accessibility violation in any view, light, dark or 390 px wide', async () => {
    // The policy forbids the inline script axe is injected as: this page alone bypasses it.
    for (const [scheme, width] of [['light', 1280], ['dark', 1280], ['dark', 390]]) {
      const { page, close } = await openPage(env.browser, env.gw.url, { width, scheme, bypassCSP: true });
      try {
        await page.goto('/');
        await page.getByLabel('Admin key').waitFor();
        assert.deepEqual(await axeViolations(page), [], `sign-in, ${scheme}, ${width} px`);
        await signIn(page, env.gw.admin.secret);
        for (const view of VIEWS) {
          await openView(page, view);
          if (view === 'playground') await compareAnswers(page);
          assert.deepEqual(await axeViolations(page), [], `${view}, ${scheme}, ${width} px`);
        }
      } finally {
        await close();
      }
    }
  });

  for (const scheme of ['light', 'dark']) {
    test(`the ${scheme} scheme is followed (screenshots in docs/screenshots)`, async () => {
      const { page, problems, cspViolations, close } = await openPage(env.browser, env.gw.url, { width: 1280, height: 900, scheme });
      try {
        await signIn(page, env.gw.admin.secret);
        const luminance = await page.evaluate(() => {
          const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
          return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
        });
        if (scheme === 'dark') assert.ok(luminance < 0.3, `dark background: ${luminance}`);
        else assert.ok(luminance > 0.7, `light background: ${luminance}`);
        mkdirSync(SHOTS, { recursive: true });
        for (const view of VIEWS) {
          await openView(page, view);
          if (view === 'playground') await compareAnswers(page);
          await page.screenshot({ path: join(SHOTS, `${view}-${scheme}.png`) });
        }
        assert.deepEqual([...problems, ...(await cspViolations())], []);
      } finally {
        await close();
      }
    });
  }
}
