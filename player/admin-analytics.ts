/**
 * The analytics panel of a webinar's page: the headline figures, then one chart per series drawn
 * with uPlot (registrations per day, attendance, watch-time drop-off, call-to-action clicks, each
 * poll). Every chart has its summary as caption and accessible name, its data as a table, and a
 * CSV download of that data; the canvas itself is hidden from assistive technology.
 *
 * The CSP allows no inline styles: uPlot's stylesheet is served as /player/uplot.css, and uPlot
 * sizes and places its elements through the CSSOM (`el.style.width = …`), which `style-src` does
 * not govern (it blocks `style` attributes in markup and `setAttribute('style', …)`).
 */
import uPlot from 'uplot';
import type { AdminEvent } from './admin-event.ts';
import {
  analyticsCharts,
  chartCsv,
  formatSeconds,
  type AnalyticsSeries,
  type ChartSpec,
  type EventAnalytics,
} from './admin-data.ts';
import { el } from './admin-dom.ts';
import { api } from './admin-session.ts';

const HEIGHT = 240;
const COLOURS = ['#1f5fa8', '#b5560b'];
const INK = '#1b1b1b';
const GRID = '#e3e3e0';
const DAY = 86_400;
const DAY_STEPS = [1, 2, 7, 14, 28, 91, 182, 364].map((days) => days * DAY);

const shorten = (text: string, max = 18) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** uPlot's options for one chart. */
function chartOptions(spec: ChartSpec, width: number): uPlot.Options {
  const categories = spec.labels ?? [];
  const timeX = spec.xKind === 'day' || spec.xKind === 'time';
  const first = spec.x[0] ?? 0;
  const last = spec.x.at(-1) ?? 0;
  // Room at each end: half a step, so the first and last bars are whole; an hour around a lone session.
  const pad = { day: DAY / 2, time: 3_600, category: 0.5, minute: 0 }[spec.xKind];
  const xRange: uPlot.Range.MinMax | undefined =
    spec.xKind === 'category' || spec.xKind === 'day' || (spec.xKind === 'time' && spec.x.length === 1)
      ? [first - pad, last + pad]
      : undefined;
  const axis = { stroke: INK, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } };
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    // Draw only: a chart that zooms on a drag would hide data the table still shows.
    cursor: { drag: { x: false, y: false } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    scales: {
      x: { time: timeX, ...(xRange ? { range: xRange } : {}) },
      y: {
        range: (_u, _min, max) =>
          spec.yUnit === 'percent' ? [0, 100] : [0, Math.max(1, Math.ceil(max * 1.1))],
      },
    },
    axes: [
      {
        ...axis,
        ...(spec.xKind === 'category'
          ? {
              splits: () => spec.x,
              values: (_u: uPlot, splits: number[]) => splits.map((i) => shorten(categories[i] ?? '')),
            }
          : {}),
        ...(spec.xKind === 'day'
          ? {
              // Whole days only (never hours between them), written as the table writes them.
              incrs: DAY_STEPS,
              space: 80,
              values: (_u: uPlot, splits: number[]) =>
                splits.map((t) => new Date(t * 1000).toISOString().slice(0, 10)),
            }
          : {}),
        ...(spec.xKind === 'minute'
          ? { values: (_u: uPlot, splits: number[]) => splits.map((m) => formatSeconds(m * 60)) }
          : {}),
      },
      {
        ...axis,
        values: (_u: uPlot, splits: number[]) =>
          splits.map((v) => (spec.yUnit === 'percent' ? `${v}%` : Number.isInteger(v) ? String(v) : '')),
      },
    ],
    series: [
      {},
      ...spec.series.map((s, i) => ({
        label: s.label,
        stroke: COLOURS[i % COLOURS.length],
        width: 2,
        ...(spec.style === 'bars'
          ? { fill: `${COLOURS[i % COLOURS.length]}cc`, paths: uPlot.paths.bars!({ size: [0.6, 64] }) }
          : { points: { show: true, size: 6 } }),
      })),
    ],
  };
}

