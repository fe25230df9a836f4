// Requests: the ledger's finished requests, newest first, with filters and pages through the
// API's cursor. The first page follows new requests while the view is open.

import { api, query } from './api.js';
import { h, fill, show } from './dom.js';
import { count, money, ms, time, iso, DASH } from './format.js';
import { dataTable } from './table.js';

const FOLLOW_MS = 2000;
// The ledger's status words (docs/dashboard-api.md): `ok`, an error kind, a client that left,
// or why the gateway refused the request.
const KINDS = ['ok', 'client_closed', 'connect', 'rate_limited', 'provider_5xx', 'provider_4xx', 'provider_error_event',
  'first_token_timeout', 'idle_timeout', 'total_timeout', 'transport', 'premature_end', 'protocol', 'slow_client', 'shutdown',
  'gateway_overloaded', 'bad_request', 'not_found', 'unauthorized', 'forbidden', 'over_limit', 'over_budget',
  'limits_unavailable', 'internal_error'];

export function create(root) {
  const field = (label, input) => h('label', { class: 'field' }, h('span', {}, label), input);
  const model = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const provider = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const key = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'key id' });
  const status = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', list: 'request-kinds', placeholder: 'ok or an error kind' });
  const size = h('select', {}, [10, 25, 50, 100, 200].map((n) => h('option', { value: n, selected: n === 50 }, n)));
  const followBox = h('input', { type: 'checkbox', checked: true });
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filters' },
    field('Filter by model', model),
    field('Filter by provider', provider),
    field('Filter by key', key),
    field('Filter by status', status),
    h('datalist', { id: 'request-kinds' }, KINDS.map((k) => h('option', { value: k }))),
    field('Rows per page', size),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply filters'), h('button', { type: 'reset', class: 'secondary' }, 'Clear filters')),
  );

  const table = dataTable({
    caption: 'Finished requests, newest first',
    empty: 'No requests match.',
    rowAttrs: (r) => ({ 'data-status': r.status === 'ok' ? 'ok' : 'error', title: r.request_id }),
    columns: [
      { label: 'Time', cell: (r) => h('time', { datetime: iso(r.finished_ms) }, time(r.finished_ms)) },
      { label: 'Model', cell: (r) => r.model },
      { label: 'Provider', cell: (r) => r.provider ?? DASH },
      { label: 'Key', cell: (r) => (r.key_id ? [r.key_name ?? r.key_id, ' ', h('span', { class: 'muted' }, r.key_id)] : 'none (open)') },
      { label: 'Status', cell: (r) => statusCell(r.status, r.error) },
      { label: 'Tokens', num: true, cell: (r) => `${count(r.prompt_tokens)} → ${count(r.completion_tokens)}` },
      { label: 'Cost', num: true, cell: (r) => [money(r.cost_usd, 'USD'), h('br'), h('span', { class: 'muted' }, money(r.cost_local, r.currency))] },
      { label: 'TTFT', num: true, cell: (r) => ms(r.ttft_ms) },
      { label: 'Duration', num: true, cell: (r) => ms(r.duration_ms) },
    ],
  });

  const prev = h('button', { type: 'button', class: 'secondary' }, 'Previous page');
  const next = h('button', { type: 'button', class: 'secondary' }, 'Next page');
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  const pageInfo = h('span', { class: 'muted', 'aria-live': 'polite' });
  const error = h('p', { role: 'alert', class: 'error', hidden: true });

  fill(
    root,
    h('div', { class: 'view-head' }, h('h2', { tabindex: '-1' }, 'Requests')),
    form,
    h('div', { class: 'pager' }, h('label', { class: 'check' }, followBox, ' Follow new requests'), refresh),
    error,
    table.el,
    h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, pageInfo, next),
  );

  // `cursors[i]` is the `before` of page i (page 0 has none); `nextCursor` the next page's.
  let cursors = [null];
  let nextCursor = null;
  let timer = null;
  let visible = false;
  let loading = null;

  const filters = () => ({
    model: model.value.trim(),
    provider: provider.value.trim(),
    key: key.value.trim(),
    status: status.value.trim(),
    limit: size.value,
  });

  const load = async () => {
    loading?.abort();
    const ctl = new AbortController();
    loading = ctl;
    const page = cursors.length - 1;
    try {
      const doc = await api(`/v1/dashboard/requests${query({ ...filters(), before: cursors[page] })}`, { signal: ctl.signal });
      show(error, false);
      table.update(doc.rows ?? []);
      nextCursor = doc.next ?? null;
      prev.disabled = page === 0;
      next.disabled = !nextCursor;
      pageInfo.textContent = `Page ${page + 1} · ${(doc.rows ?? []).length} rows`;
    } catch (err) {
      if (err?.name === 'AbortError') return;
      error.textContent = `Requests could not be loaded: ${err.message}`;
      show(error, true);
    } finally {
      if (loading === ctl) loading = null;
    }
  };

  const schedule = () => {
    clearInterval(timer);
    timer = null;
    if (visible && followBox.checked && cursors.length === 1) timer = setInterval(() => loading || load(), FOLLOW_MS);
  };

  const first = () => {
    cursors = [null];
    load();
    schedule();
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    first();
  });
  form.addEventListener('reset', () => setTimeout(first));
  size.addEventListener('change', first);
  followBox.addEventListener('change', schedule);
  refresh.addEventListener('click', load);
  next.addEventListener('click', () => {
    if (!nextCursor) return;
    cursors.push(nextCursor);
    load();
    schedule();
  });
  prev.addEventListener('click', () => {
    if (cursors.length > 1) cursors.pop();
    load();
    schedule();
  });
  prev.disabled = true;
  next.disabled = true;

  return {
    show() {
      visible = true;
      load();
      schedule();
    },
    hide() {
      visible = false;
      schedule();
      loading?.abort();
    },
  };
}

function statusCell(status, error) {
  const ok = status === 'ok';
  return [
    h('span', { class: ok ? 'ok' : 'bad' }, h('span', { 'aria-hidden': 'true' }, ok ? '✓ ' : '✕ '), status ?? DASH),
    error ? h('span', { class: 'muted detail' }, ` ${String(error).slice(0, 200)}`) : null,
  ];
}
