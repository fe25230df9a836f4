// Overview: the live snapshot pushed each second — spend, throughput, streams, errors,
// latency per model and provider, breakers — and charts over the last window; below, spend by
// model, provider and key (`spend.js`).

import { h, fill } from './dom.js';
import { count, fixed, money, ms, time, DASH } from './format.js';
import { follow } from './live.js';
import { dataTable } from './table.js';
import { lineChart } from './charts.js';
import { createSpend } from './spend.js';

const STATE_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  waiting: 'Reconnecting…',
  stopped: 'Paused',
};

const BREAKER_TEXT = {
  closed: { text: 'Closed: serving', mark: '✓' },
  half_open: { text: 'Half open: trying one request', mark: '◐' },
  open: { text: 'Open: skipped for now', mark: '✕' },
};

export function create(root) {
  const status = h('p', { class: 'live-state', role: 'status', 'data-state': 'connecting' }, STATE_TEXT.connecting);
  const updated = h('p', { class: 'muted' }, 'Waiting for the first snapshot.');

  const stat = (label, id) => {
    const value = h('span', { class: 'stat-value', id }, DASH);
    const extra = h('span', { class: 'stat-extra' });
    const el = h('div', { class: 'stat' }, h('dt', {}, label), h('dd', {}, value, extra));
    return { el, value, extra };
  };
  const today = stat('Spend today', 'spend-today');
  const month = stat('Spend this month', 'spend-month');
  const rps = stat('Requests/s', 'requests-per-s');
  const tps = stat('Tokens/s', 'tokens-per-s');
  const active = stat('Active streams', 'active-streams');
  const errors = stat('Errors', 'errors');
  const coalesced = stat('Coalesced events', 'coalesced');
  const cutoffs = stat('Slow-client cut-offs', 'cutoffs');
  const stats = [today, month, rps, tps, active, errors, coalesced, cutoffs];

  const throughput = lineChart({
    title: 'Throughput',
    series: [
      { label: 'Requests/s', scale: 'count', unit: 'req/s' },
      { label: 'Errors/s', scale: 'count', unit: 'err/s' },
      { label: 'Tokens/s', scale: 'tokens', unit: 'tok/s' },
    ],
    scales: { count: { range: (_u, _min, max) => [0, Math.max(1, max)] }, tokens: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    describe: (xs, ys) => described(ys, ['requests/s', 'errors/s', 'tokens/s']),
  });
  const latency = lineChart({
    title: 'Latency (TTFT and TPOT)',
    series: [
      { label: 'TTFT p50', scale: 'ms', unit: 'ms', dots: true },
      { label: 'TTFT p95', scale: 'ms', unit: 'ms', dots: true },
      { label: 'TPOT p50', scale: 'ms', unit: 'ms', dots: true },
    ],
    scales: { ms: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1)] } },
    describe: (xs, ys) => described(ys, ['ms TTFT p50', 'ms TTFT p95', 'ms TPOT p50']),
  });

  const pct = (p) => (row) => `${ms(row?.[p]?.p50)} / ${ms(row?.[p]?.p95)} / ${ms(row?.[p]?.p99)}`;
  const groups = dataTable({
    caption: 'Latency by model and provider (last window)',
    empty: 'No requests in the window yet.',
    columns: [
      { label: 'Model', cell: (g) => g.model },
      { label: 'Provider', cell: (g) => g.provider },
      { label: 'Requests', num: true, cell: (g) => count(g.requests) },
      { label: 'Req/s', num: true, cell: (g) => fixed(g.requests_per_s, 2) },
      { label: 'Tok/s', num: true, cell: (g) => fixed(g.tokens_per_s, 1) },
      { label: 'TTFT p50 / p95 / p99', num: true, cell: pct('ttft_ms') },
      { label: 'TPOT p50 / p95 / p99', num: true, cell: pct('tpot_ms') },
      { label: 'Coalesced', num: true, cell: (g) => count(g.coalesced) },
      { label: 'Cut-offs', num: true, cell: (g) => count(g.slow_client_cutoffs) },
    ],
  });
  const errorTable = dataTable({
    caption: 'Errors by kind (last window)',
    empty: 'No errors in the window.',
    columns: [
      { label: 'Kind', cell: (e) => e.kind },
      { label: 'Model', cell: (e) => e.model },
      { label: 'Provider', cell: (e) => e.provider },
      { label: 'Count', num: true, cell: (e) => count(e.count) },
    ],
  });
  const breakers = h('ul', { class: 'breakers' });
  const breakdown = createSpend();

  fill(
    root,
    h('div', { class: 'view-head' }, h('h2', { tabindex: '-1' }, 'Overview'), status),
    updated,
    h('dl', { class: 'stats' }, stats.map((s) => s.el)),
    h('div', { class: 'charts' }, throughput.el, latency.el),
    groups.el,
    errorTable.el,
    h('section', { class: 'panel', 'aria-labelledby': 'breakers-title' }, h('h3', { id: 'breakers-title' }, 'Circuit breakers'), breakers),
    breakdown.el,
  );

  const render = (snap) => {
    updated.textContent = `Updated ${time(snap.time)} · figures over the last ${snap.window_s ?? '?'} s`;
    for (const [s, spend] of [[today, snap.spend?.today], [month, snap.spend?.month]]) {
      s.value.textContent = money(spend?.usd, 'USD');
      s.extra.textContent = spend
        ? `${spend.local === null || spend.local === undefined ? `no ${spend.currency ?? 'display currency'} rate` : money(spend.local, spend.currency)} · ${count(spend.requests)} requests`
        : snap.spend === null ? 'no ledger' : '';
    }
    const totals = snap.totals ?? {};
    const all = snap.groups ?? [];
    rps.value.textContent = fixed(totals.requests_per_s, 2);
    tps.value.textContent = fixed(totals.tokens_per_s, 1);
    active.value.textContent = count(snap.active_streams);
    errors.value.textContent = count(totals.errors);
    coalesced.value.textContent = count(sum(all, (g) => g.coalesced));
    cutoffs.value.textContent = count(sum(all, (g) => g.slow_client_cutoffs));

    groups.update(all);
    errorTable.update(errorRows(all, snap.refused ?? {}));
    renderBreakers(breakers, snap.breakers ?? []);

    const series = snap.series ?? [];
    const xs = series.map((p) => p.t / 1000);
    const gap = (v) => (v > 0 ? v : null);
    throughput.update(xs, [series.map((p) => p.requests), series.map((p) => p.errors), series.map((p) => p.tokens)]);
    latency.update(xs, [series.map((p) => gap(p.ttft_p50_ms)), series.map((p) => gap(p.ttft_p95_ms)), series.map((p) => gap(p.tpot_p50_ms))]);
  };

  const setState = (state, err) => {
    status.dataset.state = state;
    status.textContent = state === 'waiting' && err?.message ? `${STATE_TEXT.waiting} (${err.message})` : STATE_TEXT[state];
  };

  let stop = null;
  return {
    show() {
      stop ??= follow(render, setState);
      breakdown.show();
    },
    hide() {
      stop?.();
      stop = null;
      breakdown.hide();
    },
  };
}

