// Create or edit an alert of any of the five kinds, with its period, scope and one channel.
import { html, useState } from "./lib.js";
import { patch, post } from "./api.js";
import { ErrorBox, Field, formData, useAction } from "./ui.js";
import { SmsChannel } from "./sms.js";

const KINDS = {
  threshold: "Spend passes an amount in a period",
  budget: "Budget with levels (e.g. 50%, 80%, 100%)",
  forecast: "Forecast says the budget will be passed",
  spike: "Spend spikes or runs away",
  connection: "A connection keeps failing",
};

export function AlertForm({ ws, me, alert, onDone, initialKind }) {
  const [kind, setKind] = useState(alert ? alert.kind : initialKind || "threshold");
  const [channel, setChannel] = useState(alert && alert.channels[0] ? alert.channels[0].type : "email");
  const [periodKind, setPeriodKind] = useState((alert && alert.period && alert.period.kind) || (kind === "threshold" ? "daily" : "monthly"));
  const action = useAction();
  const money = kind === "threshold" || kind === "budget" || kind === "forecast";
  const submit = (e) => {
    const f = formData(e);
    const body = { name: f.name, kind };
    if (money) { body.amount = f.amount; body.period = { kind: periodKind, ...(periodKind === "rolling" ? { days: Number(f.days) } : {}) }; }
    if (kind === "budget" && f.levels) body.levels = f.levels.split(",").map((x) => Number(x.trim())).filter(Boolean);
    if (kind === "forecast" && f.probability) body.probability = Number(f.probability) / 100;
    if (kind === "spike" && f.sensitivity) body.sensitivity = Number(f.sensitivity);
    if (kind === "spike") body.min_excess = f.min_excess;
    if (kind === "connection" && f.failing_minutes) body.failing_minutes = Number(f.failing_minutes);
    if (kind !== "connection" && f.scope_value) body.scope = { dimension: f.scope_dimension, value: f.scope_value };
    body.channels = [channel === "email" ? { type: "email", to: f.to ? f.to.split(",").map((x) => x.trim()) : [me.email] } : channel === "sms" ? { type: "sms", number: f.number } : { type: channel, url: f.url }];
    action.run(async () => onDone(alert ? await patch(`/api/workspaces/${ws}/alerts/${alert.alert_id}`, body) : await post(`/api/workspaces/${ws}/alerts`, body)));
  };
  const ch = alert && alert.channels[0];
  return html`<form class="stack" onSubmit=${submit}>
    <${Field} label="Name"><input name="name" required defaultValue=${alert ? alert.name : ""} placeholder="Daily spend over $50" /><//>
    <${Field} label="Kind"><select name="kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>${Object.entries(KINDS).map(([k, t]) => html`<option value=${k}>${t}</option>`)}</select><//>
    ${money && html`<div class="row">
      <${Field} label=${kind === "threshold" ? "Amount (USD)" : "Budget (USD)"}><input name="amount" inputmode="decimal" pattern="[0-9]+([.][0-9]{1,6})?" required defaultValue=${alert ? alert.amount : ""} placeholder="50.00" /><//>
      <${Field} label="Period (UTC)"><select value=${periodKind} onChange=${(e) => setPeriodKind(e.target.value)}><option value="daily">day</option><option value="weekly">week</option><option value="monthly">month</option><option value="rolling">rolling days</option></select><//>
      ${periodKind === "rolling" && html`<${Field} label="Days"><input name="days" type="number" min="1" max="90" required defaultValue=${(alert && alert.period && alert.period.days) || 7} /><//>`}
    </div>`}
    ${kind === "budget" && html`<${Field} label="Levels (percent, comma-separated)"><input name="levels" defaultValue=${alert && alert.levels ? alert.levels.join(", ") : "50, 80, 100"} /><//>`}
    ${kind === "forecast" && html`<${Field} label="Notify at this chance (%)"><input name="probability" type="number" min="1" max="99" defaultValue=${alert && alert.probability ? Math.round(alert.probability * 100) : 50} /><//>`}
    ${kind === "spike" && html`<div class="row">
      <${Field} label="Sensitivity (0–1, optional)"><input name="sensitivity" inputmode="decimal" defaultValue=${(alert && alert.sensitivity) || ""} /><//>
      <${Field} label="Alert once the extra spend reaches (USD)" hint="Above the usual, since the spike began: a busy hour worth cents is not news. 0 alerts on every spike."><input name="min_excess" inputmode="decimal" pattern="[0-9]+([.][0-9]{1,6})?" required defaultValue=${alert && alert.min_excess != null ? alert.min_excess : "1"} /><//>
    </div>`}
    ${kind === "connection" && html`<${Field} label="Failing for (minutes)"><input name="failing_minutes" type="number" min="5" defaultValue=${(alert && alert.failing_minutes) || 60} /><//>`}
    ${kind !== "connection" && html`<div class="row">
      <${Field} label="Scope (optional)"><select name="scope_dimension">${["provider", "model", "project", "feature"].map((d) => html`<option selected=${(alert && alert.scope ? alert.scope.dimension : "provider") === d}>${d}</option>`)}</select><//>
      <${Field} label="Scope value"><input name="scope_value" placeholder="all spend" defaultValue=${alert && alert.scope ? alert.scope.value : ""} /><//>
    </div>`}
    <div class="row">
      <${Field} label="Channel"><select value=${channel} onChange=${(e) => setChannel(e.target.value)}><option value="email">email</option><option value="slack">Slack</option><option value="discord">Discord</option><option value="webhook">webhook</option><option value="sms">SMS</option></select><//>
      ${channel === "sms" ? html`<${SmsChannel} ws=${ws} number=${ch && ch.number} />` : channel === "email" ? html`<${Field} label="To (workspace members)"><input name="to" defaultValue=${ch && ch.to ? ch.to.join(", ") : me.email} /><//>`
        : html`<${Field} label="URL"><input name="url" type="url" required placeholder="https://hooks.slack.com/…" /><//>`}
    </div>
    <${ErrorBox} error=${action.error} ws=${ws} />
    <button type="submit" class="primary" disabled=${action.busy}>${alert ? "Save alert" : "Create alert"}</button>
  </form>`;
}
