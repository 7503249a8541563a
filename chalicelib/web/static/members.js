// Members and workspace: add by email, change role, remove; rename, leave, delete (what the role
// cannot do is not offered).
import { html } from "./lib.js";
import { del, get, patch, post } from "./api.js";
import { Card, ErrorBox, Field, Loading, formData, useAction, useApi, when } from "./ui.js";
import { Invitations } from "./invitations.js";
import { WorkspaceSettings } from "./workspace_settings.js";

const ROLES = ["owner", "admin", "member", "viewer"];

export function Members({ ws, role, me, onWorkspacesChanged }) {
  const list = useApi(() => get(`/api/workspaces/${ws}/members`), [ws]);
  const action = useAction();
  const admin = role === "owner" || role === "admin";
  const base = `/api/workspaces/${ws}/members`;
  const invite = (e) => { const f = formData(e); const form = e.target; action.run(async () => { await post(base, { email: f.email, role: f.role }); form.reset(); await list.reload(); }); };
  const act = (fn) => action.run(async () => { await fn(); await list.reload(); });
  return html`<div class="members"><h1>Members</h1>
    <${ErrorBox} error=${action.error} ws=${ws} />
    <${Card} title="People in this workspace">
      ${list.error ? html`<${ErrorBox} error=${list.error} ws=${ws} />` : !list.data ? html`<${Loading} />` : html`<table class="data">
        <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Joined</th>${admin && html`<th scope="col"><span class="sr">Actions</span></th>`}</tr></thead>
        <tbody>${list.data.members.map((m) => html`<tr><th scope="row">${m.email}${m.user_id === me.user_id ? " (you)" : ""}</th>
          <td>${admin && m.user_id !== me.user_id && (role === "owner" || m.role !== "owner")
            ? html`<label><span class="sr">Role of ${m.email}</span><select value=${m.role} onChange=${(e) => act(() => patch(`${base}/${m.user_id}`, { role: e.target.value }))}>${ROLES.filter((r) => role === "owner" || r !== "owner").map((r) => html`<option value=${r}>${r}</option>`)}</select></label>` : m.role}</td>
          <td>${when(m.joined_at)}</td>
          ${admin && html`<td>${m.user_id !== me.user_id && (role === "owner" || m.role !== "owner") && html`<button type="button" class="danger" onClick=${() => confirm(`Remove ${m.email}?`) && act(() => del(`${base}/${m.user_id}`))}>Remove</button>`}</td>`}</tr>`)}</tbody></table>`}
    <//>
    ${admin && html`<${Card} title="Add a member"><form class="stack" onSubmit=${invite}>
      <p class="muted">They need a CostPilot account with this email.</p>
      <div class="row"><${Field} label="Email"><input name="email" type="email" required /><//>
      <${Field} label="Role"><select name="role">${ROLES.filter((r) => r !== "owner" || role === "owner").map((r) => html`<option value=${r} selected=${r === "member"}>${r}</option>`)}</select><//></div>
      <button type="submit" class="primary" disabled=${action.busy}>Add member</button></form><//>`}
    ${admin && html`<${Invitations} ws=${ws} role=${role} />`}
    <${WorkspaceSettings} ws=${ws} role=${role} me=${me} onChanged=${onWorkspacesChanged} />
  </div>`;
}
