// Keys: every gateway key with its spend against its budget; create one (its secret is shown
// this once) and revoke one. Revoke acts at once, with no browser dialog: a `confirm()` is
// invisible to assistive technology's flow and is dismissed by automated browsers, and the
// button names its key (`aria-describedby`), so what it does is announced before it is pressed.

import { api } from './api.js';
import { h, fill, show } from './dom.js';
import { count, decimal, time, iso, DASH } from './format.js';
import { dataTable } from './table.js';

const WINDOW_TEXT = { '1d': 'per day', '7d': 'per week', '30d': 'per 30 days', month: 'per month' };

export function create(root, session) {
  const name = h('input', { id: 'key-name', type: 'text', required: true, maxlength: '100', autocomplete: 'off' });
  const admin = h('input', { id: 'key-admin', type: 'checkbox' });
  const budget = h('input', { id: 'key-budget', type: 'text', inputmode: 'decimal', pattern: '\\d+(\\.\\d+)?', autocomplete: 'off', placeholder: 'none' });
  const window_ = h('select', { id: 'key-window' }, Object.entries(WINDOW_TEXT).map(([v, t]) => h('option', { value: v, selected: v === 'month' }, t)));
  const rpm = h('input', { id: 'key-rpm', type: 'number', min: '1', step: '1', placeholder: 'none' });
  const tpm = h('input', { id: 'key-tpm', type: 'number', min: '1', step: '1', placeholder: 'none' });
  const models = h('input', { id: 'key-models', type: 'text', autocomplete: 'off', placeholder: 'all' });
  const field = (input, label) => h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
  const createError = h('p', { role: 'alert', class: 'error', hidden: true });
  const secret = h('output', { id: 'new-key', 'aria-label': 'New key', class: 'secret' });
  const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy');
  const done = h('button', { type: 'button', class: 'secondary' }, 'Done');
  const copied = h('span', { class: 'muted', 'aria-live': 'polite' });
  const fresh = h(
    'div',
    { class: 'new-key panel', hidden: true },
    h('p', {}, h('strong', {}, 'New key'), ' — copy it now: it is shown only this once.'),
    secret,
    h('div', { class: 'actions' }, copy, done, copied),
  );
  const form = h(
    'form',
    { class: 'create-key panel', 'aria-labelledby': 'create-key-title' },
    h('h3', { id: 'create-key-title' }, 'Create a key'),
    session?.open
      ? h('p', { class: 'note-inline' }, h('strong', {}, 'This closes the gateway: '), 'once a key exists, every request needs one. Make an admin key first and keep its secret to sign in here.')
      : null,
    h(
      'div',
      { class: 'grid' },
      field(name, 'Name'),
      field(budget, 'Budget (USD)'),
      field(window_, 'Budget window'),
      field(rpm, 'Requests per minute'),
      field(tpm, 'Tokens per minute'),
      field(models, 'Allowed models (comma-separated)'),
    ),
    h('label', { class: 'check', for: admin.id }, admin, ' Admin (may use the dashboard and see all usage)'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create key')),
    createError,
  );

  const listError = h('p', { role: 'alert', class: 'error', hidden: true });
  const table = dataTable({
    caption: 'Keys',
    empty: 'No keys yet: the gateway is open to anyone who can reach it.',
    rowAttrs: (k) => ({ 'data-key-id': k.id, 'data-status': keyStatus(k) }),
    columns: [
      { label: 'Name', cell: (k) => h('span', { id: `key-${k.id}-name` }, k.name) },
      { label: 'ID', cell: (k) => h('code', {}, k.id) },
      { label: 'Role', cell: (k) => (k.admin ? 'Admin' : 'Ordinary') },
      { label: 'Status', cell: (k) => statusCell(k) },
      { label: 'Spend', cell: spendCell },
      { label: 'Limits', cell: limitsCell },
      { label: 'Last used', cell: (k) => (k.last_used_ms ? h('time', { datetime: iso(k.last_used_ms) }, time(k.last_used_ms)) : 'never') },
      { label: 'Actions', cell: (k) => (keyStatus(k) === 'active' ? revokeButton(k) : DASH) },
    ],
  });

  fill(root, h('div', { class: 'view-head' }, h('h2', { tabindex: '-1' }, 'Keys')), fresh, form, listError, table.el);

  const load = async () => {
    try {
      const doc = await api('/v1/dashboard/keys');
      show(listError, false);
      const keys = [...(doc.keys ?? [])].sort((a, b) => (b.created_ms ?? 0) - (a.created_ms ?? 0));
      table.update(keys);
    } catch (err) {
      listError.textContent = `Keys could not be loaded: ${err.message}`;
      show(listError, true);
    }
  };

  function revokeButton(k) {
    const button = h('button', { type: 'button', class: 'danger', 'aria-describedby': `key-${k.id}-name` }, 'Revoke');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await api(`/v1/dashboard/keys/${encodeURIComponent(k.id)}/revoke`, { method: 'POST', body: {} });
        show(listError, false);
      } catch (err) {
        listError.textContent = `The key could not be revoked: ${err.message}`;
        show(listError, true);
      }
      await load();
    });
    return button;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), admin: admin.checked };
    if (budget.value.trim()) {
      body.budget = budget.value.trim();
      body.window = window_.value;
    }
    if (rpm.value) body.rpm = Number(rpm.value);
    if (tpm.value) body.tpm = Number(tpm.value);
    const list = models.value.split(',').map((m) => m.trim()).filter(Boolean);
    if (list.length) body.models = list;
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    try {
      const doc = await api('/v1/dashboard/keys', { method: 'POST', body });
      show(createError, false);
      secret.textContent = doc.secret;
      copied.textContent = '';
      show(fresh, true);
      form.reset();
      secret.focus();
      await load();
    } catch (err) {
      createError.textContent = `The key was not created: ${err.message}`;
      show(createError, true);
    } finally {
      submit.disabled = false;
    }
  });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret.textContent);
      copied.textContent = 'Copied.';
    } catch {
      getSelection()?.selectAllChildren(secret);
      copied.textContent = 'Selected: copy it with your keyboard.';
    }
  });
  done.addEventListener('click', () => {
    secret.textContent = '';
    show(fresh, false);
    name.focus();
  });
  secret.tabIndex = -1;

  return {
    show: load,
    resume: load,
    pause() {},
    hide() {
      // The secret is shown once: leaving the view forgets it.
      secret.textContent = '';
      show(fresh, false);
    },
  };
}

