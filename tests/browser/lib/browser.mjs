// Headless Chromium (Debian's, /usr/bin/chromium) driven by playwright-core, and pages that
// record what must never happen: script errors, content-security-policy violations, and the
// admin key in any URL the page requests.

import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM)`);
  return chromium.launch({ executablePath: CHROMIUM });
}

/**
 * A fresh context and page on `base`. `problems` collects script errors and CSP violations;
 * `urls` every request URL. Dialogs (the revoke confirmation) are accepted.
 */
export async function openPage(browser, base, { width = 1280, height = 900, scheme = 'light', bypassCSP = false } = {}) {
  const context = await browser.newContext({ baseURL: base, viewport: { width, height }, colorScheme: scheme, bypassCSP });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems = [];
  const urls = [];
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations = [...(window.__cspViolations ?? []), `${e.violatedDirective} ${e.blockedURI}`];
    });
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('request', (req) => urls.push(req.url()));
  page.on('dialog', (dialog) => dialog.accept());
  const cspViolations = async () => (await page.evaluate(() => window.__cspViolations ?? []).catch(() => []));
  return { context, page, problems, urls, cspViolations, close: () => context.close() };
}

/** Signs in on the page with `key` and waits for the views' links. */
export async function signIn(page, key) {
  await page.goto('/');
  await page.getByLabel('Admin key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await page.getByRole('link', { name: 'Overview' }).or(alert).first().waitFor();
  if (await alert.isVisible()) throw new Error(`sign-in refused: ${await alert.innerText()}`);
}
