// Forecast: the daily series with its 80% band, where the period ends, the chance of passing a
// budget the user types in (kept in the URL), and how well the forecast did on this workspace's past.
import { html } from "./lib.js";
import { get, qs } from "./api.js";
import { SpendChart } from "./chart.js";
import { fmt, percent } from "./money.js";
import { navigate } from "./router.js";
import { Card, Empty, ErrorBox, Field, Loading, useApi } from "./ui.js";

function Accuracy({ accuracy }) {
  if (!accuracy) return null;
  return html`<${Card} title="How far to trust it">
    <p data-figure="accuracy">${accuracy.summary}</p>
    ${accuracy.check !== "none" && html`<dl class="facts">
      <div><dt>Average miss per day</dt><dd>${fmt(accuracy.typical_daily_error)}</dd></div>
      <div><dt>Days inside the 80% range</dt><dd>${percent(accuracy.coverage)}</dd></div>
      <div><dt>Against “same as last week”</dt><dd>${accuracy.mase < 1 ? "better" : "not better"} (MASE ${accuracy.mase})</dd></div>
    </dl>`}
  <//>`;
}

export function Forecast({ ws, query }) {
  const budget = query.get("budget") || "";
  const period = query.get("period") === "week" ? "week" : "month";
  // one call when nothing is typed: the summary has the history and the month against the budget alert
  const data = useApi(async () => {
    const summary = await get(`/api/workspaces/${ws}/summary${qs({ days: 30 })}`);
    if (!budget && period === "month") return { summary, forecast: summary.forecast };
    const forecast = await get(`/api/workspaces/${ws}/forecast${qs({ budget, period, horizon: period === "week" ? 7 : 31 })}`);
    return { summary, forecast };
  }, [ws, budget, period]);
  const onSubmit = (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target).entries());
    navigate(`/app/workspaces/${ws}/forecast${qs({ budget: f.budget.trim(), period: f.period === "week" ? "week" : "" })}`);
  };
  const form = html`<form class="toolbar" onSubmit=${onSubmit} aria-label="Forecast settings">
    <${Field} label="Period"><select name="period" value=${period}><option value="month">this month</option><option value="week">this week</option></select><//>
    <${Field} label="Budget (USD)" hint="Leave empty for your monthly budget alert"><input name="budget" inputmode="decimal" value=${budget} placeholder="e.g. 1500" /><//>
    <button type="submit" class="primary">Show chance</button>
  </form>`;
  const head = html`<div class="heading"><h1>Forecast</h1><span class="muted">UTC days</span></div>`;
  if (data.error) return html`${head}${form}<${ErrorBox} error=${data.error} ws=${ws} />`;
  if (!data.data) return html`${head}${form}<${Loading} what="Forecasting" />`;
  const { summary, forecast: fc } = data.data;
  if (fc.status !== "ok") {
    return html`${head}${form}<${Card} title="Not enough history"><${Empty}>${fc.message}<//><//>`;
  }
  const pe = fc.period_end;
  const word = fc.period.kind === "week" ? "week" : "month";
  return html`${head}${form}
    <div class="kpis">
      <${Card} title=${`Projected at ${word} end`} cls="kpi"><p class="big" data-figure="fc-projected">${fmt(pe.projected)}</p>
        <p class="muted">80% likely between ${fmt(pe.lower)} and ${fmt(pe.upper)} · ${fc.period.end} (UTC), ${pe.days_left} days left</p><//>
      <${Card} title="Spent so far" cls="kpi"><p class="big">${fmt(pe.spent_so_far)}</p>
        <p class="muted">since ${fc.period.start} before today, plus ${fmt(pe.today_so_far)} today</p><//>
      <${Card} title=${pe.budget ? `Chance of passing ${fmt(pe.budget)}` : "Budget"} cls="kpi">${pe.budget
        ? html`<p class=${`big risk ${fc.risk}`} data-figure="fc-probability">${percent(pe.probability_over_budget)}</p>
          <p class="muted">${pe.days_until_budget_exceeded != null ? `likely passed in ${pe.days_until_budget_exceeded} days` : `not likely passed before ${fc.period.end}`}</p>`
        : html`<p class="muted">Type a budget above to see the chance of passing it.</p>`}<//>
    </div>
    <${Card} title="Daily spend and forecast">
      ${fc.uncertain && html`<p class="muted">Little or irregular history: the range is wide on purpose.</p>`}
      <${SpendChart} periods=${summary.usage.periods} series=${summary.usage.series} dimension="provider" forecast=${fc.series}
        label=${`Daily spend by provider, last 30 days, and the forecast with its 80% band to ${fc.series.length ? fc.series[fc.series.length - 1].day : fc.period.end}`} />
      <p class="muted">Method: ${fc.method}. The band is where 80% of days are expected to fall.</p>
    <//>
    <${Accuracy} accuracy=${fc.accuracy} />`;
}
