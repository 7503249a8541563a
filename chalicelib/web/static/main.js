// The shell: who is logged in, the workspace switcher, navigation, and the page for the URL.
import { html, render, useEffect, useState } from "./lib.js";
import { get, post, prefetch, setUnauthenticatedHandler } from "./api.js";
import { match, interceptLinks, navigate, useLocation } from "./router.js";
import { AuthPage } from "./auth.js";
import { Overview, summaryPath } from "./overview.js";
import { ErrorBox, Loading } from "./ui.js";
import { AccountPage, ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage } from "./account.js";
import { InvitationPage } from "./invitations.js";

// Pages reached from links in emails: shown whether or not someone is logged in.
const LINK_PAGES = { "/app/verify-email": VerifyEmailPage, "/app/forgot-password": ForgotPasswordPage,
  "/app/reset-password": ResetPasswordPage, "/app/invitation": InvitationPage };

// Pages other than the first screen load when first opened, so the first screen stays light.
function lazy(load, what) {
  let Page = null;
  let loading = null;
  return function LazyPage(props) {
    const [, setLoaded] = useState(false);
    const [error, setError] = useState(null);
    useEffect(() => {
      if (Page) return undefined;
      let live = true;
      loading = loading || load().then((c) => { Page = c; });
      loading.then(() => live && setLoaded(true), (e) => { loading = null; if (live) setError(e); });
      return () => { live = false; };
    }, []);
    if (error) return html`<${ErrorBox} error=${{ message: `This page could not be loaded (${error.message}). Reload to try again.` }} />`;
    return Page ? html`<${Page} ...${props} />` : html`<${Loading} what=${`Loading ${what}`} />`;
  };
}

const Onboarding = lazy(() => import("./onboarding.js").then((m) => m.Onboarding), "get started");
const Costs = lazy(() => import("./costs.js").then((m) => m.Costs), "costs");
const Forecast = lazy(() => import("./forecast.js").then((m) => m.Forecast), "the forecast");
const Insights = lazy(() => import("./insights.js").then((m) => m.Insights), "insights");
const Alerts = lazy(() => import("./alerts.js").then((m) => m.Alerts), "alerts");
const Connections = lazy(() => import("./connections.js").then((m) => m.Connections), "connections");
const Members = lazy(() => import("./members.js").then((m) => m.Members), "members");
const Billing = lazy(() => import("./billing.js").then((m) => m.Billing), "billing");
const NewWorkspace = lazy(() => import("./workspace_settings.js").then((m) => m.NewWorkspace), "the new workspace form");

const PAGES = [
  ["", "Overview", Overview], ["costs", "Costs", Costs], ["forecast", "Forecast", Forecast], ["insights", "Insights", Insights],
  ["alerts", "Alerts", Alerts],
  ["connections", "Connections", Connections], ["members", "Members", Members], ["billing", "Billing", Billing],
];

function Shell({ me, ws, section, query, onLogout, reloadMe }) {
  const current = me.workspaces.find((w) => w.workspace_id === ws);
  const page = section === "onboarding" ? ["onboarding", "Get started", Onboarding] : PAGES.find((p) => p[0] === section.split("/")[0]);
  const Page = page ? page[2] : null;
  useEffect(() => { document.title = `${page ? page[1] : "Not found"} · ${current ? current.name : ""} · CostPilot`; }, [section, ws]);
  if (!current) return html`<main class="page"><div class="error" role="alert">You are not a member of this workspace.</div><a href="/app">Your workspaces</a></main>`;
  return html`<div class="shell">
    <header class="top">
      <a class="brand" href=${`/app/workspaces/${ws}`}>CostPilot</a>
      <label class="switch"><span class="sr">Workspace</span>
        <select value=${ws} onChange=${(e) => navigate(e.target.value === "+new" ? "/app/new-workspace" : `/app/workspaces/${e.target.value}`)}>
          ${me.workspaces.map((w) => html`<option value=${w.workspace_id}>${w.name}</option>`)}
          <option value="+new">+ New workspace…</option>
        </select></label>
      <span class="who muted">${me.email} · ${current.role}</span>
      <a href="/app/account">Account</a>
      <button type="button" class="link" onClick=${onLogout}>Log out</button>
    </header>
    <nav class="tabs" aria-label="Sections">
      ${PAGES.map(([key, label]) => html`<a href=${`/app/workspaces/${ws}${key ? `/${key}` : ""}`} aria-current=${(section.split("/")[0] || "") === key ? "page" : null}>${label}</a>`)}
    </nav>
    <main class="page" id="main">
      ${Page ? html`<${Page} ws=${ws} role=${current.role} me=${me} section=${section} query=${query} onWorkspacesChanged=${reloadMe} />` : html`<p>Page not found. <a href=${`/app/workspaces/${ws}`}>Overview</a></p>`}
    </main>
  </div>`;
}

