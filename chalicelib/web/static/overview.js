// The first screen: anything running away, where the month will end, where the money goes.
import { html, useState } from "./lib.js";
import { get, post, qs, seg } from "./api.js";
import { SpendChart } from "./chart.js";
import { fmt, parse, percent, sum } from "./money.js";
import { Card, Empty, ErrorBox, FiringTitle, Loading, useAction, useApi, when } from "./ui.js";

const DIMENSIONS = ["provider", "model", "project", "feature", "customer"];

function Firings({ ws, firings, reload, canAct }) {
  const action = useAction();
  if (!firings.length) return null;
  const act = (f, what) => action.run(async () => {
    await post(`/api/workspaces/${ws}/alerts/history/${seg(f.firing_id)}/${what}`, what === "snooze" ? { minutes: 60 * 24 } : {});
    await reload();
  });
  const drivers = (f) => Object.entries(f.drivers || {}).filter(([, rows]) => rows.length)
    .map(([dim, rows]) => html`<li>${dim}: ${rows.map((r, i) => html`${i ? ", " : ""}<strong>${r.name}</strong> +${fmt(r.amount, f.currency)}`)}</li>`);
  return html`<div class="banners">${firings.map((f) => html`<div class=${`banner ${f.kind === "spike" ? "spike" : ""}`} role="alert" data-firing=${f.firing_id}>
    <div><${FiringTitle} f=${f} />
      <div class="muted">Since ${when(f.fired_at)}${f.figure && html` · ${f.figure_label || "observed"} ${fmt(f.figure, f.currency)}`}${f.threshold && html` vs ${(f.threshold_label || "threshold").toLowerCase()} ${fmt(f.threshold, f.currency)}`}</div>
      ${drivers(f).length ? html`<ul class="drivers" aria-label="What drove it">${drivers(f)}</ul>` : null}</div>
    ${canAct && html`<div class="actions">
      <button type="button" onClick=${() => act(f, "acknowledge")} disabled=${action.busy}>Acknowledge</button>
      <button type="button" onClick=${() => act(f, "snooze")} disabled=${action.busy}>Snooze 1 day</button>
    </div>`}</div>`)}
    <${ErrorBox} error=${action.error} ws=${ws} /></div>`;
}

function Projection({ forecast }) {
  if (forecast.status !== "ok") {
    return html`<${Card} title="This month"><p class="muted">${forecast.message || "Not enough history for a forecast yet."}</p><//>`;
  }
  const pe = forecast.period_end;
  return html`<div class="kpis">
    <${Card} title="Month to date" cls="kpi"><p class="big" data-figure="month-to-date">${fmt(sum([pe.spent_so_far, pe.today_so_far]))}</p>
      <p class="muted">${forecast.period.start} to today, UTC · today so far ${fmt(pe.today_so_far)}</p><//>
    <${Card} title="Projected at month end" cls="kpi"><p class="big" data-figure="projected">${fmt(pe.projected)}</p>
      <p class="muted">80% range ${fmt(pe.lower)} – ${fmt(pe.upper)} · ${pe.days_left} days left (to ${forecast.period.end} UTC)</p><//>
    <${Card} title="Budget" cls="kpi">${pe.budget ? html`<p class="big">${fmt(pe.budget)}</p>
      <p class=${`risk ${forecast.risk}`}>${percent(pe.probability_over_budget)} chance of passing it${pe.days_until_budget_exceeded != null ? html` · likely passed in <strong data-figure="days-until">${pe.days_until_budget_exceeded}</strong> days` : ` · at the expected pace not passed before ${forecast.period.end}`}</p>`
      : html`<p class="muted">No monthly budget set. <a href=${`/app/workspaces/${forecast.ws}/alerts?new=budget`}>Set a budget alert</a> to see the chance of passing it.</p>`}<//>
  </div>`;
}

