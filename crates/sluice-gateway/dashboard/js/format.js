// How numbers, money and times read on the page. Money arrives as exact decimal strings and is
// shown from the string itself (grouped, trailing zeros past the cents dropped), never through
// a float.

const DASH = '—';

/** "1234.500000" → "1,234.50"; "0.000100" → "0.0001"; a number is read from its text. */
export function decimal(value) {
  if (value === null || value === undefined || value === '') return DASH;
  const text = String(value).trim();
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return text;
  const [, sign, whole, frac = ''] = m;
  let cut = frac.replace(/0+$/, '');
  if (cut.length < 2) cut = (frac + '00').slice(0, 2);
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${grouped}.${cut}`;
}

/** "0.25 USD". */
export function money(amount, currency) {
  if (amount === null || amount === undefined) return DASH;
  return currency ? `${decimal(amount)} ${currency}` : decimal(amount);
}

/** A count with grouping: 12345 → "12,345". */
export function count(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return DASH;
  return Math.round(n).toLocaleString('en-US');
}

/** A rate or measure with `digits` decimals: 12.345 → "12.3". */
export function fixed(n, digits = 1) {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Milliseconds to read: 12.34 → "12.3 ms", 2345 → "2.35 s". */
export function ms(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  if (n >= 1000) return `${fixed(n / 1000, 2)} s`;
  return `${fixed(n, n < 10 ? 2 : 1)} ms`;
}

/** Unix milliseconds as local "HH:MM:SS" today, else "YYYY-MM-DD HH:MM". */
export function time(unixMs) {
  if (!unixMs) return DASH;
  const d = new Date(unixMs);
  const today = new Date();
  const pad = (x) => String(x).padStart(2, '0');
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === today.toDateString()) return hms;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms.slice(0, 5)}`;
}

/** The full ISO time, for `datetime` and titles. */
export function iso(unixMs) {
  return unixMs ? new Date(unixMs).toISOString() : '';
}

export { DASH };
