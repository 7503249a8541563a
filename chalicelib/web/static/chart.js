// Daily spend stacked by group (uPlot bars), optionally with the forecast's mean and 80% band,
// plus a "show as table" toggle. Heights are drawn from numbers; every figure shown is exact text.
import { html, uPlot, useEffect, useRef, useState } from "./lib.js";
import { fmt, parse, sum, toNumber } from "./money.js";

const COLORS = ["#4f7cff", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#64748b"];
const DAY = 86400;

function epoch(day) { return Date.parse(`${day}T00:00:00Z`) / 1000; }

// series: usage API points; dimension: the group_by key; forecast: [{day, mean, lower, upper}]
export function stack(periods, series, dimension) {
  const groups = new Map();
  for (const p of series) {
    const name = (p.group && p.group[dimension]) ?? "(not set)";
    if (!groups.has(name)) groups.set(name, new Map());
    const byDay = groups.get(name);
    byDay.set(p.period, (byDay.get(p.period) || 0n) + parse(p.spend));
  }
  const totals = [...groups.entries()].map(([name, byDay]) => [name, sum([...byDay.values()])]);
  totals.sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : a[0].localeCompare(b[0])));
  return { names: totals.map((t) => t[0]), groups, totals: new Map(totals) };
}

export function SpendChart({ periods, series, dimension, forecast = [], label }) {
  const [asTable, setAsTable] = useState(false);
  const box = useRef(null);
  const { names, groups } = stack(periods, series, dimension);
  const days = [...periods, ...forecast.map((f) => f.day).filter((d) => !periods.includes(d))];
  useEffect(() => {
    const el = box.current;
    if (asTable || !el || !days.length) return undefined;
    const xs = days.map(epoch);
    const cumulative = [];
    let running = days.map(() => 0);
    for (const name of names) {
      const byDay = groups.get(name);
      running = days.map((d, i) => running[i] + (byDay.has(d) ? toNumber(byDay.get(d)) : 0));
      cumulative.push(days.map((d, i) => (periods.includes(d) ? running[i] : null)));
    }
    const fcBy = new Map(forecast.map((f) => [f.day, f]));
    const pick = (k) => days.map((d) => (fcBy.has(d) && !periods.slice(0, -1).includes(d) ? toNumber(fcBy.get(d)[k]) : null));
    const style = getComputedStyle(document.documentElement);
    const ink = style.getPropertyValue("--muted").trim() || "#666";
    const grid = style.getPropertyValue("--line").trim() || "#ddd";
    const bars = uPlot.paths.bars({ size: [0.7, 40] });
    const stacked = names.map((name, i) => ({ label: name, fill: COLORS[i % COLORS.length], stroke: COLORS[i % COLORS.length], paths: bars, points: { show: false } })).reverse();
    const data = [xs, ...cumulative.slice().reverse()];
    const fcSeries = [];
    if (forecast.length) {
      data.push(pick("upper"), pick("mean"), pick("lower"));
      fcSeries.push({ label: "forecast high (80%)", stroke: "transparent", points: { show: false } },
        { label: "forecast", stroke: ink, dash: [4, 4], width: 1.5, points: { show: false } },
        { label: "forecast low (80%)", stroke: "transparent", points: { show: false } });
    }
    const n = stacked.length;
    const opts = {
      width: el.clientWidth, height: 260,
      legend: { show: false }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: [xs[0] - DAY / 2, xs[xs.length - 1] + DAY / 2] } },
      axes: [{ stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid } },
        { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid }, size: 56, values: (u, v) => v.map((x) => `$${x}`) }],
      series: [{}, ...stacked, ...fcSeries],
      bands: forecast.length ? [{ series: [n + 1, n + 3], fill: "rgba(120,120,120,0.18)" }] : [],
    };
    const plot = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 260 }));
    resize.observe(el);
    el.dataset.drawn = "true";
    return () => { resize.disconnect(); plot.destroy(); };
  }, [asTable, JSON.stringify(periods), JSON.stringify(series), dimension, JSON.stringify(forecast)]);

  return html`<figure class="chart">
    <figcaption><span>${label}</span>
      <button type="button" class="link" aria-pressed=${asTable} onClick=${() => setAsTable(!asTable)}>${asTable ? "Show as chart" : "Show as table"}</button>
    </figcaption>
    ${!asTable && html`<div class="legend">${names.map((n, i) => html`<span><i class=${`swatch c${i % COLORS.length}`}></i>${n}</span>`)}
      ${forecast.length ? html`<span><i class="swatch band"></i>forecast, 80% band</span>` : null}</div>`}
    ${asTable ? html`<${DayTable} periods=${periods} names=${names} groups=${groups} forecast=${forecast} />`
      : html`<div class="plot" ref=${box} role="img" aria-label=${`${label}. Use "Show as table" for the figures.`}></div>`}
  </figure>`;
}

function DayTable({ periods, names, groups, forecast }) {
  const fc = new Map(forecast.map((f) => [f.day, f]));
  return html`<div class="scroll"><table class="data">
    <thead><tr><th scope="col">Day (UTC)</th>${names.map((n) => html`<th scope="col" class="num">${n}</th>`)}<th scope="col" class="num">Total</th>${forecast.length ? html`<th scope="col" class="num">Forecast (80%)</th>` : null}</tr></thead>
    <tbody>${periods.map((d) => {
      const cells = names.map((n) => groups.get(n).get(d) || 0n);
      return html`<tr><th scope="row">${d}</th>${cells.map((c) => html`<td class="num">${fmt(c)}</td>`)}<td class="num">${fmt(sum(cells))}</td>${forecast.length ? html`<td class="num">${fc.has(d) ? `${fmt(fc.get(d).mean)} (${fmt(fc.get(d).lower)}–${fmt(fc.get(d).upper)})` : ""}</td>` : null}</tr>`;
    })}
    ${forecast.filter((f) => !periods.includes(f.day)).map((f) => html`<tr class="future"><th scope="row">${f.day}</th>${names.map(() => html`<td></td>`)}<td></td><td class="num">${fmt(f.mean)} (${fmt(f.lower)}–${fmt(f.upper)})</td></tr>`)}
    </tbody></table></div>`;
}
