// Account pages: the links sent by email (verify the address, reset the password, forgot password),
// and the account page (verification, change password, sessions with "log out everywhere").
import { html, useEffect, useState } from "./lib.js";
import { del, get, post } from "./api.js";
import { Card, ErrorBox, Field, Loading, formData, useAction, useApi, when } from "./ui.js";

// The secret rides in the URL's fragment (never sent to a server); it is dropped from the address bar once read.
export function linkToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

function useToken() {
  const [token] = useState(linkToken);
  return token;
}

const Frame = ({ title, children }) => html`<main class="auth"><h1>CostPilot</h1><section class="card"><h2>${title}</h2>${children}</section></main>`;

export function VerifyEmailPage() {
  const token = useToken();
  const [state, setState] = useState(token ? { busy: true } : { error: { message: "This link has no token; open the link from the email again." } });
  useEffect(() => {
    if (!token) return;
    post("/api/auth/verify-email", { token }).then((r) => setState({ done: r }), (error) => setState({ error }));
  }, []);
  return html`<${Frame} title="Verify your email address">
    ${state.busy && html`<${Loading} what="Verifying" />`}
    <${ErrorBox} error=${state.error} />
    ${state.done && html`<p role="status">${state.done.email} is verified: alert emails will reach it.</p>`}
    <p><a href="/app">Go to CostPilot</a></p>
  <//>`;
}

export function ForgotPasswordPage() {
  const action = useAction();
  const [sent, setSent] = useState(null);
  const submit = (e) => { const f = formData(e); action.run(async () => setSent((await post("/api/auth/password-reset", { email: f.email })).message)); };
  return html`<${Frame} title="Forgot your password?">
    <${ErrorBox} error=${action.error} />
    ${sent ? html`<p role="status">${sent[0].toUpperCase() + sent.slice(1)}.</p>` : html`<form class="stack" onSubmit=${submit}>
      <${Field} label="Email"><input name="email" type="email" autocomplete="email" required /><//>
      <button type="submit" class="primary" disabled=${action.busy}>Email me a link</button></form>`}
    <p><a href="/app/login">Back to log in</a></p>
  <//>`;
}

export function ResetPasswordPage() {
  const token = useToken();
  const action = useAction();
  const [done, setDone] = useState(false);
  const submit = (e) => { const f = formData(e); action.run(async () => { await post("/api/auth/password-reset/confirm", { token, password: f.password }); setDone(true); }); };
  return html`<${Frame} title="Choose a new password">
    <${ErrorBox} error=${action.error} />
    ${done ? html`<p role="status">Your password is changed and every session was logged out.</p><p><a href="/app/login">Log in</a></p>`
      : html`<form class="stack" onSubmit=${submit}>
        <${Field} label="New password" hint="At least 10 characters."><input name="password" type="password" autocomplete="new-password" required /><//>
        <button type="submit" class="primary" disabled=${action.busy || !token}>Set the password</button></form>
        <p><a href="/app/forgot-password">Ask for a new link</a></p>`}
  <//>`;
}

function Verification() {
  const status = useApi(() => get("/api/auth/email-verification"), []);
  const action = useAction();
  const [sent, setSent] = useState(false);
  if (status.error) return html`<${ErrorBox} error=${status.error} />`;
  if (!status.data) return html`<${Loading} />`;
  return html`<${Card} title="Email address">
    <p>${status.data.email}: ${status.data.email_verified ? "verified" : html`<strong>not verified</strong>. Alert emails are not sent to it until it is.`}</p>
    <${ErrorBox} error=${action.error} />
    ${!status.data.email_verified && (sent ? html`<p role="status">A new link is on its way.</p>`
      : html`<button type="button" disabled=${action.busy} onClick=${() => action.run(async () => { await post("/api/auth/email-verification"); setSent(true); })}>Send a new verification link</button>`)}
  <//>`;
}

function ChangePassword({ onLoggedOut }) {
  const action = useAction();
  const submit = (e) => { const f = formData(e); action.run(async () => { await post("/api/auth/password", f); onLoggedOut("Your password is changed; log in with the new one."); }); };
  return html`<${Card} title="Change password">
    <p class="muted">Every session ends, this one too: you log in again with the new password.</p>
    <${ErrorBox} error=${action.error} />
    <form class="stack" onSubmit=${submit}>
      <${Field} label="Current password"><input name="current_password" type="password" autocomplete="current-password" required /><//>
      <${Field} label="New password" hint="At least 10 characters."><input name="new_password" type="password" autocomplete="new-password" required /><//>
      <button type="submit" class="primary" disabled=${action.busy}>Change password</button>
    </form>
  <//>`;
}

function Sessions({ onLoggedOut }) {
  const list = useApi(() => get("/api/auth/sessions"), []);
  const action = useAction();
  const end = (s) => action.run(async () => {
    await del(`/api/auth/sessions/${s.ref}`);
    if (s.current) onLoggedOut("You logged this session out."); else await list.reload();
  });
  const everywhere = () => confirm("Log out every session, this one too?") && action.run(async () => { await del("/api/auth/sessions"); onLoggedOut("Every session is logged out."); });
  return html`<${Card} title="Sessions">
    <${ErrorBox} error=${action.error || list.error} />
    ${!list.data ? !list.error && html`<${Loading} />` : html`<table class="data">
      <thead><tr><th scope="col">Browser</th><th scope="col">Signed in</th><th scope="col">Last seen</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>${list.data.sessions.map((s) => html`<tr>
        <th scope="row">${s.user_agent || "unknown client"}${s.current ? html` <strong>(this session)</strong>` : ""}</th>
        <td>${when(s.created_at)}</td><td>${when(s.last_seen_at)}</td>
        <td><button type="button" class="danger" disabled=${action.busy} onClick=${() => end(s)}>Log out</button></td></tr>`)}</tbody></table>`}
    <p><button type="button" class="danger" disabled=${action.busy} onClick=${everywhere}>Log out everywhere</button></p>
  <//>`;
}

export function AccountPage({ me, onLoggedOut }) {
  useEffect(() => { document.title = "Account · CostPilot"; }, []);
  const home = me.workspaces[0] ? `/app/workspaces/${me.workspaces[0].workspace_id}` : "/app";
  return html`<main class="page account"><p><a href=${home}>← Back</a></p><h1>Your account</h1>
    <${Verification} /><${ChangePassword} onLoggedOut=${onLoggedOut} /><${Sessions} onLoggedOut=${onLoggedOut} /></main>`;
}