function App() {
  const { path, query } = useLocation();
  const [me, setMe] = useState(undefined);
  const [error, setError] = useState(null);
  // No cp_csrf cookie means no session: show the login without a call that would answer 401.
  const loadMe = () => (!document.cookie.includes("cp_csrf=") ? Promise.resolve(null)
    : get("/api/me", { quiet401: true })).then((m) => { setMe(m); return m; }, (e) => { setMe(null); if (e.status !== 401) setError(e); return null; });
  useEffect(() => { setUnauthenticatedHandler(() => setMe(null)); loadMe(); }, []);

  if (me === undefined) return html`<${Loading} what="Loading CostPilot" />`;
  if (error) return html`<main class="page"><${ErrorBox} error=${error} /></main>`;
  const LinkPage = LINK_PAGES[path];
  if (LinkPage) return html`<${LinkPage} me=${me} />`;
  const signup = path === "/app/signup";
  if (!me) {
    return html`<${AuthPage} mode=${signup ? "signup" : "login"} onDone=${async (isNew) => {
      const m = await get("/api/me");
      const ws = m.workspaces[0] && m.workspaces[0].workspace_id;
      const next = query.get("next");
      // navigate before showing the shell, so it never renders the login URL with a session
      navigate(next && next.startsWith("/app/") ? next : ws ? `/app/workspaces/${ws}${isNew ? "/onboarding" : ""}` : "/app", { replace: true });
      setMe(m);
    }} />`;
  }
  const onLogout = async () => { try { await post("/api/auth/logout"); } finally { setMe(null); navigate("/app/login"); } };
  if (path === "/app/account") return html`<${AccountPage} me=${me} onLoggedOut=${() => { setMe(null); navigate("/app/login"); }} />`;
  if (path === "/app/new-workspace" || (path === "/app" && !me.workspaces.length)) {
    return html`<main class="page">${!me.workspaces.length && html`<p>You have no workspace yet.</p>`}
      <${NewWorkspace} onCreated=${loadMe} />
      <p>${me.workspaces.length ? html`<a href="/app">Back to your workspaces</a>` : html`<button type="button" onClick=${onLogout}>Log out</button>`}</p></main>`;
  }
  // Stripe returns to /?workspace=...&checkout=...
  if (path === "/" && query.get("workspace")) {
    queueMicrotask(() => navigate(`/app/workspaces/${query.get("workspace")}/billing${query.get("checkout") ? `?checkout=${query.get("checkout")}` : ""}`, { replace: true }));
    return html`<${Loading} />`;
  }
  const m = match("/app/workspaces/:ws", path) || match("/app/workspaces/:ws/:section", path)
    || match("/app/workspaces/:ws/:section/:item", path);
  if (!m) {
    const first = me.workspaces[0];
    if (first) { queueMicrotask(() => navigate(`/app/workspaces/${first.workspace_id}`, { replace: true })); return html`<${Loading} />`; }
    queueMicrotask(() => navigate("/app", { replace: true }));
    return html`<${Loading} />`;
  }
  const section = [m.section, m.item].filter(Boolean).join("/");
  return html`<${Shell} me=${me} ws=${m.ws} section=${section} query=${query} onLogout=${onLogout} reloadMe=${loadMe} />`;
}

// The overview's data is asked for alongside /api/me rather than after it: its URL names the workspace.
const first = match("/app/workspaces/:ws", location.pathname);
if (first && document.cookie.includes("cp_csrf=")) prefetch(summaryPath(first.ws));
interceptLinks();
render(html`<${App} />`, document.getElementById("root"));
