// The SMS channel of an alert: pick a verified number, or add one (a code is sent by SMS, entered back).
import { html, useState } from "./lib.js";
import { get, post } from "./api.js";
import { ErrorBox, Field, useAction, useApi } from "./ui.js";

export function SmsChannel({ ws, number }) {
  const list = useApi(() => get(`/api/workspaces/${ws}/sms/numbers`), [ws]);
  const [chosen, setChosen] = useState(number || "");
  const [draft, setDraft] = useState("");
  const [pending, setPending] = useState(null); // the number a code was sent to
  const [code, setCode] = useState("");
  const action = useAction();
  const verified = ((list.data && list.data.numbers) || []).filter((n) => n.status === "verified").map((n) => n.number);
  const current = chosen || verified[0] || "";
  const sendCode = () => action.run(async () => { const r = await post(`/api/workspaces/${ws}/sms/numbers`, { number: draft }); setPending(r.number); setCode(""); });
  const check = () => action.run(async () => {
    const r = await post(`/api/workspaces/${ws}/sms/numbers/verify`, { number: pending, code });
    setPending(null); setDraft(""); setChosen(r.number); await list.reload();
  });
  return html`<div class="stack sms-channel">
    <input type="hidden" name="number" value=${current} />
    ${verified.length ? html`<${Field} label="Verified number"><select value=${current} onChange=${(e) => setChosen(e.target.value)}>${verified.map((n) => html`<option value=${n}>${n}</option>`)}</select><//>`
      : html`<p class="muted">Verify a number before the alert can text it.</p>`}
    <div class="row">
      <${Field} label="Add a number (E.164)" hint="+ and the country code, e.g. +14155550123"><input inputmode="tel" autocomplete="tel" value=${draft} onInput=${(e) => setDraft(e.target.value)} placeholder="+14155550123" /><//>
      <button type="button" disabled=${action.busy || !draft} onClick=${sendCode}>Send code</button>
    </div>
    ${pending && html`<div class="row">
      <${Field} label=${`Code sent to ${pending}`} hint="6 digits, valid for 10 minutes"><input inputmode="numeric" autocomplete="one-time-code" maxlength="6" pattern="[0-9]{6}" value=${code} onInput=${(e) => setCode(e.target.value)} /><//>
      <button type="button" disabled=${action.busy || code.length !== 6} onClick=${check}>Verify</button>
    </div>`}
    <${ErrorBox} error=${action.error || list.error} ws=${ws} />
  </div>`;
}
