"""Adding, listing and managing provider connections. The key is checked with one cheap read
before it is stored, sealed under KMS, and never returned, logged or put in an error."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.adapters import kms_secrets, queues
from chalicelib.domain.identity import new_id
from chalicelib.domain.plans import Limit
from chalicelib.errors import NotFound, UpstreamRejected, ValidationFailed
from chalicelib.providers import registry
from chalicelib.providers.errors import AuthError, MissingResource, ProviderError
from chalicelib.services import counters, plan_limits
from chalicelib.store.base import cancelled_by_condition
from chalicelib.store.connections import Connection
from chalicelib.store.identity import Membership

log = logging.getLogger("costpilot.connections")


def view(c: Connection) -> dict:
    return {
        "connection_id": c.connection_id,
        "provider": c.provider,
        "label": c.label,
        "status": c.status,
        "key_hint": c.key_hint,
        "sync_interval_minutes": int(c.sync_interval_minutes),
        "created_at": c.created_at.isoformat(),
        "last_sync_at": c.last_sync_at.isoformat() if c.last_sync_at else None,
        "last_success_at": c.last_success_at.isoformat() if c.last_success_at else None,
        "last_error": c.last_error,
        "failing_since": c.failing_since.isoformat() if c.failing_since else None,
        "next_sync_at": (datetime.fromtimestamp(int(c.next_sync_at), UTC).isoformat()
                         if c.next_sync_at and c.status == "active" else None),
        "synced_through": c.synced_through,
    }


def _check_key(provider: str, credentials: dict[str, str]) -> str:
    """Validates fields and makes the provider's cheapest read; returns the key hint."""
    try:
        registry.check_credentials(provider, credentials)
    except registry.UnknownProvider as e:
        raise ValidationFailed(str(e), field="provider") from None
    except registry.InvalidCredentials as e:
        raise ValidationFailed(str(e), field="credentials") from None
    try:
        registry.make_client(provider, credentials).verify()
    except MissingResource as e:
        raise UpstreamRejected(f"{provider}: {e.message}", field="credentials") from None
    except AuthError as e:
        raise UpstreamRejected(f"{provider} rejected the key: {e.message}", field="credentials") from None
    except ProviderError as e:
        raise UpstreamRejected(f"{provider} could not be reached to check the key: {e.message}",
                               field="credentials") from None
    return registry.key_hint(credentials)


def create(m: Membership, provider: str, label: str, credentials: dict[str, str],
           sync_interval_minutes: int | None = None) -> dict:
    plan_limits.check_can_add_connection(m.workspace_id)  # fail fast, before the provider call
    interval = sync_interval_minutes or plan_limits.default_sync_interval(m.workspace_id)
    plan_limits.check_sync_interval(m.workspace_id, interval)
    hint = _check_key(provider, credentials)
    connection_id = new_id("conn")
    c = Connection(
        m.workspace_id, connection_id, provider=provider, label=label, key_hint=hint,
        credentials=kms_secrets.seal(credentials, m.workspace_id, connection_id, provider),
        sync_interval_minutes=interval, next_sync_at=int(time.time()) + interval * 60,
    )
    counters.change(m.workspace_id, Limit.CONNECTIONS, +1,
                    lambda t: t.save(c, condition=Connection.connection_id.does_not_exist()))
    log.info("connection %s added to %s (%s)", connection_id, m.workspace_id, provider)
    request_sync(c, reason="created")
    return view(c)


def list_for(m: Membership) -> list[dict]:
    return [view(c) for c in Connection.query(m.workspace_id)]


def get(workspace_id: str, connection_id: str) -> Connection:
    try:
        return Connection.get(workspace_id, connection_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("connection not found") from None


def update(m: Membership, connection_id: str, *, label: str | None = None, status: str | None = None,
           credentials: dict[str, str] | None = None, sync_interval_minutes: int | None = None) -> dict:
    c = get(m.workspace_id, connection_id)
    actions = []
    if label is not None:
        actions.append(Connection.label.set(label))
    if sync_interval_minutes is not None:
        plan_limits.check_sync_interval(m.workspace_id, sync_interval_minutes)
        actions.append(Connection.sync_interval_minutes.set(sync_interval_minutes))
    if credentials is not None:  # a replaced key clears the error state
        hint = _check_key(c.provider, credentials)
        actions += [
            Connection.credentials.set(kms_secrets.seal(credentials, m.workspace_id, connection_id, c.provider)),
            Connection.key_hint.set(hint), Connection.status.set("active"), Connection.last_error.remove(),
            Connection.failing_since.remove(),
        ]
    if status is not None:
        if status == "active" and c.status == "paused":
            plan_limits.check_can_activate_connection(m.workspace_id)
        if c.status == "error" and status == "active" and credentials is None:
            raise ValidationFailed("this connection's key was rejected; send new credentials to resume",
                                   field="status")
        actions.append(Connection.status.set(status))
    if actions:
        c.update(actions=actions, condition=Connection.connection_id.exists())
    if credentials is not None or status == "active":
        request_sync(c, reason="updated")
    return view(get(m.workspace_id, connection_id))


def delete(m: Membership, connection_id: str) -> None:
    """Removes the connection and its key; the spend it already reported stays in the history."""
    c = get(m.workspace_id, connection_id)
    try:
        counters.change(m.workspace_id, Limit.CONNECTIONS, -1,
                        lambda t: t.delete(c, condition=Connection.connection_id.exists()))
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)):
            raise NotFound("connection not found") from None  # deleted meanwhile
        raise


def request_sync(c: Connection, reason: str) -> None:
    queues.send(queues.SYNC, {"workspace_id": c.workspace_id, "connection_id": c.connection_id, "reason": reason})


def sync_now(m: Membership, connection_id: str) -> dict:
    c = get(m.workspace_id, connection_id)
    if c.status != "active":
        raise ValidationFailed(f"the connection is {c.status}; resume it first", field="status")
    request_sync(c, reason="manual")
    return {"queued": True, "connection": view(c)}