function Today({ t }) {
  if (!t) return null;
  const today = parse(t.today), usual = t.usual == null ? 0n : parse(t.usual);
  const word = !usual ? "" : today * 2n >= usual * 3n ? "well above" : today * 3n <= usual * 2n ? "well below" : "about";
  return html`<p class="today"><span>Today so far <strong data-figure="today">${fmt(t.today)}</strong></span>
    ${t.usual != null ? html`<span class="muted">a usual day (median of the last ${t.usual_days}) <strong>${fmt(t.usual)}</strong>${word ? ` · ${word} usual` : ""}</span>` : null}</p>`;
}

// What the first screen asks for (main.js asks for it with /api/me when the URL is the overview's).
export const summaryPath = (ws, days = 30, groupBy = "provider") => `/api/workspaces/${ws}/summary${qs({ days, group_by: groupBy })}`;

export function Overview({ ws, role }) {
  const [groupBy, setGroupBy] = useState("provider");
  const [days, setDays] = useState(30);
  const data = useApi(() => get(summaryPath(ws, days, groupBy)), [ws, groupBy, days]);
  if (data.error) return html`<${ErrorBox} error=${data.error} ws=${ws} />`;
  if (!data.data) return html`<${Loading} what="Loading this month" />`;
  const s = data.data;
  const total = (s.usage.totals.find((t) => t.currency === "USD") || {}).spend;
  const empty = !s.usage.series.length;
  return html`<div class="overview">
    <h1 class="sr">Overview</h1>
    <${Firings} ws=${ws} firings=${s.open_firings} reload=${data.reload} canAct=${role === "owner" || role === "admin"} />
    ${empty && html`<${Card} title="No spend yet" cls="onboard"><p>Connect a provider or push usage from your code to see where the money goes.</p>
      <a class="button primary" href=${`/app/workspaces/${ws}/onboarding`}>Get started</a><//>`}
    <${Projection} forecast=${{ ...s.forecast, ws }} />
    <${Card} title="Where the money goes">
      <div class="toolbar">
        <label>Group by <select value=${groupBy} onChange=${(e) => setGroupBy(e.target.value)}>${DIMENSIONS.map((d) => html`<option value=${d}>${d}</option>`)}</select></label>
        <label>Days <select value=${days} onChange=${(e) => setDays(Number(e.target.value))}><option value="30">last 30</option><option value="90">last 90</option></select></label>
        <span class="muted">Total ${fmt(total || "0")} · UTC days</span>
      </div>
      <${Today} t=${s.today_vs_usual} />
      ${data.loading && html`<${Loading} what="Updating" />`}
      ${empty ? html`<${Empty}>No spend in this window.<//>` : html`<${SpendChart} periods=${s.usage.periods} series=${s.usage.series} dimension=${groupBy}
        forecast=${s.forecast.status === "ok" ? s.forecast.series : []} label=${`Daily spend by ${groupBy}, last ${days} days, with the forecast to ${s.period.end}`} />`}
      ${s.notice && html`<p class="muted">${s.notice.message || ""}</p>`}
    <//>
    <${Card} title=${`Top movers: last ${s.movers_days} days vs the ${s.movers_days} before`}>
      ${s.movers.length ? html`<table class="data"><thead><tr><th scope="col">${groupBy}</th><th scope="col" class="num">Now</th><th scope="col" class="num">Before</th><th scope="col" class="num">Change</th></tr></thead>
        <tbody>${s.movers.map((m) => html`<tr><th scope="row">${m.name}</th><td class="num">${fmt(m.current)}</td><td class="num">${fmt(m.previous)}</td>
          <td class=${`num ${m.change.startsWith("-") ? "down" : "up"}`}>${m.change.startsWith("-") ? "" : "+"}${fmt(m.change)}${m.change_percent != null ? ` (${m.change_percent}%)` : ""}</td></tr>`)}</tbody></table>`
        : html`<${Empty}>Nothing moved.<//>`}
    <//>
  </div>`;
}
