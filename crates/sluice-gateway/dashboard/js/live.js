// The Overview's feed: `GET /v1/dashboard/live` read with fetch (the key in a header), one
// `snapshot` event about each second. A dropped or silent stream is re-opened, waiting a little
// longer each time it fails in a row (up to MAX_WAIT_MS).

import { send, errorOf, signalUnauthorized } from './api.js';
import { readEvents } from './sse.js';

const FIRST_WAIT_MS = 500;
const MAX_WAIT_MS = 10_000;
/** Snapshots come each second: this long without one means the stream is stuck. */
const SILENCE_MS = 10_000;

/**
 * Starts the feed. `onSnapshot(snapshot)` gets each snapshot; `onState(state, detail)` hears
 * 'connecting', 'live', 'waiting' (with the error) and 'stopped'. Returns `stop()`.
 */
export function follow(onSnapshot, onState) {
  let stopped = false;
  let current = null;

  const run = async () => {
    let wait = FIRST_WAIT_MS;
    while (!stopped) {
      onState('connecting');
      current = new AbortController();
      const ctl = current;
      let watchdog = setTimeout(() => ctl.abort(), SILENCE_MS);
      let error = null;
      try {
        const res = await send('/v1/dashboard/live', { signal: ctl.signal, headers: { accept: 'text/event-stream' } });
        if (!res.ok) {
          const err = await errorOf(res);
          if (res.status === 401 || res.status === 403) {
            signalUnauthorized();
            stopped = true;
          }
          throw err;
        }
        for await (const ev of readEvents(res.body)) {
          if (ev.event !== 'snapshot') continue;
          let snap;
          try {
            snap = JSON.parse(ev.data);
          } catch {
            continue;
          }
          clearTimeout(watchdog);
          watchdog = setTimeout(() => ctl.abort(), SILENCE_MS);
          wait = FIRST_WAIT_MS;
          onState('live');
          onSnapshot(snap);
        }
        error = new Error('The live feed ended.');
      } catch (err) {
        error = err?.name === 'AbortError' ? new Error('The live feed went silent.') : err;
      } finally {
        clearTimeout(watchdog);
      }
      if (stopped) break;
      onState('waiting', error);
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 2, MAX_WAIT_MS);
    }
    onState('stopped');
  };
  run();

  return () => {
    stopped = true;
    current?.abort();
  };
}
