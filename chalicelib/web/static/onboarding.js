// First run: connect a provider or create an ingest key, then a first alert.
import { html, useState } from "./lib.js";
import { ConnectForm, IngestKeyForm } from "./connect.js";
import { AlertForm } from "./alert_form.js";
import { Card } from "./ui.js";

export function Onboarding({ ws, me }) {
  const [step, setStep] = useState(1);
  const [how, setHow] = useState("connect");
  const [done, setDone] = useState(null);
  return html`<div class="onboarding">
    <h1>Get started</h1>
    <ol class="steps"><li aria-current=${step === 1 ? "step" : null}>Bring in spend</li><li aria-current=${step === 2 ? "step" : null}>Create a first alert</li></ol>
    ${step === 1 && html`<${Card}>
      <div class="choice" role="radiogroup" aria-label="How spend comes in">
        <label><input type="radio" name="how" checked=${how === "connect"} onChange=${() => setHow("connect")} /> Connect a provider account</label>
        <label><input type="radio" name="how" checked=${how === "push"} onChange=${() => setHow("push")} /> Push usage from my code</label>
      </div>
      ${how === "connect" ? html`<${ConnectForm} ws=${ws} onDone=${(c) => { setDone(`Connected ${c.label}. The first sync backfills 90 days.`); setStep(2); }} />`
        : html`<${IngestKeyForm} ws=${ws} onDone=${() => setDone("Ingest key created.")} />`}
      ${how === "push" && done && html`<button type="button" class="primary" onClick=${() => setStep(2)}>Next: create an alert</button>`}
    <//>`}
    ${step === 2 && html`<${Card} title="Create a first alert">
      ${done && html`<p class="ok" role="status">${done}</p>`}
      <${AlertForm} ws=${ws} me=${me} onDone=${() => setStep(3)} />
    <//>`}
    ${step === 3 && html`<${Card} title="You are set"><p role="status">Your alert is watching spend.</p>
      <a class="button primary" href=${`/app/workspaces/${ws}`}>See spend</a> <a href=${`/app/workspaces/${ws}/alerts`}>Alerts</a><//>`}
  </div>`;
}
