// After a downgrade: the owner chooses which connections and alert rules stay active under the plan's
// limits (POST .../billing/keep). What is not chosen is paused by the plan, never deleted.
import { html, useEffect, useState } from "./lib.js";
import { get, post } from "./api.js";
import { Card, ErrorBox, Loading, useAction, useApi } from "./ui.js";

const KINDS = [
  { limit: "connections", field: "connection_ids", title: "Connections", list: "connections", id: "connection_id",
    name: (c) => `${c.label || c.provider} (${c.provider})` },
  { limit: "alert_rules", field: "alert_rule_ids", title: "Alert rules", list: "alerts", id: "alert_id",
    name: (a) => `${a.name} (${a.kind})` },
];

// Kinds the plan has paused something of, or whose active items are over the limit.
export function kindsToChoose(billing) {
  return KINDS.filter((k) => (billing.paused_by_plan[k.limit] || []).length || billing.usage[k.limit].over_limit);
}

export function PlanKeep({ ws, billing, owner, onSaved }) {
  const kinds = kindsToChoose(billing);
  const lists = useApi(() => Promise.all(kinds.map((k) => get(`/api/workspaces/${ws}/${k.list}`))), [ws, billing]);
  const action = useAction();
  const [chosen, setChosen] = useState(null);
  // A save refreshes billing (onSaved), which reads the lists again: the choice is what the server
  // has from the moment they arrive, not before (until then the lists are the old ones).
  useEffect(() => setChosen(null), [lists.data]);
  if (!kinds.length) return null;
  if (lists.error) return html`<${ErrorBox} error=${lists.error} ws=${ws} />`;
  if (!lists.data) return html`<${Loading} what="Loading what the plan paused" />`;
  const items = Object.fromEntries(kinds.map((k, i) => [k.limit, lists.data[i][k.list]]));
  const current = chosen || Object.fromEntries(kinds.map((k) => [k.limit, items[k.limit].filter((x) => x.status === "active").map((x) => x[k.id])]));
  const toggle = (k, id, on) => setChosen({ ...current, [k.limit]: on ? [...current[k.limit], id] : current[k.limit].filter((x) => x !== id) });
  const save = (e) => {
    e.preventDefault();
    action.run(async () => {
      await post(`/api/workspaces/${ws}/billing/keep`, Object.fromEntries(kinds.map((k) => [k.field, current[k.limit]])));
      await onSaved();
    });
  };
  return html`<${Card} title="What stays active on the ${billing.plan.title} plan">
    <p class="muted">The plan covers fewer than you have. What is not kept is paused, not deleted: it resumes when you upgrade or keep it instead of another.</p>
    <${ErrorBox} error=${action.error} ws=${ws} />
    <form class="stack" onSubmit=${save}>
      ${kinds.map((k) => {
        const allowed = billing.usage[k.limit].limit;
        const picked = current[k.limit];
        return html`<fieldset><legend>${k.title}: keep up to ${allowed} (${picked.length} chosen)</legend>
          ${items[k.limit].map((x) => {
            const on = picked.includes(x[k.id]);
            return html`<label class="check"><input type="checkbox" checked=${on} disabled=${!owner || (!on && picked.length >= allowed)}
              onChange=${(e) => toggle(k, x[k.id], e.target.checked)} /> ${k.name(x)}${x.status === "paused" ? html` <span class="pill">paused</span>` : ""}</label>`;
          })}</fieldset>`;
      })}
      ${owner ? html`<button type="submit" class="primary" disabled=${action.busy}>Keep these active</button>` : html`<p class="muted">Only owners choose.</p>`}
    </form>
  <//>`;
}
