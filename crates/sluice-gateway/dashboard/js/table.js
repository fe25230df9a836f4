// Data tables that stay tables for assistive technology and fold into labelled cards on a
// narrow screen. The roles are written out because some browsers drop a table's semantics
// once CSS changes its display, which the narrow layout does.

import { h, fill } from './dom.js';

/**
 * A table with `columns`: `[{label, cell: (row) => content, num?: bool}]`.
 * Returns `{el, update(rows)}`; `rowAttrs(row)` may add attributes to a row.
 */
export function dataTable({ caption, columns, empty, rowAttrs = () => ({}), captionHidden = false }) {
  const body = h('tbody', { role: 'rowgroup' });
  const table = h(
    'table',
    { class: 'data', role: 'table' },
    h('caption', { class: captionHidden ? 'sr-only' : null }, caption),
    h(
      'thead',
      { role: 'rowgroup' },
      h('tr', { role: 'row' }, columns.map((c) => h('th', { role: 'columnheader', scope: 'col', class: c.num ? 'num' : null }, c.label))),
    ),
    body,
  );
  const update = (rows) => {
    if (!rows.length) {
      fill(body, h('tr', { role: 'row', class: 'empty' }, h('td', { role: 'cell', colspan: columns.length }, empty)));
      return;
    }
    fill(
      body,
      rows.map((row) =>
        h(
          'tr',
          { role: 'row', ...rowAttrs(row) },
          columns.map((c) => h('td', { role: 'cell', 'data-label': c.label, class: c.num ? 'num' : null }, h('div', {}, c.cell(row)))),
        ),
      ),
    );
  };
  update([]);
  return { el: h('div', { class: 'table-wrap' }, table), update };
}
