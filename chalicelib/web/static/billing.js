// Billing: the plan, usage against each limit, upgrade through Stripe Checkout, the portal, and after a
// downgrade the choice of what stays active.
import { html } from "./lib.js";
import { get, post } from "./api.js";
import { Card, ErrorBox, Loading, useAction, useApi } from "./ui.js";
import { PlanKeep } from "./plan_keep.js";

const LIMITS = { connections: "Connections", alert_rules: "Alert rules", members: "Members", ingest_keys: "Ingest keys", events_per_month: "Pushed events this month", history_days: "Days of history", min_sync_interval_minutes: "Shortest sync interval (min)" };

function price(cents) { return `$${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}/month`; }
const n = (v) => (typeof v === "number" ? v.toLocaleString("en-US") : v);

export function Billing({ ws, role, query }) {
  const data = useApi(() => get(`/api/workspaces/${ws}/billing`), [ws]);
  const action = useAction();
  const owner = role === "owner";
  const go = (path, body) => action.run(async () => { const r = await post(`/api/workspaces/${ws}/billing/${path}`, body); window.location.assign(r.url); });
  if (data.error) return html`<${ErrorBox} error=${data.error} ws=${ws} />`;
  if (!data.data) return html`<${Loading} what="Loading billing" />`;
  const b = data.data;
  const live = b.subscription && b.subscription.live;  // a live subscription changes plan in the portal
  return html`<div class="billing"><h1>Billing</h1>
    ${query.get("checkout") === "success" && html`<p class="ok" role="status">Payment received. The plan changes as soon as Stripe confirms it.</p>`}
    ${query.get("checkout") === "cancelled" && html`<p class="muted" role="status">Checkout cancelled; nothing changed.</p>`}
    ${b.notice && html`<div class="banner" role="status">${b.notice.message}</div>`}
    <${ErrorBox} error=${action.error} ws=${ws} />
    <${Card} title="Plan"><p class="big" data-figure="plan">${b.plan.title}</p><p class="muted">${price(b.plan.price_cents_per_month)}${b.subscription ? ` · subscription ${b.subscription.status}` : ""}</p>
      ${owner && b.subscription && html`<button type="button" onClick=${() => go("portal")} disabled=${action.busy}>Manage in the customer portal</button>`}<//>
    <${Card} title="Usage against the plan's limits"><table class="data"><thead><tr><th scope="col">Limit</th><th scope="col" class="num">Used</th><th scope="col" class="num">Allowed</th></tr></thead>
      <tbody>${Object.entries(b.usage).map(([k, u]) => html`<tr class=${u.over_limit ? "over" : ""}><th scope="row">${LIMITS[k] || k}</th><td class="num">${n(u.used) ?? "—"}${u.active != null && u.active !== u.used ? ` (${n(u.active)} active)` : ""}</td><td class="num">${n(u.limit) ?? "unlimited"}</td></tr>`)}</tbody></table><//>
    <${PlanKeep} ws=${ws} billing=${b} owner=${owner} onSaved=${data.reload} />
    <div class="plans">${b.plans.map((p) => html`<${Card} title=${p.title} cls=${p.name === b.plan.name ? "current" : ""}>
      <p class="big">${price(p.price_cents_per_month)}</p>
      <ul>${Object.entries(p.limits).map(([k, v]) => html`<li>${LIMITS[k] || k}: ${n(v)}</li>`)}</ul>
      ${p.name === b.plan.name ? html`<p class="muted">Current plan</p>` : owner && p.purchasable && !live
        ? html`<button type="button" class="primary" onClick=${() => go("checkout", { plan: p.name })} disabled=${action.busy}>Upgrade to ${p.title}</button>` : null}
    <//>`)}</div>
    ${!owner && html`<p class="muted">Only owners change the plan.</p>`}
  </div>`;
}
