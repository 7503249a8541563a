// Costs explorer: date range, granularity, group-by and filters, all kept in the URL.
import { html } from "./lib.js";
import { get, qs } from "./api.js";
import { SpendChart } from "./chart.js";
import { fmt, sum } from "./money.js";
import { navigate } from "./router.js";
import { Card, Empty, ErrorBox, Field, Loading, useApi } from "./ui.js";

const DIMENSIONS = ["provider", "model", "project", "feature", "customer"];
const KEYS = ["from", "to", "granularity", "group_by", ...DIMENSIONS];
const COLUMNS = [["name", "Group"], ["spend", "Spend"], ["billed", "Billed"], ["estimated", "Estimated"], ["events", "Events"]];

function isoDay(d) { return d.toISOString().slice(0, 10); }
function daysAgo(n) { const d = new Date(); d.setUTCDate(d.getUTCDate() - n); return isoDay(d); }

function rows(series, dim) {
  const by = new Map();
  for (const p of series) {
    const name = (p.group && p.group[dim]) ?? "(not set)";
    const r = by.get(name) || { name, spend: [], billed: [], estimated: [], events: 0 };
    r.spend.push(p.spend); r.billed.push(p.billed); r.estimated.push(p.estimated); r.events += p.events;
    by.set(name, r);
  }
  return [...by.values()].map((r) => ({ ...r, spend: sum(r.spend), billed: sum(r.billed), estimated: sum(r.estimated) }));
}

export function Costs({ ws, query }) {
  const view = Object.fromEntries(KEYS.map((k) => [k, query.get(k) || ""]));
  view.group_by = view.group_by || "provider";
  view.granularity = view.granularity || "day";
  const sort = query.get("sort") || "spend";
  const dir = query.get("dir") || "desc";
  const apiQuery = qs(Object.fromEntries(KEYS.map((k) => [k, view[k]])));
  const data = useApi(() => get(`/api/workspaces/${ws}/usage${apiQuery}`), [ws, apiQuery]);
  const set = (changes) => {
    const next = { ...view, sort, dir, ...changes };
    navigate(`/app/workspaces/${ws}/costs${qs(next)}`, { replace: false });
  };
  const preset = (n) => set({ from: n === "mtd" ? `${daysAgo(0).slice(0, 8)}01` : daysAgo(n - 1), to: "" });
  const onFilter = (e) => { e.preventDefault(); set(Object.fromEntries(new FormData(e.target).entries())); };
  const dim = view.group_by.split(",")[0];
  const table = data.data ? rows(data.data.series, dim) : [];
  table.sort((a, b) => {
    const x = a[sort], y = b[sort];
    const c = typeof x === "string" ? x.localeCompare(y) : x > y ? 1 : x < y ? -1 : 0;
    return dir === "asc" ? c : -c;
  });
  const total = data.data && (data.data.totals.find((t) => t.currency === "USD") || { spend: "0" });
  return html`<div class="costs"><h1>Costs</h1>
    <${Card}>
      <div class="toolbar presets" role="group" aria-label="Date range presets">
        <button type="button" onClick=${() => preset(7)}>7 days</button><button type="button" onClick=${() => preset(30)}>30 days</button>
        <button type="button" onClick=${() => preset(90)}>90 days</button><button type="button" onClick=${() => preset("mtd")}>Month to date</button>
      </div>
      <form class="filters" onSubmit=${onFilter} key=${apiQuery}>
        <${Field} label="From (UTC)"><input type="date" name="from" defaultValue=${view.from || (data.data && data.data.from) || ""} /><//>
        <${Field} label="To (UTC)"><input type="date" name="to" defaultValue=${view.to || (data.data && data.data.to) || ""} /><//>
        <${Field} label="Granularity"><select name="granularity">${["day", "week", "month"].map((g) => html`<option selected=${view.granularity === g}>${g}</option>`)}</select><//>
        <${Field} label="Group by"><select name="group_by">${DIMENSIONS.map((d) => html`<option selected=${view.group_by === d}>${d}</option>`)}</select><//>
        ${DIMENSIONS.map((d) => html`<${Field} label=${`${d[0].toUpperCase()}${d.slice(1)} filter`}><input name=${d} defaultValue=${view[d]} placeholder="any" title="comma-separated values" /><//>`)}
        <div class="field"><button type="submit" class="primary">Apply</button></div>
      </form>
    <//>
    ${data.error ? html`<${ErrorBox} error=${data.error} ws=${ws} />` : !data.data ? html`<${Loading} what="Loading costs" />` : html`
      <${Card} title=${`${fmt(total.spend)} from ${data.data.from} to ${data.data.to} (UTC)`}>
        ${data.data.notice && html`<p class="muted">${data.data.notice.message || ""}</p>`}
        <div class="toolbar"><a class="button" download href=${`/api/workspaces/${ws}/usage${qs({ ...Object.fromEntries(KEYS.map((k) => [k, view[k]])), format: "csv" })}`}>Download CSV</a>
          ${data.loading && html`<${Loading} what="Updating" />`}</div>
        ${!data.data.series.length ? html`<${Empty}>No spend matches this view.<//>` : html`
          <${SpendChart} periods=${data.data.periods} series=${data.data.series} dimension=${dim} label=${`Spend by ${dim} per ${view.granularity} (UTC)`} />
          <div class="scroll"><table class="data sortable"><thead><tr>${COLUMNS.map(([k, label]) => html`<th scope="col" class=${k === "name" ? "" : "num"} aria-sort=${sort === k ? (dir === "asc" ? "ascending" : "descending") : null}>
            <button type="button" class="link" onClick=${() => set({ sort: k, dir: sort === k && dir === "desc" ? "asc" : "desc" })}>${k === "name" ? dim : label}${sort === k ? (dir === "asc" ? " ▲" : " ▼") : ""}</button></th>`)}</tr></thead>
            <tbody>${table.map((r) => html`<tr><th scope="row">${r.name}</th><td class="num" data-figure=${`spend:${r.name}`}>${fmt(r.spend)}</td><td class="num">${fmt(r.billed)}</td><td class="num">${fmt(r.estimated)}</td><td class="num">${r.events}</td></tr>`)}</tbody>
            <tfoot><tr><th scope="row">Total</th><td class="num" data-figure="total">${fmt(total.spend)}</td><td class="num">${fmt(total.billed)}</td><td class="num">${fmt(total.estimated)}</td><td class="num">${total.events}</td></tr></tfoot></table></div>`}
      <//>`}
  </div>`;
}
