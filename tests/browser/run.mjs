// The dashboard's browser tests: headless Chromium against the real gateway binary (built
// beforehand: `cargo build -p sluice`), with a SQLite ledger and keys of its own.
//
//   node --test-reporter=spec tests/browser/run.mjs      (scripts/test.sh runs it)
//
// Two gateways: an open one (no keys) and one with an admin and an ordinary key, both routing
// `mock` to the built-in simulated provider and `slow` to `sluice mock-upstream`.

import { describe, before, after } from 'node:test';
import { startGateway, startSlowProvider } from './lib/gateway.mjs';
import { launch } from './lib/browser.mjs';
import access from './specs/access.mjs';
import traffic from './specs/traffic.mjs';
import playground from './specs/playground.mjs';
import keys from './specs/keys.mjs';
import layout from './specs/layout.mjs';
import live from './specs/live.mjs';

/** What the specs share; filled in by `before`. */
const env = { browser: null, slow: null, open: null, gw: null };

describe('dashboard', { concurrency: false }, () => {
  before(async () => {
    env.slow = await startSlowProvider();
    [env.open, env.gw, env.browser] = await Promise.all([
      startGateway({ slowUrl: env.slow.url }),
      startGateway({ slowUrl: env.slow.url, keys: true }),
      launch(),
    ]);
  });
  after(async () => {
    await env.browser?.close();
    await Promise.all([env.open?.cleanup(), env.gw?.cleanup(), env.slow?.stop()]);
  });

  access(env);
  traffic(env);
  playground(env);
  keys(env);
  layout(env);
  live(env);
});
