// Shared pieces: data loading with loading/error states, error boxes (402 names the limit), forms.
import { cloneElement, html, useCallback, useEffect, useState } from "./lib.js";

export function useApi(load, deps) {
  const [state, setState] = useState({ loading: true, error: null, data: null });
  const reload = useCallback(() => {
    setState((s) => ({ ...s, loading: true, error: null }));
    return load().then(
      (data) => setState({ loading: false, error: null, data }),
      (error) => setState({ loading: false, error, data: null }),
    );
  }, deps);
  useEffect(() => { reload(); }, [reload]);
  return { ...state, reload };
}

export function Loading({ what = "Loading" }) {
  return html`<p class="loading" role="status">${what}…</p>`;
}

export function Empty({ children }) {
  return html`<div class="empty">${children}</div>`;
}

export function ErrorBox({ error, ws }) {
  if (!error) return null;
  const d = error.details || {};
  if (error.status === 402) {
    return html`<div class="error" role="alert">
      <strong>Plan limit reached.</strong> ${error.message}
      ${d.limit && html` <span class="limit">Limit: ${d.limit.replace(/_/g, " ")}${d.allowed != null ? ` (${d.current ?? "?"} of ${d.allowed})` : ""} on the ${d.plan} plan.</span>`}
      ${d.upgrade_to && html` The ${d.upgrade_to} plan lifts it: ${ws ? html`<a href=${`/app/workspaces/${ws}/billing`}>upgrade</a>` : "upgrade in Billing"}.`}
    </div>`;
  }
  return html`<div class="error" role="alert">${error.message}</div>`;
}

// Runs an async action and tracks busy/error for a form or a button.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (fn) => {
    setBusy(true); setError(null);
    try { return await fn(); } catch (e) { setError(e); return undefined; } finally { setBusy(false); }
  };
  return { busy, error, run, setError };
}

let fieldIds = 0;
export function Field({ label, hint, children }) {
  const id = `f${++fieldIds}`;
  const child = cloneElement(children, { id });
  return html`<div class="field"><label for=${id}>${label}</label>${child}${hint && html`<small>${hint}</small>`}</div>`;
}

export function formData(e) {
  e.preventDefault();
  return Object.fromEntries(new FormData(e.target).entries());
}

export function when(iso) {
  if (!iso) return "never";
  return iso.replace("T", " ").slice(0, 16) + " UTC";
}

// A firing's title, the same on the banner and in the history: its headline already says what
// happened ("Unusual spend: OpenAI was ..."), so the alert's name goes beside it, not before it.
export function FiringTitle({ f }) {
  return html`<div class="firing-title"><strong>${f.headline}</strong>${f.test ? " (test)" : ""}
    <span class="muted"> · Alert: ${f.alert_name}</span></div>`;
}

export function Card({ title, children, cls = "" }) {
  return html`<section class=${`card ${cls}`}>${title && html`<h2>${title}</h2>`}${children}</section>`;
}
