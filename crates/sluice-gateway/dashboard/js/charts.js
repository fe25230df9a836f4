// Line charts over the live series, drawn by the vendored uPlot (a global from its IIFE build).
// Colours come from the stylesheet's custom properties, so the charts follow the light or dark
// scheme; each series also has its own dash pattern, so they differ by more than colour.

import { h } from './dom.js';

const HEIGHT = 220;
const DASHES = [[], [6, 4], [2, 3]];

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || 'gray';
}

/**
 * A chart in a <figure>. `series`: `[{label, scale, unit, dots?}]` in order, values given to
 * `update(xs, ys)` as one array per series. `describe(xs, ys)` returns the text alternative.
 */
export function lineChart({ title, series, scales, describe }) {
  const plotArea = h('div', { class: 'plot', role: 'img', 'aria-label': `${title}: no data yet` });
  const el = h('figure', { class: 'chart' }, h('figcaption', {}, title), plotArea);
  let plot = null;
  let data = [[], ...series.map(() => [])];

  const build = () => {
    plot?.destroy();
    plot = null;
    const UPlot = globalThis.uPlot;
    if (!UPlot) {
      plotArea.textContent = 'Charts are unavailable: the chart library did not load.';
      return;
    }
    const axis = cssVar('--muted');
    const grid = cssVar('--grid');
    const colours = [cssVar('--chart-1'), cssVar('--chart-2'), cssVar('--chart-3')];
    const opts = {
      width: Math.max(plotArea.clientWidth, 200),
      height: HEIGHT,
      scales: { x: { time: true }, ...scales },
      series: [
        { label: 'Time' },
        ...series.map((s, i) => ({
          label: s.label,
          scale: s.scale,
          stroke: colours[i % colours.length],
          width: 2,
          dash: DASHES[i % DASHES.length],
          spanGaps: false,
          // Sparse series (latency has gaps where nothing finished) need dots to be seen.
          points: s.dots ? { show: true, size: 5, fill: colours[i % colours.length] } : undefined,
          value: (_u, v) => (v === null || v === undefined ? '—' : `${Number(v).toFixed(1)} ${s.unit}`),
        })),
      ],
      axes: axesFor(series, axis, grid),
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    plot = new UPlot(opts, data, plotArea);
  };

  const resize = () => {
    if (plot && plotArea.clientWidth > 0) plot.setSize({ width: plotArea.clientWidth, height: HEIGHT });
  };
  const observer = new ResizeObserver(resize);
  observer.observe(plotArea);
  const scheme = matchMedia('(prefers-color-scheme: dark)');
  scheme.addEventListener('change', build);

  return {
    el,
    update(xs, ys) {
      data = [xs, ...ys];
      if (!plot) build();
      else plot.setData(data);
      plotArea.setAttribute('aria-label', `${title}: ${describe(xs, ys)}`);
    },
  };
}

function axesFor(series, axis, grid) {
  const seen = [];
  for (const s of series) if (!seen.includes(s.scale)) seen.push(s.scale);
  return [
    { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
    ...seen.map((scale, i) => ({
      scale,
      side: i === 0 ? 3 : 1,
      stroke: axis,
      size: 50,
      grid: { show: i === 0, stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      label: series.find((s) => s.scale === scale).unit,
      labelSize: 18,
    })),
  ];
}
