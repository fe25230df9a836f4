// Calls to the gateway. The admin key lives in this tab's sessionStorage only and travels in the
// Authorization header, never in a URL or a cookie (`credentials: 'omit'`).

const STORE = 'sluice.dashboard.key';

/** The signed-in key, or null (also when storage is unavailable). */
export function storedKey() {
  try {
    return sessionStorage.getItem(STORE);
  } catch {
    return null;
  }
}

export function storeKey(key) {
  try {
    sessionStorage.setItem(STORE, key);
  } catch {
    // Storage refused (private mode quotas): the key lasts until the tab reloads.
  }
  memoryKey = key;
}

export function forgetKey() {
  try {
    sessionStorage.removeItem(STORE);
  } catch {
    // Nothing was stored.
  }
  memoryKey = null;
}

let memoryKey = null;

function currentKey() {
  return storedKey() ?? memoryKey;
}

/** A refused or failed call: `status` 0 when the gateway could not be reached. */
export class ApiError extends Error {
  constructor(status, message, type = null) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

/** Headers carrying `key` (the signed-in one by default) and any others given. */
export function authHeaders(extra = {}, key = currentKey()) {
  const headers = { ...extra };
  if (key) headers.authorization = `Bearer ${key}`;
  return headers;
}

/** Reads an error answer in OpenAI's shape (or any other) into an ApiError. */
export async function errorOf(res) {
  let message = `${res.status} ${res.statusText}`.trim();
  let type = null;
  try {
    const doc = await res.json();
    if (doc?.error?.message) message = doc.error.message;
    type = doc?.error?.type ?? null;
  } catch {
    // Not JSON: the status line says enough.
  }
  return new ApiError(res.status, message, type);
}

/**
 * A raw fetch to the gateway with the key. Network failures become ApiError(0); an abort is
 * rethrown as is so callers can tell it from a failure.
 */
export async function send(path, { method = 'GET', body, signal, key, headers = {} } = {}) {
  const init = {
    method,
    headers: authHeaders(body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, key ?? currentKey()),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
    credentials: 'omit',
  };
  try {
    return await fetch(path, init);
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'The gateway cannot be reached.');
  }
}

/** JSON from the gateway; a 401 also tells the page the key is no longer good. */
export async function api(path, options = {}) {
  const res = await send(path, options);
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && !options.key) signalUnauthorized();
    throw err;
  }
  return res.json();
}

/** Lets the page go back to sign-in when the key was revoked or expired meanwhile. */
export function signalUnauthorized() {
  window.dispatchEvent(new CustomEvent('sluice:unauthorized'));
}

/** `?a=1&b=2` from the entries whose value is set. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
