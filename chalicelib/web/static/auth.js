// Sign up and log in. The session lives in an HttpOnly cookie; the page never sees the token.
import { html } from "./lib.js";
import { post } from "./api.js";
import { ErrorBox, Field, formData, useAction } from "./ui.js";

export function AuthPage({ mode, onDone }) {
  const action = useAction();
  const signup = mode === "signup";
  const submit = (e) => {
    const f = formData(e);
    action.run(async () => {
      if (signup) await post("/api/auth/signup", { email: f.email, password: f.password, ...(f.workspace_name ? { workspace_name: f.workspace_name } : {}) });
      await post("/api/auth/login", { email: f.email, password: f.password });
      await onDone(signup);
    });
  };
  return html`<main class="auth">
    <h1>CostPilot</h1>
    <p class="muted">What your team spends on OpenAI, Anthropic, Twilio, Stripe and AWS, in one place.</p>
    <form class="card" onSubmit=${submit}>
      <h2>${signup ? "Create your account" : "Log in"}</h2>
      <${ErrorBox} error=${action.error} />
      <${Field} label="Email"><input name="email" type="email" autocomplete="email" required /><//>
      <${Field} label="Password" hint=${signup ? "At least 12 characters." : null}><input name="password" type="password" autocomplete=${signup ? "new-password" : "current-password"} required /><//>
      ${signup && html`<${Field} label="Workspace name (optional)"><input name="workspace_name" placeholder="My workspace" /><//>`}
      <button type="submit" class="primary" disabled=${action.busy}>${action.busy ? "Please wait…" : signup ? "Sign up" : "Log in"}</button>
      <p>${signup ? html`Already have an account? <a href="/app/login">Log in</a>` : html`New here? <a href="/app/signup">Create an account</a>`}</p>
      ${!signup && html`<p><a href="/app/forgot-password">Forgot your password?</a></p>`}
    </form>
  </main>`;
}
