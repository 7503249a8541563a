// Invitations by email: the pending list and the invite form on the members page (admins and owners),
// and the landing page of the link in the email (sign up through it, or log in and accept).
import { html, useEffect, useState } from "./lib.js";
import { del, get, post } from "./api.js";
import { linkToken } from "./account.js";
import { Card, ErrorBox, Field, Loading, formData, useAction, useApi, when } from "./ui.js";

const ROLES = ["owner", "admin", "member", "viewer"];

export function Invitations({ ws, role }) {
  const base = `/api/workspaces/${ws}/invitations`;
  const list = useApi(() => get(base), [ws]);
  const action = useAction();
  const invite = (e) => { const f = formData(e); const form = e.target; action.run(async () => { await post(base, { email: f.email, role: f.role }); form.reset(); await list.reload(); }); };
  const revoke = (i) => confirm(`Revoke the invitation to ${i.email}?`) && action.run(async () => { await del(`${base}/${i.invitation_id}`); await list.reload(); });
  return html`<${Card} title="Invite by email">
    <p class="muted">They get a link that expires in 7 days: without an account they sign up through it, with one they log in and accept.</p>
    <${ErrorBox} error=${action.error} ws=${ws} />
    <form class="stack" onSubmit=${invite}>
      <div class="row"><${Field} label="Email to invite"><input name="email" type="email" required /><//>
      <${Field} label="Invited role"><select name="role">${ROLES.filter((r) => r !== "owner" || role === "owner").map((r) => html`<option value=${r} selected=${r === "member"}>${r}</option>`)}</select><//></div>
      <button type="submit" class="primary" disabled=${action.busy}>Send invitation</button></form>
    <h3>Pending invitations</h3>
    ${list.error ? html`<${ErrorBox} error=${list.error} ws=${ws} />` : !list.data ? html`<${Loading} />`
      : !list.data.invitations.length ? html`<p class="muted">None.</p>` : html`<table class="data">
      <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Expires</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>${list.data.invitations.map((i) => html`<tr><th scope="row">${i.email}</th><td>${i.role}</td><td>${when(i.expires_at)}</td>
        <td><button type="button" class="danger" onClick=${() => revoke(i)}>Revoke</button></td></tr>`)}</tbody></table>`}
  <//>`;
}

const go = (ws) => location.assign(`/app/workspaces/${ws}`);

export function InvitationPage({ me }) {
  const [token] = useState(linkToken);
  const [preview, setPreview] = useState(undefined);
  const [error, setError] = useState(token ? null : { message: "This link has no token; open the link from the email again." });
  const action = useAction();
  useEffect(() => { if (token) post("/api/invitations/preview", { token }).then(setPreview, (e) => { setError(e); setPreview(null); }); }, []);
  const accept = () => action.run(async () => go((await post("/api/invitations/accept", { token })).workspace_id));
  const signup = (e) => { const f = formData(e); action.run(async () => {
    const r = await post("/api/invitations/signup", { token, password: f.password });
    await post("/api/auth/login", { email: r.email, password: f.password });
    go(r.workspace_id);
  }); };
  const login = (e) => { const f = formData(e); action.run(async () => {
    await post("/api/auth/login", { email: preview.email, password: f.password });
    go((await post("/api/invitations/accept", { token })).workspace_id);
  }); };
  const logout = () => action.run(async () => { await post("/api/auth/logout"); location.reload(); });
  let body;
  if (error) body = html`<${ErrorBox} error=${error} />`;
  else if (preview === undefined) body = html`<${Loading} />`;
  else if (me && me.email !== preview.email) {
    body = html`<p>You are logged in as ${me.email}; this invitation is for ${preview.email}.</p>
      <button type="button" onClick=${logout}>Log out</button>`;
  } else if (me) {
    body = html`<button type="button" class="primary" disabled=${action.busy} onClick=${accept}>Join ${preview.workspace_name}</button>`;
  } else {
    body = html`<form class="stack" onSubmit=${signup}><h3>New to CostPilot</h3>
        <${Field} label="Choose a password" hint="At least 10 characters."><input name="password" type="password" autocomplete="new-password" required /><//>
        <button type="submit" class="primary" disabled=${action.busy}>Create my account and join</button></form>
      <form class="stack" onSubmit=${login}><h3>I have an account</h3>
        <${Field} label="Password"><input name="password" type="password" autocomplete="current-password" required /><//>
        <button type="submit" disabled=${action.busy}>Log in and join</button></form>`;
  }
  return html`<main class="auth"><h1>CostPilot</h1><section class="card">
    <h2>${preview ? `Join ${preview.workspace_name}` : "Invitation"}</h2>
    ${preview && html`<p>${preview.invited_by || "Someone"} invited ${preview.email} as ${preview.role}.</p>`}
    <${ErrorBox} error=${action.error} />${body}</section></main>`;
}
