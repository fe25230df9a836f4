// One streamed chat completion through the gateway with the signed-in key, measured as it
// arrives: time to the first token (TTFT), time per output token after it (TPOT), and the
// usage and cost of the final usage chunk.

import { send, errorOf, signalUnauthorized } from './api.js';
import { readEvents } from './sse.js';

/**
 * Streams `prompt` to `model`. `on.text(delta)` gets each piece of content, `on.stats(stats)`
 * the measurements as they change. Resolves with the final stats; rejects with an ApiError, or
 * an AbortError when `signal` stops it.
 */
export async function streamChat({ model, prompt, maxTokens, signal }, on) {
  const body = {
    model,
    messages: [{ role: 'user', content: prompt }],
    stream: true,
    stream_options: { include_usage: true },
  };
  if (maxTokens) body.max_tokens = maxTokens;
  const started = performance.now();
  const res = await send('/v1/chat/completions', { method: 'POST', body, signal, headers: { accept: 'text/event-stream' } });
  if (!res.ok) {
    if (res.status === 401) signalUnauthorized();
    throw await errorOf(res);
  }
  const stats = {
    provider: res.headers.get('x-sluice-provider'),
    requestId: res.headers.get('x-request-id'),
    ttftMs: null,
    tpotMs: null,
    promptTokens: null,
    completionTokens: null,
    costUsd: null,
    costLocal: null,
    chunks: 0,
    finish: null,
  };
  on.stats(stats);
  let first = null;
  let last = null;
  for await (const ev of readEvents(res.body)) {
    if (ev.data === '[DONE]') break;
    let chunk;
    try {
      chunk = JSON.parse(ev.data);
    } catch {
      continue;
    }
    if (chunk.error) throw new Error(chunk.error.message ?? 'The stream ended with an error.');
    const choice = chunk.choices?.[0];
    const text = (choice?.delta?.content ?? '') || '';
    if (text) {
      const now = performance.now();
      first ??= now;
      last = now;
      stats.chunks += 1;
      if (stats.ttftMs === null) stats.ttftMs = now - started;
      on.text(text);
    }
    if (choice?.finish_reason) stats.finish = choice.finish_reason;
    if (chunk.usage) {
      stats.promptTokens = chunk.usage.prompt_tokens ?? null;
      stats.completionTokens = chunk.usage.completion_tokens ?? null;
      // Amounts are JSON numbers: read their exact text rather than a rounded float.
      stats.costUsd = rawNumber(ev.data, 'cost') ?? chunk.usage.cost ?? null;
      const local = chunk.usage.cost_local;
      stats.costLocal = local ? { currency: local.currency, amount: rawNumber(ev.data, 'amount') ?? local.amount } : null;
    }
    // The chunk count stands in for the token count until the usage chunk says.
    const n = stats.completionTokens ?? stats.chunks;
    if (first !== null && n > 1) stats.tpotMs = (last - first) / (n - 1);
    on.stats(stats);
  }
  return stats;
}

/** The literal text of the number after `"key":` in `json`, or null. */
function rawNumber(json, key) {
  const m = new RegExp(`"${key}"\\s*:\\s*"?(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)`).exec(json);
  return m ? m[1] : null;
}
