"""Pausing what a smaller plan does not cover, and resuming it under a bigger one.

A smaller plan never deletes anything: ``reconcile`` pauses the connections and alert rules over
the plan's limit, the owner's choice first (``keep``), then the oldest; a bigger plan resumes what
the plan had paused. It runs after each webhook that changes the plan (``services.billing_events``)
and hourly (``reconcile_all``: the schedule catches plans that change with time alone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.domain import plans
from chalicelib.domain.plans import Limit
from chalicelib.domain.subscription import effective_plan
from chalicelib.errors import ValidationFailed
from chalicelib.services import alerts
from chalicelib.services.billing_overview import overview
from chalicelib.services.plan_limits import current_plan
from chalicelib.store import alerts as alert_store
from chalicelib.store.base import is_condition_failure
from chalicelib.store.billing import PAUSABLE, BillingAccount, account_of
from chalicelib.store.connections import Connection

log = logging.getLogger("costpilot.billing")


@dataclass(frozen=True)
class _Pausable:
    """Something a plan counts that can be paused without losing it."""

    limit: Limit
    items: Callable[[str], dict[str, tuple[Any, str]]]  # id -> (created_at, status)
    set_status: Callable[[str, str, str, str], bool]  # (workspace, id, from, to) -> changed

    @property
    def keep_attr(self) -> str:
        return PAUSABLE[self.limit][0]

    @property
    def paused_attr(self) -> str:
        return PAUSABLE[self.limit][1]


def _connection_items(workspace_id: str) -> dict[str, tuple[Any, str]]:
    return {c.connection_id: (c.created_at, c.status) for c in Connection.query(workspace_id, consistent_read=True)}


def _set_connection_status(workspace_id: str, connection_id: str, old: str, new: str) -> bool:
    try:
        Connection(workspace_id, connection_id).update(actions=[Connection.status.set(new)],
                                                       condition=Connection.status == old)
    except UpdateError as e:
        if is_condition_failure(e):
            return False  # changed meanwhile (deleted, or paused/resumed by a person)
        raise
    return True


def _alert_rule_items(workspace_id: str) -> dict[str, tuple[Any, str]]:
    return {r.alert_id: (r.created_at, r.status) for r in alert_store.rules(workspace_id)}


def _set_alert_rule_status(workspace_id: str, alert_id: str, old: str, new: str) -> bool:
    # the plan's own choice: within its limit by construction, so not enforced again
    return alerts.change_status(workspace_id, alert_id, old, new, enforce=False)


PAUSABLES = (
    _Pausable(Limit.CONNECTIONS, _connection_items, _set_connection_status),
    _Pausable(Limit.ALERT_RULES, _alert_rule_items, _set_alert_rule_status),
)


def keep(workspace_id: str, connection_ids: Iterable[str] | None, alert_rule_ids: Iterable[str] | None) -> dict:
    """The owner's choice of what stays active under the plan; the rest is paused, not deleted.
    A kind not named keeps its previous choice."""
    plan = current_plan(workspace_id)
    chosen = {Limit.CONNECTIONS: connection_ids, Limit.ALERT_RULES: alert_rule_ids}
    actions = []
    for kind in PAUSABLES:
        ids = chosen.get(kind.limit)
        if ids is None:
            continue
        ids = list(dict.fromkeys(ids))
        items = kind.items(workspace_id)
        unknown = [i for i in ids if i not in items]
        if unknown:
            raise ValidationFailed(f"unknown {kind.limit.value.replace('_', ' ')}: {', '.join(unknown)}",
                                   field=kind.keep_attr.removeprefix("keep_"))
        plans.check_limit(plan, kind.limit, 0, len(ids))
        actions.append(getattr(BillingAccount, kind.keep_attr).set(ids))
    if actions:
        BillingAccount(workspace_id).update(actions=actions)
    reconcile(workspace_id, force=True)
    return overview(workspace_id)


def reconcile(workspace_id: str, *, force: bool = False, now: float | None = None) -> dict[str, dict]:
    """Pause what the plan in force does not cover and resume what it paused and now covers.

    Runs only when the plan differs from the one last reconciled, unless ``force``d (a new choice
    by the owner). Idempotent: every status change is conditional on the status it replaces.
    """
    account = account_of(workspace_id)
    if account is None:
        return {}  # never had a subscription or a choice: nothing was ever over a limit
    name, _ = effective_plan(account.state(), int(now if now is not None else time.time()))
    if not force and account.reconciled_plan == name:
        return {}
    plan = plans.get_plan(name)
    report: dict[str, dict] = {}
    actions = [BillingAccount.reconciled_plan.set(name)]
    for kind in PAUSABLES:
        items = kind.items(workspace_id)
        paused_before = set(getattr(account, kind.paused_attr) or [])
        keep_ids = getattr(account, kind.keep_attr) or []
        candidates = {
            i: created for i, (created, status) in items.items()
            if status == "active" or (status == "paused" and (i in paused_before or (force and i in keep_ids)))
        }
        allowed = plan.limit(kind.limit)
        choice = plans.choose_active(candidates, allowed, [i for i in keep_ids if i in candidates][:allowed])
        paused = [i for i in choice.paused if items[i][1] == "active"
                  and kind.set_status(workspace_id, i, "active", "paused")]
        resumed = [i for i in choice.active if items[i][1] == "paused"
                   and kind.set_status(workspace_id, i, "paused", "active")]
        actions.append(getattr(BillingAccount, kind.paused_attr).set(list(choice.paused)))
        report[kind.limit.value] = {"paused": paused, "resumed": resumed}
        if paused or resumed:
            log.info("workspace %s on %s: %s paused %s, resumed %s", workspace_id, name, kind.limit.value,
                     paused, resumed)
    account.update(actions=actions)
    return report


def reconcile_all(now: float | None = None) -> int:
    """The hourly pass: every workspace that ever had a subscription, in case its plan changed with
    time alone (period end after a cancellation, end of a payment grace period)."""
    changed = 0
    for account in BillingAccount.scan(BillingAccount.reconciled_plan.exists() | BillingAccount.status.exists()):
        try:
            changed += bool(reconcile(account.workspace_id, now=now))
        except Exception:  # one workspace's failure must not stop the others
            log.exception("reconciling the plan of %s failed", account.workspace_id)
    return changed
