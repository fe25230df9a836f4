// The page's entry: who is signed in (`GET /v1/dashboard/session`), the sign-in form, and the
// four views reached by the links in the header (`#overview`, `#requests`, `#keys`,
// `#playground`). Only the view on screen runs: the others stop their streams and timers.

import { api, storedKey, storeKey, forgetKey, ApiError } from './api.js';
import { byId, show } from './dom.js';
import * as overview from './overview.js';
import * as requests from './requests.js';
import * as keys from './keys.js';
import * as playground from './playground.js';

const VIEWS = { overview, requests, keys, playground };
const DEFAULT_VIEW = 'overview';

const el = {
  nav: byId('nav'),
  who: byId('who'),
  whoText: byId('who-text'),
  signOut: byId('sign-out'),
  openNote: byId('open-note'),
  signIn: byId('sign-in'),
  signInForm: byId('sign-in-form'),
  keyInput: byId('admin-key'),
  signInError: byId('sign-in-error'),
  loading: byId('loading'),
};

/** The views, made on first sign-in: `{name: {root, view}}`. */
let views = null;
let current = null;
/** Whether the page was entered without a key (an open gateway). */
let openMode = false;

function viewName() {
  const name = location.hash.replace(/^#/, '');
  return Object.hasOwn(VIEWS, name) ? name : DEFAULT_VIEW;
}

function showView(name, { focus = false } = {}) {
  if (!views) return;
  if (current && current !== name) views[current].view.hide();
  for (const [n, v] of Object.entries(views)) show(v.root, n === name);
  for (const a of el.nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · Sluice dashboard`;
  current = name;
  views[name].view.show();
  if (focus) views[name].root.querySelector('h2')?.focus();
}

function enter(session) {
  show(el.loading, false);
  show(el.signIn, false);
  show(el.nav, true);
  show(el.who, true);
  openMode = Boolean(session.open);
  show(el.openNote, openMode);
  show(el.signOut, !session.open);
  el.whoText.textContent = session.open
    ? 'No key needed'
    : `Signed in as ${session.key?.name ?? 'admin'} (${session.key?.id ?? '?'})`;
  document.documentElement.dataset.currency = session.display_currency ?? '';
  if (!views) {
    views = {};
    for (const [name, mod] of Object.entries(VIEWS)) {
      const root = byId(`view-${name}`);
      views[name] = { root, view: mod.create(root, session) };
    }
  }
  showView(viewName());
}

function leave(message = '') {
  if (views && current) views[current].view.hide();
  for (const v of Object.values(views ?? {})) show(v.root, false);
  current = null;
  show(el.loading, false);
  show(el.nav, false);
  show(el.who, false);
  show(el.openNote, false);
  show(el.signIn, true);
  setSignInError(message);
  el.keyInput.value = '';
  el.keyInput.focus();
}

function setSignInError(message) {
  el.signInError.textContent = message;
  show(el.signInError, Boolean(message));
}

/** Why a key was refused, in words. */
function refusal(err) {
  if (err.status === 401) return 'That key was refused: it is wrong, revoked or expired.';
  if (err.status === 403) return 'That key is not an admin key. The dashboard needs a key made with `sluice keys create --admin`.';
  if (err.status === 0) return 'The gateway cannot be reached. Try again.';
  return `Sign-in failed: ${err.message}`;
}

async function session(key) {
  const s = await api('/v1/dashboard/session', { key: key ?? undefined });
  // Answered without a key: the gateway is open, whatever else it says.
  if (s.open || (!key && !s.key)) return { ...s, open: true };
  // An ordinary key is refused like a wrong one, even if a gateway answered 200.
  if (!s.key?.admin) throw new ApiError(403, 'not an admin key');
  return s;
}

async function start() {
  const key = storedKey();
  try {
    enter(await session(key));
  } catch (err) {
    if (key) forgetKey();
    leave(err.status === 401 || err.status === 403 ? (key ? refusal(err) : '') : refusal(err));
  }
}

el.signInForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = el.keyInput.value.trim();
  if (!key) {
    setSignInError('Enter an admin key.');
    return;
  }
  const button = el.signInForm.querySelector('button');
  button.disabled = true;
  try {
    const s = await session(key);
    storeKey(key);
    el.keyInput.value = '';
    setSignInError('');
    enter(s);
  } catch (err) {
    setSignInError(refusal(err));
    el.keyInput.select();
  } finally {
    button.disabled = false;
  }
});

el.signOut.addEventListener('click', () => {
  forgetKey();
  leave('');
});

window.addEventListener('sluice:unauthorized', () => {
  if (storedKey()) {
    forgetKey();
    leave('Your key is no longer accepted (revoked or expired). Sign in again.');
  } else if (openMode) {
    openMode = false;
    leave('This gateway now needs a key: one was created. Sign in with an admin key.');
  }
});

window.addEventListener('hashchange', () => showView(viewName(), { focus: true }));

document.addEventListener('visibilitychange', () => {
  // A hidden tab stops its live feed and polling; they resume when it is seen again.
  if (!views || !current) return;
  const view = views[current].view;
  if (document.hidden) (view.pause ?? view.hide)();
  else (view.resume ?? view.show)();
});

start();
