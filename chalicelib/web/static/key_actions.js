// Stopping a leaked key: "disable this key" on a firing that names one, and a connection's audit.
import { html, useState } from "./lib.js";
import { get, post, seg } from "./api.js";
import { ErrorBox, useAction, useApi, when } from "./ui.js";

const canAct = (role) => role === "owner" || role === "admin";

// A firing's button: Anthropic keys are disabled (reversible); OpenAI keys deleted after typing the id.
export function DisableKey({ ws, firing, role, onDone }) {
  const key = firing.driving_key;
  const action = useAction();
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState("");
  const [sent, setSent] = useState(null);
  if (!key) return null;
  const path = `/api/workspaces/${ws}/alerts/history/${seg(firing.firing_id)}/key-action`;
  const permanent = key.provider === "openai";
  const label = `API key ${key.api_key_id} (${key.provider})`;
  if (!canAct(role)) return html`<div class="muted">Driven by ${label}. Ask an admin to disable it.</div>`;
  if (sent) return html`<p class="ok" role="status">${permanent ? "Deleting" : "Disabling"} ${key.api_key_id}: see the connection's key actions.</p>`;
  const run = () => action.run(async () => {
    setSent(await post(path, permanent ? { confirm: typed.trim() } : {}));
    if (onDone) await onDone();
  });
  return html`<div class="key-action" id=${`key-actions-${firing.firing_id}`}>
    <span class="muted">Driven by ${label}.</span>
    ${!confirming ? html`<button type="button" class="danger" onClick=${() => (permanent ? setConfirming(true) : run())} disabled=${action.busy}>${permanent ? "Delete this key…" : "Disable this key"}</button>`
      : html`<label>OpenAI keys cannot be paused: deleting is permanent. Type <code>${key.api_key_id}</code> to confirm
          <input value=${typed} onInput=${(e) => setTyped(e.target.value)} autocomplete="off" /></label>
        <button type="button" class="danger" disabled=${action.busy || typed.trim() !== key.api_key_id} onClick=${run}>Delete permanently</button>
        <button type="button" class="link" onClick=${() => setConfirming(false)}>Cancel</button>`}
    <${ErrorBox} error=${action.error} ws=${ws} />
  </div>`;
}

// A connection's key actions, newest first; a disabled Anthropic key can be enabled again.
export function KeyAudit({ ws, c, role }) {
  const [open, setOpen] = useState(false);
  if (c.provider !== "anthropic" && c.provider !== "openai") return null;
  return html`<div class="key-audit">
    <button type="button" class="link" onClick=${() => setOpen(!open)}>${open ? "Hide" : "Show"} key actions</button>
    ${open && html`<${AuditList} ws=${ws} c=${c} role=${role} />`}
  </div>`;
}

function AuditList({ ws, c, role }) {
  const base = `/api/workspaces/${ws}/connections/${seg(c.connection_id)}/key-actions`;
  const data = useApi(() => get(base), [base]);
  const action = useAction();
  if (data.error) return html`<${ErrorBox} error=${data.error} ws=${ws} />`;
  if (!data.data) return html`<p class="muted">Loading key actions…</p>`;
  const items = data.data.key_actions;
  if (!items.length) return html`<p class="muted">No key was disabled or enabled on this connection.</p>`;
  const enable = (a) => action.run(async () => { await post(base, { action: "enable", api_key_id: a.api_key_id }); await data.reload(); });
  return html`<${ErrorBox} error=${action.error} ws=${ws} /><table class="data"><thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Key</th><th scope="col">Who</th><th scope="col">Why</th><th scope="col">Outcome</th></tr></thead>
    <tbody>${items.map((a) => html`<tr><td>${when(a.requested_at)}</td><td>${a.action}</td><td><code>${a.api_key_id}</code></td><td>${a.actor}</td>
      <td>${a.firing_id || a.reason}</td><td title=${a.error || ""}>${a.status}${a.key_status ? ` (${a.key_status})` : ""}
      ${canAct(role) && a.reversible && a.action === "disable" && a.status === "done" && html` <button type="button" onClick=${() => enable(a)} disabled=${action.busy}>Enable again</button>`}</td></tr>`)}</tbody></table>`;
}