function sum(rows, f) {
  return rows.reduce((acc, r) => acc + (Number(f(r)) || 0), 0);
}

function errorRows(groups, refused) {
  const rows = [];
  for (const g of groups) {
    for (const [kind, n] of Object.entries(g.errors ?? {})) {
      if (n > 0) rows.push({ kind, model: g.model, provider: g.provider, count: n });
    }
  }
  // Refused before any provider: no model or provider to name.
  for (const [kind, n] of Object.entries(refused)) {
    if (n > 0) rows.push({ kind: `${kind} (refused)`, model: DASH, provider: DASH, count: n });
  }
  return rows.sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
}

function renderBreakers(list, breakers) {
  if (!breakers.length) {
    fill(list, h('li', { class: 'muted' }, 'No providers.'));
    return;
  }
  fill(
    list,
    breakers.map((b) => {
      const known = BREAKER_TEXT[b.state] ?? { text: b.state, mark: '?' };
      return h(
        'li',
        { 'data-state': b.state },
        h('span', { class: 'mark', 'aria-hidden': 'true' }, known.mark),
        h('span', { class: 'provider' }, b.provider),
        h('span', { class: 'state' }, known.text),
      );
    }),
  );
}

/** The chart in words: each series' highest value over the window. */
function described(ys, names) {
  const peaks = ys.map((y) => y.reduce((m, v) => (v !== null && v !== undefined && (m === null || v > m) ? v : m), null));
  return `highest over the window: ${peaks.map((v, i) => `${v === null ? DASH : fixed(v, 1)} ${names[i]}`).join(', ')}.`;
}
