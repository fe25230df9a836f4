// Playground: a prompt streamed through the gateway with the signed-in key into "Answer", and
// with a second model chosen in "Compare with", into "Answer (compare)" at the same time.

import { api } from './api.js';
import { h, fill, show } from './dom.js';
import { count, money, ms, DASH } from './format.js';
import { streamChat } from './chat.js';

export function create(root) {
  const model = h('select', { id: 'pg-model' });
  const compare = h('select', { id: 'pg-compare' });
  const prompt = h('textarea', { id: 'pg-prompt', rows: '4', required: true, maxlength: '100000' }, 'Say hello in three languages.');
  const maxTokens = h('input', { id: 'pg-max', type: 'number', min: '1', step: '1', placeholder: 'not set' });
  const sendButton = h('button', { type: 'submit' }, 'Send');
  const stop = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Stop');
  const formError = h('p', { role: 'alert', class: 'error', hidden: true });
  const field = (input, label, extra = null) => h('div', { class: 'field' }, h('label', { for: input.id }, label), input, extra);

  const form = h(
    'form',
    { class: 'playground panel' },
    h('div', { class: 'grid' }, field(model, 'Model'), field(compare, 'Compare with'), field(maxTokens, 'Max tokens (optional)')),
    field(prompt, 'Prompt'),
    h('div', { class: 'actions' }, sendButton, stop),
    formError,
  );
  const main = pane('Answer', 'answer-main');
  const other = pane('Answer (compare)', 'answer-compare');
  show(other.el, false);
  const answers = h('div', { class: 'answers' }, main.el, other.el);

  fill(root, h('div', { class: 'view-head' }, h('h2', { tabindex: '-1' }, 'Playground')), form, answers);

  let running = null;
  let loaded = false;

  const loadModels = async () => {
    try {
      const doc = await api('/v1/models');
      const ids = (doc.data ?? []).map((m) => m.id).filter(Boolean);
      const keep = [model.value, compare.value];
      fill(model, ids.map((id) => h('option', { value: id }, id)));
      fill(compare, h('option', { value: '' }, 'Off (one model)'), ids.map((id) => h('option', { value: id }, id)));
      if (ids.includes(keep[0])) model.value = keep[0];
      if (ids.includes(keep[1])) compare.value = keep[1];
      show(formError, false);
      loaded = true;
    } catch (err) {
      formError.textContent = `Models could not be loaded: ${err.message}`;
      show(formError, true);
    }
  };

  compare.addEventListener('change', () => show(other.el, compare.value !== ''));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (running) return;
    const text = prompt.value.trim();
    if (!text || !model.value) return;
    const limit = maxTokens.value ? Number(maxTokens.value) : null;
    const jobs = [[main, model.value]];
    if (compare.value) jobs.push([other, compare.value]);
    show(other.el, jobs.length > 1);
    running = new AbortController();
    sendButton.disabled = true;
    stop.disabled = false;
    try {
      await Promise.all(jobs.map(([p, m]) => p.run({ model: m, prompt: text, maxTokens: limit, signal: running.signal })));
    } finally {
      running = null;
      sendButton.disabled = false;
      stop.disabled = true;
    }
  });
  stop.addEventListener('click', () => running?.abort());

  return {
    show() {
      if (!loaded) loadModels();
    },
    hide() {},
  };
}

/** One answer: its model, the region the text streams into, and its measurements beside it. */
function pane(label, id) {
  const title = h('h3', { id: `${id}-title` }, label);
  const region = h('section', { id, class: 'answer', 'aria-labelledby': title.id, 'aria-live': 'polite', 'aria-busy': 'false', tabindex: '0' });
  const state = h('p', { class: 'answer-state', role: 'status' }, 'Not sent yet.');
  const error = h('p', { role: 'alert', class: 'error', hidden: true });
  const dd = (name) => h('dd', { 'data-stat': name }, DASH);
  const values = { model: dd('model'), provider: dd('provider'), ttft: dd('ttft'), tpot: dd('tpot'), tokens: dd('tokens'), cost: dd('cost') };
  const stats = h(
    'dl',
    { class: 'answer-stats' },
    [['Model', 'model'], ['Provider', 'provider'], ['TTFT', 'ttft'], ['TPOT', 'tpot'], ['Tokens', 'tokens'], ['Cost', 'cost']].map(([t, k]) =>
      h('div', {}, h('dt', {}, t), values[k]),
    ),
  );
  const el = h('div', { class: 'pane panel' }, title, state, h('div', { class: 'pane-body' }, region, stats), error);

  const showStats = (s) => {
    values.provider.textContent = s.provider ?? DASH;
    values.ttft.textContent = ms(s.ttftMs);
    values.tpot.textContent = ms(s.tpotMs);
    values.tokens.textContent = s.completionTokens === null ? `${count(s.chunks)} chunks so far` : `${count(s.promptTokens)} in, ${count(s.completionTokens)} out`;
    values.cost.textContent = s.costUsd === null ? DASH : `${money(s.costUsd, 'USD')} · ${s.costLocal ? money(s.costLocal.amount, s.costLocal.currency) : DASH}`;
  };

  const run = async ({ model, prompt, maxTokens, signal }) => {
    const out = document.createTextNode('');
    fill(region, out);
    show(error, false);
    for (const v of Object.values(values)) v.textContent = DASH;
    values.model.textContent = model;
    region.setAttribute('aria-busy', 'true');
    state.textContent = `Streaming from ${model}…`;
    el.dataset.state = 'streaming';
    try {
      const s = await streamChat({ model, prompt, maxTokens, signal }, { text: (t) => out.appendData(t), stats: showStats });
      state.textContent = s.finish ? `Done (${s.finish}).` : 'Done.';
      el.dataset.state = 'done';
    } catch (err) {
      if (err?.name === 'AbortError') {
        state.textContent = 'Stopped.';
        el.dataset.state = 'stopped';
      } else {
        state.textContent = 'Failed.';
        error.textContent = `${model}: ${err.message}`;
        show(error, true);
        el.dataset.state = 'failed';
      }
    } finally {
      region.setAttribute('aria-busy', 'false');
    }
  };

  return { el, run };
}
