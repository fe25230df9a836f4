// Waiting for things that happen "within seconds" (ledger flushes, key caches, streams): the
// check is retried until it passes; the limit only bounds how long a broken build takes to fail.

/** Retries `check` (which throws while not yet true) until it returns, or rethrows after `limitMs`. */
export async function eventually(check, limitMs = 15_000, everyMs = 100) {
  const end = Date.now() + limitMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > end) throw err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
