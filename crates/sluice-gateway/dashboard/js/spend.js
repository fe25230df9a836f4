// Spend by model, provider and key for today or this month, in USD and the display currency,
// from the ledger's rollups (GET /v1/dashboard/spend): one call per refresh, whatever the
// ledger's size.

import { h, fill } from './dom.js';
import { api, query } from './api.js';
import { count, money, DASH } from './format.js';
import { dataTable } from './table.js';

/** How often the breakdown is read again while the Overview is shown. */
const REFRESH_MS = 5000;

export function createSpend() {
  const period = h(
    'select',
    { id: 'spend-period' },
    h('option', { value: 'today' }, 'Today'),
    h('option', { value: 'month' }, 'This month'),
  );
  const total = h('p', { class: 'muted', role: 'status' }, 'Reading spend…');
  const table = (caption, first) =>
    dataTable({
      caption,
      empty: 'Nothing spent in this period.',
      columns: [
        { label: first, cell: (g) => g.name ?? DASH },
        { label: 'Requests', num: true, cell: (g) => count(g.requests) },
        { label: 'Tokens in / out', num: true, cell: (g) => `${count(g.prompt_tokens)} / ${count(g.completion_tokens)}` },
        { label: 'Cost (USD)', num: true, cell: (g) => money(g.usd, 'USD') },
        { label: 'Cost (local)', num: true, cell: (g) => money(g.local, g.currency) },
      ],
    });
  const byModel = table('Spend by model', 'Model');
  const byProvider = table('Spend by provider', 'Provider');
  const byKey = table('Spend by key', 'Key');

  const el = h(
    'section',
    { class: 'panel spend', 'aria-labelledby': 'spend-title' },
    h('h3', { id: 'spend-title' }, 'Spend by model, provider and key'),
    h('div', { class: 'grid' }, h('label', { class: 'field' }, h('span', {}, 'Spend period'), period)),
    total,
    byModel.el,
    byProvider.el,
    byKey.el,
  );

  let timer = null;
  let reading = 0;
  const refresh = async () => {
    const mine = ++reading;
    try {
      const doc = await api(`/v1/dashboard/spend${query({ period: period.value })}`);
      if (mine !== reading) return;
      const currency = doc.currency;
      const withCurrency = (rows) => (rows ?? []).map((g) => ({ ...g, currency }));
      const t = doc.total ?? {};
      total.textContent = `${money(t.usd, 'USD')} · ${money(t.local, currency)} · ${count(t.requests)} requests${doc.note ? ` · ${doc.note}` : ''}`;
      byModel.update(withCurrency(doc.by_model));
      byProvider.update(withCurrency(doc.by_provider));
      byKey.update(withCurrency(doc.by_key));
    } catch (err) {
      if (mine === reading) total.textContent = `Spend unavailable: ${err.message}`;
    }
  };
  period.addEventListener('change', refresh);

  return {
    el,
    show() {
      refresh();
      timer ??= setInterval(refresh, REFRESH_MS);
    },
    hide() {
      clearInterval(timer);
      timer = null;
    },
  };
}
