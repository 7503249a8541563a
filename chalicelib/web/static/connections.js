// Connections with their sync health (sync now, pause/resume, replace key, delete) and ingest keys.
import { html, useState } from "./lib.js";
import { KeyAudit } from "./key_actions.js";
import { del, get, patch, post } from "./api.js";
import { ConnectForm, IngestKeyForm, PROVIDERS } from "./connect.js";
import { Card, Empty, ErrorBox, Field, Loading, formData, useAction, useApi, when } from "./ui.js";

function ReplaceKey({ ws, c, onDone }) {
  const action = useAction();
  const fields = (PROVIDERS[c.provider] || { fields: [] }).fields;
  const submit = (e) => {
    const f = formData(e);
    action.run(async () => onDone(await patch(`/api/workspaces/${ws}/connections/${c.connection_id}`, { credentials: Object.fromEntries(fields.map(([k]) => [k, f[k]])) })));
  };
  return html`<form class="stack inline-form" onSubmit=${submit}>
    ${fields.map(([k, label]) => html`<${Field} label=${`New ${label.toLowerCase()}`}><input name=${k} type="password" autocomplete="off" required /><//>`)}
    <${ErrorBox} error=${action.error} ws=${ws} /><button type="submit" disabled=${action.busy}>Check and replace</button></form>`;
}

function health(c) {
  if (c.status === "paused") return ["paused", "Paused: not syncing."];
  const since = c.failing_since ? ` (since ${when(c.failing_since)})` : "";
  if (c.status === "error") return ["failing", `${c.last_error || "The key was rejected"}${since}. Syncing stopped until the key is replaced.`];
  if (c.last_error) return ["failing", `${c.last_error}${since}. The next run retries.`];
  if (!c.last_success_at) return ["pending", "Waiting for the first sync (backfills 90 days)."];
  return ["ok", `Synced through ${c.synced_through} (UTC).`];
}

export function Connections({ ws, role }) {
  const admin = role === "owner" || role === "admin";
  const list = useApi(() => Promise.all([get(`/api/workspaces/${ws}/connections`), get(`/api/workspaces/${ws}/ingest-keys`)]), [ws]);
  const action = useAction();
  const [adding, setAdding] = useState(false);
  const [replacing, setReplacing] = useState(null);
  const [notice, setNotice] = useState(null);
  const act = (fn, text) => action.run(async () => { await fn(); setNotice(text); await list.reload(); });
  if (list.error) return html`<${ErrorBox} error=${list.error} ws=${ws} />`;
  if (!list.data) return html`<${Loading} what="Loading connections" />`;
  const [{ connections }, { ingest_keys: keys }] = list.data;
  const base = `/api/workspaces/${ws}/connections`;
  return html`<div class="connections">
    <div class="heading"><h1>Connections</h1>${admin && !adding && html`<button type="button" class="primary" onClick=${() => setAdding(true)}>Connect a provider</button>`}</div>
    ${notice && html`<p class="ok" role="status">${notice}</p>`}
    <${ErrorBox} error=${action.error} ws=${ws} />
    ${adding && html`<${Card} title="Connect a provider"><${ConnectForm} ws=${ws} onDone=${(c) => { setAdding(false); setNotice(`Connected ${c.label}.`); list.reload(); }} />
      <button type="button" class="link" onClick=${() => setAdding(false)}>Cancel</button><//>`}
    <${Card} title="Provider accounts">
      ${!connections.length ? html`<${Empty}>No provider connected.<//>` : html`<ul class="rules">${connections.map((c) => {
        const [state, text] = health(c);
        return html`<li data-connection=${c.provider}>
          <div><strong>${c.label}</strong> <span class=${`pill ${state}`}>${state}</span>
            <div class="muted">${PROVIDERS[c.provider] ? PROVIDERS[c.provider].title : c.provider} · key …${c.key_hint} · every ${c.sync_interval_minutes} min · last success ${when(c.last_success_at)}${c.next_sync_at ? ` · next run ${when(c.next_sync_at)}` : ""}</div>
            <div class=${state === "failing" ? "error-text" : "muted"}>${text}</div>
            ${replacing === c.connection_id && html`<${ReplaceKey} ws=${ws} c=${c} onDone=${() => { setReplacing(null); setNotice("Key replaced."); list.reload(); }} />`}
            <${KeyAudit} ws=${ws} c=${c} role=${role} /></div>
          ${admin && html`<div class="actions">
            <button type="button" onClick=${() => act(() => post(`${base}/${c.connection_id}/sync`), `Sync of ${c.label} started.`)}>Sync now</button>
            <button type="button" onClick=${() => act(() => patch(`${base}/${c.connection_id}`, { status: c.status === "paused" ? "active" : "paused" }), c.status === "paused" ? "Resumed." : "Paused.")}>${c.status === "paused" ? "Resume" : "Pause"}</button>
            <button type="button" onClick=${() => setReplacing(replacing === c.connection_id ? null : c.connection_id)}>Replace key</button>
            <button type="button" class="danger" onClick=${() => confirm(`Delete ${c.label}? Its history stays.`) && act(() => del(`${base}/${c.connection_id}`), "Deleted.")}>Delete</button>
          </div>`}</li>`;
      })}</ul>`}
    <//>
    <${Card} title="Ingest keys (push usage from your code)">
      ${!keys.length ? html`<${Empty}>No ingest key.<//>` : html`<table class="data"><thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Last used</th><th scope="col">Status</th>${admin && html`<th scope="col"><span class="sr">Actions</span></th>`}</tr></thead>
        <tbody>${keys.map((k) => html`<tr><th scope="row">${k.name}</th><td><code>${k.prefix}…</code></td><td>${when(k.last_used_at)}</td><td>${k.revoked ? "revoked" : "active"}</td>
          ${admin && html`<td>${!k.revoked && html`<button type="button" class="danger" onClick=${() => confirm(`Revoke ${k.name}?`) && act(() => del(`/api/workspaces/${ws}/ingest-keys/${k.key_id}`), "Revoked.")}>Revoke</button>`}</td>`}</tr>`)}</tbody></table>`}
      ${admin && html`<h3>New ingest key</h3><${IngestKeyForm} ws=${ws} onDone=${() => list.reload()} />`}
    <//>
  </div>`;
}
