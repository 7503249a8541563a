"""Stopping a leaked key: which API key drove a spike, and disabling (or deleting) it.

Which key: the providers' usage is synced per API key (OpenAI ``group_by=api_key_id``, Anthropic
``group_by[]=api_key_id``), so the provider-side rollup (provider, model, API key, unit type)
holds a daily series per key: the catalogue estimate of its usage (neither provider bills per key
in its cost report, so the estimate is the per-key figure). A spike's firing names the key whose
day rose most over its usual (the last seven days' mean) as ``driving_key``.

What: Anthropic keys are set ``inactive`` (reversible: enabling sets ``active``); OpenAI project
keys can only be deleted, so that action is permanent and needs the key's id typed back.

How: only the sync worker may open provider keys, so a request (an admin's or an owner's, or an
alert opted in with ``auto_disable_key``) writes an audit item ``pending`` and queues a message on
the sync queue; the worker claims the item under a condition, calls the provider, and records the
outcome. Every step is idempotent: a second delivery of the message finds the item claimed or
finished, and setting a key's status twice leaves it set.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib import config
from chalicelib.adapters import kms_secrets, queues
from chalicelib.domain.alert_messages import Contributor, Notification
from chalicelib.domain.alerts import Kind, Rule, provider_title
from chalicelib.domain.identity import new_id
from chalicelib.domain.money import to_str
from chalicelib.domain.usage import RecordKind
from chalicelib.domain.usage_query import UsageQuery
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.providers import key_admin, registry
from chalicelib.providers.errors import AuthError, BadRequest, MalformedResponse, ProviderError
from chalicelib.store import usage
from chalicelib.store.alerts import AlertRule, Firing, visible_firing
from chalicelib.store.base import is_condition_failure
from chalicelib.store.connections import Connection
from chalicelib.store.identity import Membership
from chalicelib.store.key_actions import KeyAction, action_key

log = logging.getLogger("costpilot.key_actions")

USUAL_DAYS = 7
TOP_N = 3
CLAIM_SECONDS = 300
LIST_LIMIT = 50
AUTOMATIC = "automatic"


# --- which key drove it --------------------------------------------------------------------------


def key_drivers(rule: Rule, day: date) -> tuple[dict[str, list[Contributor]], dict | None]:
    """The API keys whose spend rose most on ``day`` against their usual (``{"api_key": [...]}``
    for the firing's contributors) and the top one as the firing's ``driving_key``. Nothing for
    scopes on pushed tags (project, feature): synced usage carries no tags."""
    if rule.scope.dimension in ("project", "feature"):
        return {}, None
    seen: dict[tuple[str, str], Decimal] = {}
    before: dict[tuple[str, str], Decimal] = {}
    query = UsageQuery(day - timedelta(days=USUAL_DAYS), day, "day", ("provider", "api_key", "model"), {})
    for row_day, key, values in usage.query_rows(rule.workspace_id, query):
        if not key.api_key or key.currency != rule.currency or not _in_scope(rule, key.provider, key.model):
            continue
        amount = values.estimated if key.kind is RecordKind.USAGE else values.billed + values.estimated
        target = seen if row_day == day.isoformat() else before
        target[(key.provider, key.api_key)] = target.get((key.provider, key.api_key), Decimal(0)) + amount
    rises = sorted(((k, v - before.get(k, Decimal(0)) / USUAL_DAYS) for k, v in seen.items()),
                   key=lambda kv: (-kv[1], kv[0]))
    rises = [(k, r) for k, r in rises if r > 0]
    if not rises:
        return {}, None
    contributors = [Contributor(f"{api_key} ({provider_title(provider)})", r.quantize(Decimal("0.01")))
                    for (provider, api_key), r in rises[:TOP_N]]
    (provider, api_key), rise = rises[0]
    driver = {"provider": provider, "api_key_id": api_key, "amount": to_str(rise.quantize(Decimal("0.01"))),
              "project_id": _project_of(rule.workspace_id, provider, api_key, day) if provider == "openai" else None}
    return {"api_key": contributors}, driver


def _in_scope(rule: Rule, provider: str, model: str | None) -> bool:
    if rule.scope.dimension == "provider":
        return provider == rule.scope.value
    if rule.scope.dimension == "model":
        return model == rule.scope.value
    return True


def _project_of(workspace_id: str, provider: str, api_key: str, day: date) -> str | None:
    """The provider project a key's usage was in (OpenAI deletes keys per project)."""
    query = UsageQuery(day, day, "day", ("provider", "api_key", "project"), {})
    best: tuple[Decimal, str] | None = None
    for _, key, values in usage.query_rows(workspace_id, query):
        if key.provider == provider and key.api_key == api_key and key.project:
            candidate = (values.estimated + values.billed, key.project)
            best = max(best, candidate) if best else candidate
    return best[1] if best else None


# --- offering and requesting --------------------------------------------------------------------


def view(a: KeyAction) -> dict:
    return {
        "action_id": a.action_id, "connection_id": a.connection_id, "provider": a.provider, "action": a.action,
        "api_key_id": a.api_key_id, "project_id": a.project_id, "status": a.status, "actor": a.actor,
        "firing_id": a.firing_id, "reason": a.reason, "requested_at": a.requested_at.isoformat(),
        "finished_at": a.finished_at.isoformat() if a.finished_at else None, "key_status": a.key_status,
        "error": a.error, "reversible": key_admin.REVERSIBLE.get(a.provider, False),
    }



def _connection_for(workspace_id: str, provider: str) -> Connection | None:
    """The workspace's one connection of ``provider`` (None if it has none, or several)."""
    found = [c for c in Connection.query(workspace_id) if c.provider == provider]
    return found[0] if len(found) == 1 else None


def offer(m: Membership, firing_id: str) -> dict:
    """What "disable this key" would do for a firing: which key, on which connection, and how."""
    n = Notification.from_json(visible_firing(m.workspace_id, firing_id).message)
    key = n.driving_key
    if not key or key.get("provider") not in key_admin.REVERSIBLE:
        return {"available": False, "message": "This firing names no OpenAI or Anthropic API key."}
    c = _connection_for(m.workspace_id, key["provider"])
    reversible = key_admin.REVERSIBLE[key["provider"]]
    out = {"available": c is not None, "firing_id": firing_id, "provider": key["provider"],
           "api_key_id": key["api_key_id"], "project_id": key.get("project_id"),
           "connection_id": c.connection_id if c else None, "action": "disable" if reversible else "delete",
           "reversible": reversible, "confirm_required": not reversible}
    if c is None:
        out["message"] = f"No single {provider_title(key['provider'])} connection in this workspace holds the key."
    elif reversible:
        out["message"] = "Disables the key now; you can enable it again."
    else:
        out["message"] = ("OpenAI keys cannot be paused: this deletes the key, permanently. "
                          "Type the key's id to confirm.")
    return out


def act_on_firing(m: Membership, firing_id: str, *, confirm: str | None = None) -> dict:
    """"Disable this key" on a firing: the key it names, on the connection that holds it."""
    o = offer(m, firing_id)
    if not o["available"]:
        raise ValidationFailed(o["message"], field="firing_id")
    return request(m, o["connection_id"], o["action"], o["api_key_id"], project_id=o["project_id"],
                   firing_id=firing_id, confirm=confirm, reason=f"{m.email}: disable the key named by {firing_id}")


def request(m: Membership, connection_id: str, action: str, api_key_id: str, *, project_id: str | None = None,
            firing_id: str | None = None, confirm: str | None = None, reason: str = "") -> dict:
    """Records a member's key action and queues it for the sync worker (admins and owners: the route)."""
    c = _get_connection(m.workspace_id, connection_id)
    allowed = key_admin.ACTIONS.get(c.provider)
    if not allowed:
        raise ValidationFailed(f"{provider_title(c.provider)} keys cannot be stopped from here", field="connection_id")
    if action not in allowed:
        hint = ("OpenAI keys cannot be paused, only deleted (action 'delete', permanent)" if c.provider == "openai"
                else f"{provider_title(c.provider)} keys are disabled or enabled")
        raise ValidationFailed(hint, field="action")
    if not key_admin.valid_id(api_key_id):
        raise ValidationFailed("not an API key id", field="api_key_id")
    if c.provider == "openai":
        if not key_admin.valid_id(project_id):
            raise ValidationFailed("OpenAI deletes keys per project: the key's project id is required",
                                   field="project_id")
        if confirm != api_key_id:
            raise ValidationFailed("deleting an OpenAI key is permanent: type the key's id to confirm",
                                   field="confirm")
    if firing_id:
        visible_firing(m.workspace_id, firing_id)
    a = _record(c, action, api_key_id, project_id if c.provider == "openai" else None, actor=m.email,
                actor_user_id=m.user_id, firing_id=firing_id, reason=reason or f"requested by {m.email}",
                action_id=new_id("ka"), requested=datetime.now(UTC))
    return view(a)


def on_firing(rule: AlertRule, firing: Firing) -> str | None:
    """The auto-disable hook, called once a firing is recorded: an opted-in spike alert stops the
    key that drove it. Returns the action id, or None when there is nothing to do. Never raises:
    the notification goes out whatever happens here."""
    try:
        return _auto_disable(rule, firing)
    except Exception:
        log.exception("auto-disable after %s failed", firing.firing_key)
        return None


def _auto_disable(rule: AlertRule, firing: Firing) -> str | None:
    if rule.kind != Kind.SPIKE.value or not rule.config.get("auto_disable_key") or firing.test:
        return None
    key = Notification.from_json(firing.message).driving_key
    if not key or key.get("provider") not in key_admin.REVERSIBLE:
        return None
    if key["provider"] == "openai" and not rule.config.get("auto_delete_openai_key"):
        return None  # deleting is permanent: only with its own explicit opt-in
    c = _connection_for(rule.workspace_id, key["provider"])
    if c is None or not key_admin.valid_id(key.get("api_key_id")):
        log.warning("auto-disable for %s: no single %s connection or no key id", firing.firing_key, key["provider"])
        return None
    if key["provider"] == "openai" and not key_admin.valid_id(key.get("project_id")):
        return None
    action = "disable" if key_admin.REVERSIBLE[key["provider"]] else "delete"
    action_id = "ka_auto_" + hashlib.sha256(f"{rule.workspace_id}#{firing.firing_key}".encode()).hexdigest()[:20]
    a = _record(c, action, key["api_key_id"], key.get("project_id"), actor=AUTOMATIC, actor_user_id=None,
                firing_id=firing.firing_key, reason=f"automatic: alert '{rule.name}' fired ({firing.firing_key})",
                action_id=action_id, requested=firing.fired_at)
    return a.action_id


def _get_connection(workspace_id: str, connection_id: str) -> Connection:
    try:
        return Connection.get(workspace_id, connection_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("connection not found") from None


def _record(c: Connection, action: str, api_key_id: str, project_id: str | None, *, actor: str,
            actor_user_id: str | None, firing_id: str | None, reason: str, action_id: str,
            requested: datetime) -> KeyAction:
    a = KeyAction(c.workspace_id, action_key(c.connection_id, requested.astimezone(UTC).isoformat(), action_id),
                  action_id=action_id, connection_id=c.connection_id, provider=c.provider, action=action,
                  api_key_id=api_key_id, project_id=project_id, actor=actor, actor_user_id=actor_user_id,
                  firing_id=firing_id, reason=reason[:500], requested_at=requested)
    try:
        a.save(condition=KeyAction.action_key.does_not_exist())
    except PutError as e:
        if not is_condition_failure(e):
            raise
        return KeyAction.get(c.workspace_id, a.action_key, consistent_read=True)  # recorded already
    queues.send(queues.SYNC, {"workspace_id": c.workspace_id, "connection_id": c.connection_id,
                              "key_action": a.action_key})
    log.info("key action %s (%s %s) recorded by %s", action_id, action, api_key_id, actor)
    return a


def list_for(m: Membership, connection_id: str) -> dict:
    _get_connection(m.workspace_id, connection_id)
    items = KeyAction.query(m.workspace_id, KeyAction.action_key.startswith(f"{connection_id}#"),
                            scan_index_forward=False, limit=LIST_LIMIT)
    return {"key_actions": [view(a) for a in items]}


# --- running (the sync worker) ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """Shaped like ``sync.SyncOutcome`` so the sync worker logs and retries both alike."""

    status: str  # done | failed | skipped | retry
    detail: str = ""
    days_changed: int = 0
    records: int = 0

    @property
    def retry(self) -> bool:
        return self.status == "retry"


def run(workspace_id: str, key: str, *, now: float | None = None, client_options: dict | None = None) -> Outcome:
    """Claims the recorded action, calls the provider with the connection's key, records the outcome."""
    now = time.time() if now is None else now
    try:
        a = KeyAction.get(workspace_id, key, consistent_read=True)
    except DoesNotExist:
        return Outcome("skipped", "no such key action")
    if a.status in ("done", "failed"):
        return Outcome("skipped", f"already {a.status}")
    try:
        claimable = (KeyAction.status == "pending") | (KeyAction.claim_until < int(now))
        a.update(actions=[KeyAction.status.set("running"), KeyAction.claim_until.set(int(now) + CLAIM_SECONDS)],
                 condition=claimable)
    except UpdateError as e:
        if is_condition_failure(e):
            return Outcome("skipped", "claimed by another worker")
        raise
    try:
        c = Connection.get(workspace_id, a.connection_id, consistent_read=True)
        credentials = kms_secrets.open_secret(c.credentials, workspace_id, c.connection_id, c.provider)
        client = registry.build_client(c.provider, credentials, base_url=config.provider_base_url(c.provider),
                                       **(client_options or {}))
        state = key_admin.perform(client, a.action, a.api_key_id, a.project_id)
    except (DoesNotExist, kms_secrets.SecretUnreadable):
        return _finish(a, "failed", error="the connection or its key is gone")
    except key_admin.KeyNotFound as e:
        return _finish(a, "failed", error=f"{provider_title(a.provider)} has no such key: {e.message}"[:500])
    except AuthError as e:
        return _finish(a, "failed", error=f"{provider_title(a.provider)} refused the admin key (it needs the right "
                                          f"to manage API keys): {e.message}"[:500])
    except (BadRequest, MalformedResponse, ValueError) as e:
        return _finish(a, "failed", error=str(e)[:500])
    except ProviderError as e:  # rate limited, unavailable: let the message retry
        a.update(actions=[KeyAction.status.set("pending"), KeyAction.error.set(str(e)[:500])])
        return Outcome("retry", e.message)
    return _finish(a, "done", key_status=state.status)


def _finish(a: KeyAction, status: str, *, key_status: str | None = None, error: str | None = None) -> Outcome:
    actions = [KeyAction.status.set(status), KeyAction.finished_at.set(datetime.now(UTC))]
    actions.append(KeyAction.key_status.set(key_status) if key_status else KeyAction.key_status.remove())
    actions.append(KeyAction.error.set(error) if error else KeyAction.error.remove())
    a.update(actions=actions)
    log.info("key action %s: %s %s", a.action_id, status, error or key_status)
    return Outcome(status, error or key_status or "")