function dataTable(spec: ChartSpec): HTMLTableElement {
  return el(
    'table',
    {},
    el('caption', {}, spec.title),
    el('thead', {}, el('tr', {}, ...spec.columns.map((c) => el('th', { scope: 'col' }, c)))),
    el(
      'tbody',
      {},
      ...spec.rows.map((r) =>
        el(
          'tr',
          {},
          ...r.map((cell, i) =>
            i === 0 ? el('th', { scope: 'row' }, String(cell)) : el('td', {}, String(cell)),
          ),
        ),
      ),
    ),
  );
}

function download(name: string, csv: string): void {
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One chart: heading, summary, the drawing, a key when it has several series, its data and CSV. */
function chartSection(
  spec: ChartSpec,
  webinarId: string,
): { section: HTMLElement; draw?: (w: number) => uPlot } {
  const headingId = `chart-${spec.id}-title`;
  const summaryId = `chart-${spec.id}-summary`;
  const section = el('section', { className: 'chart', id: `chart-${spec.id}` });
  section.setAttribute('aria-labelledby', headingId);
  const csvButton = el('button', { type: 'button' }, 'Download CSV');
  csvButton.setAttribute('aria-label', `Download the data of “${spec.title}” as CSV`);
  csvButton.addEventListener('click', () =>
    download(`${spec.id}-${webinarId.replace(/\D/g, '')}.csv`, chartCsv(spec)),
  );
  section.append(el('h3', { id: headingId }, spec.title), el('p', { id: summaryId }, spec.summary));
  if (spec.rows.length === 0) return { section };
  const plot = el('div', { className: 'chart-plot' });
  plot.setAttribute('role', 'img');
  plot.setAttribute('aria-labelledby', `${headingId} ${summaryId}`);
  section.append(plot);
  if (spec.series.length > 1) {
    section.append(
      el(
        'ul',
        { className: 'chart-key' },
        ...spec.series.map((s, i) => el('li', { className: `series-${i}` }, s.label)),
      ),
    );
  }
  section.append(
    el('details', {}, el('summary', {}, 'Show the data as a table'), dataTable(spec)),
    el('p', {}, csvButton),
  );
  const draw = (width: number) =>
    new uPlot(chartOptions(spec, width), [spec.x, ...spec.series.map((s) => s.values)], plot);
  return { section, draw };
}

function figures(analytics: EventAnalytics): HTMLElement {
  const list = el('dl', { className: 'figures' });
  const add = (term: string, value: string) => list.append(el('dt', {}, term), el('dd', {}, value));
  add('Registrants', String(analytics.registrants));
  add('Viewers', String(analytics.viewers));
  add('Average watch time', formatSeconds(analytics.averageWatchSeconds));
  add('Watched to the end', `${Math.round(analytics.completionRate * 100)}%`);
  return list;
}

export async function mountAnalytics(event: AdminEvent, panel: HTMLElement): Promise<void> {
  const status = el('p', {});
  status.setAttribute('role', 'status');
  panel.append(status);
  const base = `/api/events/${encodeURIComponent(event.id)}/analytics`;
  const [a, s] = await Promise.all([api(base), api(`${base}/series`)]);
  if (!a.ok || !s.ok) {
    status.textContent = 'Could not load the analytics.';
    return;
  }
  const analytics = (await a.json()) as EventAnalytics;
  const series = (await s.json()) as AnalyticsSeries;
  panel.append(
    figures(analytics),
    el(
      'p',
      {},
      'Days and times are in UTC. Restricted registrants are left out, as everywhere in analytics.',
    ),
  );
  const charts = analyticsCharts(analytics, series).map((spec) => chartSection(spec, event.webinarId));
  panel.append(...charts.map((c) => c.section));
  const width = () => Math.max(280, Math.min(920, panel.clientWidth - 8));
  const plots = charts.flatMap((c) => (c.draw ? [c.draw(width())] : []));
  // Charts follow the panel's width (a phone turned, a window resized).
  let last = width();
  new ResizeObserver(() => {
    const now = width();
    if (now === last) return;
    last = now;
    for (const p of plots) p.setSize({ width: now, height: HEIGHT });
  }).observe(panel);
}
