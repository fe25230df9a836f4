// Who may see the dashboard: sign-in with the admin key only, the key kept in the tab and in no
// URL or cookie, an open gateway without sign-in, and the data API closed to other keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, signIn } from '../lib/browser.mjs';
import { eventually } from '../lib/wait.mjs';

const DASHBOARD_GETS = ['/v1/dashboard/session', '/v1/dashboard/live', '/v1/dashboard/spend?period=today', '/v1/dashboard/requests', '/v1/dashboard/keys'];

export default function access(env) {
  test('the page is served from the binary with a strict policy', async () => {
    const res = await fetch(`${env.gw.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const js = await fetch(`${env.gw.url}/dashboard/js/main.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    const chart = await fetch(`${env.gw.url}/dashboard/vendor/uplot/uPlot.iife.min.js`);
    assert.equal(chart.status, 200);
    assert.equal((await fetch(`${env.gw.url}/dashboard/nope.js`)).status, 404);
  });

  test('the policy blocks an injected inline script (and the page itself needs none)', async () => {
    const { page, problems, cspViolations, close } = await openPage(env.browser, env.gw.url);
    try {
      await page.goto('/');
      await page.getByLabel('Admin key').waitFor();
      assert.deepEqual([...problems, ...(await cspViolations())], [], 'the page loads without a violation');
      const outcome = await page.evaluate(() => {
        try {
          const s = document.createElement('script');
          s.textContent = 'window.__injected = true';
          document.body.append(s);
        } catch (err) {
          return `refused: ${err.name}`;
        }
        return window.__injected ? 'ran' : 'not run';
      });
      assert.notEqual(outcome, 'ran');
      await eventually(async () => assert.ok((await cspViolations()).length > 0, 'the violation was reported'));
    } finally {
      await close();
    }
  });

  test('a wrong key is refused with an alert and not kept', async () => {
    const { page, problems, close } = await openPage(env.browser, env.gw.url);
    try {
      await page.goto('/');
      await page.getByLabel('Admin key').fill('sk-sluice-nothere-wrongsecret');
      await page.getByRole('button', { name: 'Sign in' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.textContent(), /refused/i);
      assert.equal(await page.getByRole('link', { name: 'Overview' }).count(), 0);
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  test('an ordinary key is refused like a wrong one', async () => {
    const { page, close } = await openPage(env.browser, env.gw.url);
    try {
      await page.goto('/');
      await page.getByLabel('Admin key').fill(env.gw.ordinary.secret);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.textContent(), /not an admin key/i);
      assert.equal(await page.getByRole('link', { name: 'Overview' }).count(), 0);
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    } finally {
      await close();
    }
  });

  test('the admin key signs in, stays in the tab only and appears in no URL', async () => {
    const { context, page, problems, urls, cspViolations, close } = await openPage(env.browser, env.gw.url);
    const secret = env.gw.admin.secret;
    try {
      await signIn(page, secret);
      for (const name of ['Overview', 'Requests', 'Keys', 'Playground']) {
        await page.getByRole('link', { name }).click();
        await page.getByRole('heading', { name, level: 2 }).waitFor();
      }
      assert.equal(await page.getByRole('alert').count(), 0);
      assert.deepEqual(Object.values(await page.evaluate(() => ({ ...sessionStorage }))), [secret]);
      assert.equal(await page.evaluate(() => localStorage.length), 0);
      assert.deepEqual(await context.cookies(), []);
      // A reload keeps the tab signed in; another tab (context) must sign in itself.
      await page.reload();
      await page.getByRole('link', { name: 'Overview' }).waitFor();
      assert.equal(await page.getByLabel('Admin key').isVisible(), false);
      assert.ok(urls.some((u) => u.includes('/v1/dashboard/')), 'the page called the data API');
      assert.deepEqual(urls.filter((u) => u.includes(secret) || u.includes(secret.split('-').pop())), []);
      assert.deepEqual([...problems, ...(await cspViolations())], []);
      // Signing out forgets the key.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Admin key').waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    } finally {
      await close();
    }
  });

  test('an open gateway needs no sign-in and says it is open', async () => {
    const { page, problems, close } = await openPage(env.browser, env.open.url);
    try {
      await page.goto('/');
      await page.getByRole('link', { name: 'Overview' }).waitFor();
      assert.match(await page.locator('#open-note').innerText(), /gateway is open/i);
      assert.equal(await page.locator('#open-note').isVisible(), true);
      assert.equal(await page.getByLabel('Admin key').isVisible(), false);
      await page.getByRole('link', { name: 'Keys' }).click();
      await page.getByRole('cell', { name: /No keys yet/ }).waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  test('the data API answers the admin key only: 401 without a key, 403 for an ordinary one', async () => {
    const call = async (path, key, method = 'GET') => {
      const ctl = new AbortController();
      const res = await fetch(`${env.gw.url}${path}`, {
        method,
        signal: ctl.signal,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' },
        body: method === 'POST' ? JSON.stringify({ name: 'should-not-exist' }) : undefined,
      });
      if (path.includes('/live')) ctl.abort(); // the live feed never ends
      return res;
    };
    for (const path of DASHBOARD_GETS) {
      assert.equal((await call(path, null)).status, 401, `${path} without a key`);
      assert.equal((await call(path, env.gw.ordinary.secret)).status, 403, `${path} with an ordinary key`);
      assert.equal((await call(path, env.gw.admin.secret)).status, 200, `${path} with the admin key`);
    }
    for (const path of ['/v1/dashboard/keys', `/v1/dashboard/keys/${env.gw.admin.id}/revoke`]) {
      assert.equal((await call(path, null, 'POST')).status, 401, `POST ${path} without a key`);
      assert.equal((await call(path, env.gw.ordinary.secret, 'POST')).status, 403, `POST ${path} with an ordinary key`);
    }
    const body = await (await call('/v1/dashboard/session', env.gw.ordinary.secret)).json().catch(() => null);
    assert.equal(body?.error?.type, 'permission_error');
  });
}
