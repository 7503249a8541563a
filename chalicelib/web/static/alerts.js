// Alerts: list with pause/resume/test/delete, create and edit, history with delivery status, digest.
import { html, useState } from "./lib.js";
import { del, get, post, put, seg } from "./api.js";
import { AlertForm } from "./alert_form.js";
import { DisableKey } from "./key_actions.js";
import { fmt } from "./money.js";
import { Card, Empty, ErrorBox, FiringTitle, Loading, useAction, useApi, when } from "./ui.js";

function describe(a) {
  const period = a.period ? (a.period.kind === "rolling" ? `${a.period.days} rolling days` : a.period.kind) : "";
  const scope = a.scope && a.scope.dimension ? ` · ${a.scope.dimension} = ${a.scope.value}` : "";
  const floor = a.kind === "spike" && a.min_excess != null ? ` · from ${fmt(a.min_excess, a.currency)} extra` : "";
  return `${a.kind}${a.amount ? ` · ${fmt(a.amount)}` : ""}${period ? ` ${period}` : ""}${floor}${scope}`;
}

function History({ ws, canEdit, role }) {
  const data = useApi(() => get(`/api/workspaces/${ws}/alerts/history?limit=50`), [ws]);
  const action = useAction();
  if (data.error) return html`<${ErrorBox} error=${data.error} ws=${ws} />`;
  if (!data.data) return html`<${Loading} what="Loading history" />`;
  const firings = data.data.firings;
  const ack = (f) => action.run(async () => { await post(`/api/workspaces/${ws}/alerts/history/${seg(f.firing_id)}/acknowledge`); await data.reload(); });
  if (!firings.length) return html`<${Empty}>No alert has fired yet.<//>`;
  return html`<${ErrorBox} error=${action.error} ws=${ws} /><ul class="history">${firings.map((f) => html`<li class=${`firing ${f.status}`}>
    <${FiringTitle} f=${f} />
    <div class="muted">${when(f.fired_at)} · ${f.status}${f.acknowledged_by ? ` by ${f.acknowledged_by}` : ""}</div>
    <div class="deliveries">${f.deliveries.map((d) => html`<span class=${`pill ${d.status}`} title=${d.last_error || ""}>${d.type}: ${d.status}${d.attempts > 1 ? ` (${d.attempts} tries)` : ""}</span>`)}</div>
    ${canEdit && f.status === "open" && html`<button type="button" onClick=${() => ack(f)}>Acknowledge</button>`}
    <${DisableKey} ws=${ws} firing=${f} role=${role} />
  </li>`)}</ul>`;
}

function Digest({ ws, canEdit }) {
  const data = useApi(() => get(`/api/workspaces/${ws}/digest`), [ws]);
  const action = useAction();
  if (!data.data) return data.error ? html`<${ErrorBox} error=${data.error} />` : null;
  const change = (e) => action.run(async () => { await put(`/api/workspaces/${ws}/digest`, { frequency: e.target.value }); await data.reload(); });
  return html`<label>Spend digest by email <select value=${data.data.frequency} disabled=${!canEdit || action.busy} onChange=${change}>
    <option value="off">off</option><option value="daily">daily</option><option value="weekly">weekly</option></select></label><${ErrorBox} error=${action.error} />`;
}

export function Alerts({ ws, role, me, section, query }) {
  const editing = section.split("/")[1];
  const canEdit = role === "owner" || role === "admin"; // members read alerts; the server refuses their changes
  const [creating, setCreating] = useState(Boolean(query.get("new")));
  const [notice, setNotice] = useState(null);
  const list = useApi(() => get(`/api/workspaces/${ws}/alerts`), [ws]);
  const action = useAction();
  const act = (fn, text) => action.run(async () => { await fn(); setNotice(text); await list.reload(); });
  const editingAlert = list.data && editing && list.data.alerts.find((a) => a.alert_id === editing);
  return html`<div class="alerts">
    <div class="heading"><h1>Alerts</h1>${canEdit && !creating && html`<button type="button" class="primary" onClick=${() => setCreating(true)}>New alert</button>`}</div>
    ${notice && html`<p class="ok" role="status">${notice}</p>`}
    <${ErrorBox} error=${action.error} ws=${ws} />
    ${creating && html`<${Card} title="New alert"><${AlertForm} ws=${ws} me=${me} initialKind=${query.get("new") === "budget" ? "budget" : undefined} onDone=${(a) => { setCreating(false); setNotice(`Created “${a.name}”.`); list.reload(); }} />
      <button type="button" class="link" onClick=${() => setCreating(false)}>Cancel</button><//>`}
    ${canEdit && editingAlert && html`<${Card} title=${`Edit “${editingAlert.name}”`}><${AlertForm} ws=${ws} me=${me} alert=${editingAlert} onDone=${(a) => { setNotice(`Saved “${a.name}”.`); list.reload(); }} /><//>`}
    <${Card} title="Rules">
      ${list.error ? html`<${ErrorBox} error=${list.error} ws=${ws} />` : !list.data ? html`<${Loading} />` : !list.data.alerts.length ? html`<${Empty}>No alerts yet.<//>`
        : html`<ul class="rules">${list.data.alerts.map((a) => html`<li>
          <div><a href=${`/app/workspaces/${ws}/alerts/${a.alert_id}`}><strong>${a.name}</strong></a> <span class=${`pill ${a.status}`}>${a.status}</span>
            <div class="muted">${describe(a)} · ${a.channels.map((c) => c.type).join(", ")}${a.snoozed_until ? ` · snoozed until ${when(a.snoozed_until)}` : ""}</div></div>
          ${canEdit && html`<div class="actions">
            ${a.status === "paused" ? html`<button type="button" onClick=${() => act(() => post(`/api/workspaces/${ws}/alerts/${a.alert_id}/resume`), `Resumed “${a.name}”.`)}>Resume</button>`
              : html`<button type="button" onClick=${() => act(() => post(`/api/workspaces/${ws}/alerts/${a.alert_id}/pause`), `Paused “${a.name}”.`)}>Pause</button>`}
            <button type="button" onClick=${() => act(() => post(`/api/workspaces/${ws}/alerts/${a.alert_id}/test`), `Test sent for “${a.name}”.`)}>Send test</button>
            <button type="button" class="danger" onClick=${() => confirm(`Delete “${a.name}”?`) && act(() => del(`/api/workspaces/${ws}/alerts/${a.alert_id}`), `Deleted “${a.name}”.`)}>Delete</button>
          </div>`}</li>`)}</ul>`}
      <${Digest} ws=${ws} canEdit=${true} />
    <//>
    <${Card} title="History"><${History} ws=${ws} canEdit=${canEdit} role=${role} /><//>
  </div>`;
}
