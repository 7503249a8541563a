// Insights: each finding with its figures and the monthly saving acting on it would bring.
import { html } from "./lib.js";
import { get } from "./api.js";
import { fmt } from "./money.js";
import { Card, Empty, ErrorBox, Loading, useApi } from "./ui.js";

const MONEY = new Set(["cost", "total", "current", "previous", "monthly_saving"]);
const LABELS = {
  dimension: "Dimension", name: "Name", cost: "Spend in the period", total: "All spend in the period", share: "Share of spend",
  current: "This period", previous: "The period before", ratio: "Growth", provider: "Provider", model: "Model",
  cheaper_model: "Cheaper model", monthly_saving: "Monthly saving", avg_input_tokens: "Average input tokens",
  avg_output_tokens: "Average output tokens",
};

function figure(key, value) {
  if (value == null) return "—";
  if (MONEY.has(key)) return fmt(value);
  if (key === "share") return `${Math.round(Number(value) * 100)}%`;
  if (key === "ratio") return `${Number(value).toFixed(1)}×`;
  return String(value);
}

function Insight({ insight, index }) {
  const s = insight.saving || {};
  return html`<${Card} cls=${`insight ${insight.severity}`}>
    <div class="heading"><h2>${insight.title}</h2><span class=${`pill ${insight.severity}`}>${insight.severity}</span></div>
    <p>${insight.message}</p>
    <p class="saving" data-figure=${`saving:${index}`}>${s.monthly ? html`<strong>Saves about ${fmt(s.monthly)} a month.</strong> ` : ""}${s.how || ""}</p>
    <dl class="facts">${Object.entries(insight.figures).map(([k, v]) => html`<div><dt>${LABELS[k] || k.replace(/_/g, " ")}</dt><dd>${figure(k, v)}</dd></div>`)}</dl>
  <//>`;
}

export function Insights({ ws }) {
  const data = useApi(() => get(`/api/workspaces/${ws}/insights`), [ws]);
  const d = data.data;
  const head = html`<div class="heading"><h1>Insights</h1>${d && html`<span class="muted">${d.from} to ${d.to} vs the ${d.days} days before (UTC)</span>`}</div>`;
  if (data.error) return html`${head}<${ErrorBox} error=${data.error} ws=${ws} />`;
  if (!d) return html`${head}<${Loading} what="Looking for savings" />`;
  const list = d.insights;
  if (!list.length) return html`${head}<${Empty}>Nothing stands out in the last ${d.days} days: no concentration, growth, cheaper model or new costly tag.<//>`;
  return html`${head}${list.map((i, n) => html`<${Insight} insight=${i} index=${n} />`)}`;
}
