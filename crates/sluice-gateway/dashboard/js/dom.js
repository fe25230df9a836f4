// Building DOM nodes without HTML strings: text is always text (no markup from data can run),
// which the page's policy (`require-trusted-types-for 'script'`) also enforces.

/**
 * An element: `h('td', {class: 'num', 'aria-label': 'x'}, 'text', child)`.
 * Attributes that are `false`, `null` or `undefined` are left out; `true` sets an empty one.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces everything inside `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The element with this id (a missing one is a bug in index.html, so it throws). */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}

/** Shows or hides an element the way assistive technology sees it too. */
export function show(el, visible) {
  el.hidden = !visible;
}
