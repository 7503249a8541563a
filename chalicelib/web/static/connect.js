// Forms shared by onboarding and the connections page: connect a provider, create an ingest key.
import { html, useState } from "./lib.js";
import { post } from "./api.js";
import { ErrorBox, Field, formData, useAction } from "./ui.js";

export const PROVIDERS = {
  openai: { title: "OpenAI", fields: [["admin_key", "Admin API key", "sk-admin-…"]] },
  anthropic: { title: "Anthropic", fields: [["admin_key", "Admin API key", "sk-ant-admin…"]] },
  twilio: { title: "Twilio", fields: [["account_sid", "Account SID", "AC…"], ["auth_token", "Auth token", ""]] },
  stripe: { title: "Stripe fees", fields: [["api_key", "Restricted key (read balance)", "rk_live_…"]] },
  aws: { title: "AWS", fields: [["access_key_id", "Access key id", "AKIA…"], ["secret_access_key", "Secret access key", ""]] },
};

export function ConnectForm({ ws, onDone }) {
  const [provider, setProvider] = useState("openai");
  const action = useAction();
  const spec = PROVIDERS[provider];
  const submit = (e) => {
    const f = formData(e);
    const credentials = Object.fromEntries(spec.fields.map(([k]) => [k, f[k]]));
    action.run(async () => {
      const c = await post(`/api/workspaces/${ws}/connections`, { provider, label: f.label || `${spec.title}`, credentials });
      await post(`/api/workspaces/${ws}/connections/${c.connection_id}/sync`); // the first sync (90-day backfill) starts now
      onDone(c);
    });
  };
  return html`<form class="stack" onSubmit=${submit}>
    <${Field} label="Provider"><select name="provider" value=${provider} onChange=${(e) => setProvider(e.target.value)}>
      ${Object.entries(PROVIDERS).map(([k, p]) => html`<option value=${k}>${p.title}</option>`)}</select><//>
    <${Field} label="Label"><input name="label" placeholder=${`${spec.title} (production)`} /><//>
    ${spec.fields.map(([k, label, ph]) => html`<${Field} label=${label}><input name=${k} type="password" autocomplete="off" placeholder=${ph} required /><//>`)}
    <p class="muted">The key is checked with one cheap read before it is stored, sealed with KMS, and never shown again.</p>
    <${ErrorBox} error=${action.error} ws=${ws} />
    <button type="submit" class="primary" disabled=${action.busy}>${action.busy ? "Checking the key…" : "Connect"}</button>
  </form>`;
}

export function IngestKeyForm({ ws, onDone }) {
  const action = useAction();
  const [created, setCreated] = useState(null);
  const submit = (e) => {
    const f = formData(e);
    action.run(async () => { const k = await post(`/api/workspaces/${ws}/ingest-keys`, { name: f.name || "backend" }); setCreated(k); if (onDone) onDone(k); });
  };
  if (created) return html`<${KeyShownOnce} k=${created} />`;
  return html`<form class="stack" onSubmit=${submit}>
    <${Field} label="Key name"><input name="name" placeholder="backend" required /><//>
    <${ErrorBox} error=${action.error} ws=${ws} />
    <button type="submit" class="primary" disabled=${action.busy}>Create ingest key</button>
  </form>`;
}

function KeyShownOnce({ k }) {
  const origin = location.origin;
  const key = k.key || k.ingest_key || k.secret;
  const curl = `curl -s -X POST ${origin}/api/webhooks/provider-usage \\
  -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \\
  -d '{"events": [{"id": "req-1", "timestamp": "'"$(date -u +%FT%TZ)"'", "provider": "openai",
       "model": "gpt-4o-mini", "input_tokens": 1200, "output_tokens": 300, "feature": "search"}]}'`;
  const py = `import datetime, httpx
httpx.post("${origin}/api/webhooks/provider-usage",
    headers={"Authorization": "Bearer ${key}"},
    json={"events": [{"id": "req-1", "provider": "openai", "model": "gpt-4o-mini",
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
        "input_tokens": 1200, "output_tokens": 300, "feature": "search"}]})`;
  return html`<div class="stack once">
    <p><strong>Copy these now: they are shown only once.</strong></p>
    <${Field} label="Ingest key"><input readonly value=${key} data-secret="ingest-key" /><//>
    ${k.signing_secret && html`<${Field} label=${`Signing secret (kid ${k.signing_kid})`}><input readonly value=${k.signing_secret} /><//>`}
    <h3>curl</h3><pre tabindex="0">${curl}</pre>
    <h3>Python</h3><pre tabindex="0">${py}</pre>
  </div>`;
}