function keyStatus(k) {
  if (k.status) return k.status;
  if (k.revoked_ms) return 'revoked';
  if (k.expires_ms && k.expires_ms <= Date.now()) return 'expired';
  return 'active';
}

function statusCell(k) {
  const s = keyStatus(k);
  const text = { active: 'Active', revoked: `Revoked ${time(k.revoked_ms)}`, expired: 'Expired' }[s] ?? s;
  return h('span', { class: s === 'active' ? 'ok' : 'bad' }, h('span', { 'aria-hidden': 'true' }, s === 'active' ? '✓ ' : '✕ '), text);
}

function spendCell(k) {
  if (!k.budget) return `${decimal(k.spent)} ${k.spent_currency ?? 'USD'} this month (no budget)`;
  if (k.spent === null || k.spent === undefined) return `Budget ${decimal(k.budget.amount)} ${k.budget.currency} ${WINDOW_TEXT[k.budget.window] ?? k.budget.window}; spend not known in ${k.budget.currency}`;
  const spent = Number(k.spent);
  const limit = Number(k.budget.amount);
  const share = limit > 0 ? Math.min(spent / limit, 1) : 0;
  const label = `${decimal(k.spent)} of ${decimal(k.budget.amount)} ${k.budget.currency} ${WINDOW_TEXT[k.budget.window] ?? k.budget.window}`;
  return [
    h('span', {}, label, ` (${share < 0.1 ? (share * 100).toFixed(1) : Math.round(share * 100)}%)`),
    h('meter', { min: '0', max: '1', low: '0.75', high: '0.9', optimum: '0', value: String(share), 'aria-label': `Budget used by ${k.name}` }),
  ];
}

function limitsCell(k) {
  const parts = [];
  if (k.rpm) parts.push(`${count(k.rpm)} req/min`);
  if (k.tpm) parts.push(`${count(k.tpm)} tok/min`);
  const models = Array.isArray(k.models) ? k.models : k.models ? [k.models] : [];
  if (models.length) parts.push(`models: ${models.join(', ')}`);
  return parts.length ? parts.join(' · ') : 'none';
}
