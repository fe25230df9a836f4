// Keys: the table of keys with their spend, a key created from the page (its secret shown once
// and working against the gateway), then revoked with one press (no browser dialog) and refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, signIn } from '../lib/browser.mjs';
import { eventually } from '../lib/wait.mjs';

const modelsStatus = async (gw, secret) => (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status;

export default function keys(env) {
  test('a key created on the page works, and once revoked is refused', async () => {
    const { page, problems, cspViolations, close } = await openPage(env.browser, env.gw.url);
    let dialogs = 0;
    page.on('dialog', () => dialogs++);
    try {
      await signIn(page, env.gw.admin.secret);
      await page.getByRole('link', { name: 'Keys' }).click();
      const table = page.getByRole('table', { name: 'Keys' });
      for (const key of [env.gw.admin, env.gw.ordinary]) await table.getByRole('row').filter({ hasText: key.id }).waitFor();
      assert.match(await table.getByRole('row').filter({ hasText: env.gw.ordinary.id }).innerText(), /USD/, 'spend shown');

      await page.getByRole('textbox', { name: 'Name', exact: true }).fill('browser-temp');
      await page.getByRole('button', { name: 'Create key' }).click();
      const secretEl = page.getByLabel('New key', { exact: true });
      await eventually(async () => assert.match(await secretEl.innerText(), /^sk-sluice-\S+$/));
      const secret = (await secretEl.innerText()).trim();
      const row = table.getByRole('row').filter({ hasText: 'browser-temp' });
      await row.waitFor();
      assert.match(await row.innerText(), /Active/);
      assert.match(await row.innerText(), /Ordinary/);
      await eventually(async () => assert.equal(await modelsStatus(env.gw, secret), 200), 20_000);

      await row.getByRole('button', { name: 'Revoke' }).click();
      await eventually(async () => assert.match(await row.innerText(), /Revoked/));
      assert.equal(dialogs, 0, 'revoking opens no browser dialog');
      assert.equal(await row.getByRole('button', { name: 'Revoke' }).count(), 0);
      await eventually(async () => assert.equal(await modelsStatus(env.gw, secret), 401), 20_000);
      // The admin's own key still works.
      assert.equal(await modelsStatus(env.gw, env.gw.admin.secret), 200);
      assert.deepEqual([...problems, ...(await cspViolations())], []);
    } finally {
      await close();
    }
  });
}
