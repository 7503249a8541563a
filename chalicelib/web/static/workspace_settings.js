// The workspace itself: rename (owners and admins), leave (anyone; the last owner is refused by the
// server), delete (owners, after typing its name), and creating a new one.
import { html, useState } from "./lib.js";
import { del, patch, post } from "./api.js";
import { navigate } from "./router.js";
import { Card, ErrorBox, Field, formData, useAction } from "./ui.js";

export function WorkspaceSettings({ ws, role, me, onChanged }) {
  const current = me.workspaces.find((w) => w.workspace_id === ws);
  const action = useAction();
  const [typed, setTyped] = useState("");
  const [done, setDone] = useState("");
  const canRename = role === "owner" || role === "admin";
  const gone = async () => { await onChanged(); navigate("/app", { replace: true }); };
  const rename = (e) => {
    const f = formData(e);
    action.run(async () => { await patch(`/api/workspaces/${ws}`, { name: f.name.trim() }); await onChanged(); setDone(`Renamed to “${f.name.trim()}”.`); });
  };
  const leave = () => confirm(`Leave “${current.name}”? You lose access until someone adds you again.`)
    && action.run(async () => { await del(`/api/workspaces/${ws}/members/${me.user_id}`); await gone(); });
  const remove = (e) => {
    e.preventDefault();
    action.run(async () => { await del(`/api/workspaces/${ws}`); await gone(); });
  };
  return html`<${Card} title="Workspace">
    <${ErrorBox} error=${action.error} ws=${ws} />
    ${done && html`<p class="ok" role="status">${done}</p>`}
    ${canRename && html`<form class="row end" onSubmit=${rename}>
      <${Field} label="Name"><input name="name" required maxlength="100" defaultValue=${current.name} key=${current.name} /><//>
      <button type="submit" disabled=${action.busy}>Rename</button></form>`}
    <p class="leave"><button type="button" onClick=${leave} disabled=${action.busy}>Leave this workspace</button></p>
    ${role === "owner" && html`<form class="stack danger-zone" onSubmit=${remove}>
      <p class="muted">Deleting cancels its subscription and removes its connections, keys, alerts and spend history. It cannot be undone.</p>
      <${Field} label=${`Type “${current.name}” to delete it`}><input name="confirm" autocomplete="off" value=${typed} onInput=${(e) => setTyped(e.target.value)} /><//>
      <button type="submit" class="danger" disabled=${action.busy || typed !== current.name}>Delete workspace</button></form>`}
  <//>`;
}

export function NewWorkspace({ onCreated }) {
  const action = useAction();
  const create = (e) => {
    const f = formData(e);
    action.run(async () => {
      const w = await post("/api/workspaces", { name: f.name.trim() });
      await onCreated();
      navigate(`/app/workspaces/${w.workspace_id}/onboarding`);
    });
  };
  return html`<${Card} title="New workspace">
    <${ErrorBox} error=${action.error} />
    <form class="row end" onSubmit=${create}>
      <${Field} label="Name"><input name="name" required maxlength="100" /><//>
      <button type="submit" class="primary" disabled=${action.busy}>Create workspace</button></form>
  <//>`;
}
