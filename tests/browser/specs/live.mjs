// The Overview's live feed survives the gateway going away: it says it is reconnecting, and
// shows snapshots again once the gateway is back on its address. (Last: it restarts the gateway.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, signIn } from '../lib/browser.mjs';
import { eventually } from '../lib/wait.mjs';

export default function live(env) {
  test('the live feed reconnects after the gateway restarts', async () => {
    const { page, urls, close } = await openPage(env.browser, env.gw.url);
    try {
      await signIn(page, env.gw.admin.secret);
      const state = page.locator('.live-state');
      await eventually(async () => assert.equal(await state.getAttribute('data-state'), 'live'));
      await page.evaluate(() => {
        window.__liveStates = [];
        const el = document.querySelector('.live-state');
        new MutationObserver(() => window.__liveStates.push(el.dataset.state)).observe(el, { attributes: true });
      });
      const feeds = () => urls.filter((u) => u.endsWith('/v1/dashboard/live')).length;
      const before = feeds();

      await env.gw.restart();

      await eventually(async () => {
        const seen = await page.evaluate(() => window.__liveStates);
        const waiting = seen.indexOf('waiting');
        assert.ok(waiting >= 0, `states: ${seen}`);
        assert.ok(seen.lastIndexOf('live') > waiting, `states: ${seen}`);
      }, 30_000);
      assert.ok(feeds() > before, 'the feed was opened again');
      assert.match(await state.innerText(), /^Live$/);
    } finally {
      await close();
    }
  });
}
