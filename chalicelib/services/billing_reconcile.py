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

MAX_ATTEMPTS = 5


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
    by the owner). Idempotent, and safe beside itself (a webhook's pass, the hourly pass and an
    owner's choice may run at once): every status change is conditional on the status it replaces,
    and the account is written only if neither the subscription (``version``) nor another pass
    (``reconcile_count``) changed it since it was read. The pass that loses reads it again and
    decides again, counting what it paused itself as the plan's. Without that, a pass that read the
    account before another paused a rule took the pause for a person's, and wrote the plan's list
    back empty: the rule stayed paused where the owner could not choose it.
    """
    now = int(now if now is not None else time.time())
    changes = _Changes()
    for _ in range(MAX_ATTEMPTS):
        account = account_of(workspace_id)
        if account is None:
            return {}  # never had a subscription or a choice: nothing was ever over a limit
        name, _ = effective_plan(account.state(), now)
        if not force and not changes and account.reconciled_plan == name:
            return {}
        plan = plans.get_plan(name)
        actions = [BillingAccount.reconciled_plan.set(name), BillingAccount.reconcile_count.add(1)]
        for kind in PAUSABLES:
            items = kind.items(workspace_id)
            paused_before = set(getattr(account, kind.paused_attr) or []) | changes.paused_by_me(kind.limit)
            keep_ids = getattr(account, kind.keep_attr) or []
            candidates = {
                i: created for i, (created, status) in items.items()
                if status == "active" or (status == "paused" and (i in paused_before or (force and i in keep_ids)))
            }
            allowed = plan.limit(kind.limit)
            choice = plans.choose_active(candidates, allowed, [i for i in keep_ids if i in candidates][:allowed])
            for i in choice.paused:
                if items[i][1] == "active" and kind.set_status(workspace_id, i, "active", "paused"):
                    changes.note(kind.limit, i, "active", "paused")
            for i in choice.active:
                if items[i][1] == "paused" and kind.set_status(workspace_id, i, "paused", "active"):
                    changes.note(kind.limit, i, "paused", "active")
            actions.append(getattr(BillingAccount, kind.paused_attr).set(list(choice.paused)))
        try:
            account.update(actions=actions, condition=_unchanged(BillingAccount.version, account.version)
                           & _unchanged(BillingAccount.reconcile_count, account.reconcile_count))
        except UpdateError as e:
            if not is_condition_failure(e):
                raise
            log.info("billing account of %s changed while reconciling; deciding again", workspace_id)
            continue
        report = changes.report()
        for limit, moved in report.items():
            if moved["paused"] or moved["resumed"]:
                log.info("workspace %s on %s: %s paused %s, resumed %s", workspace_id, name, limit,
                         moved["paused"], moved["resumed"])
        return report
    raise RuntimeError(f"billing account of {workspace_id} kept changing while reconciling; the hourly pass retries")


def _unchanged(attribute, value: int | None):
    """The condition that a counter still holds ``value`` as read (absent reads as 0)."""
    return (attribute == value) if value else (attribute.does_not_exist() | (attribute == 0))


class _Changes:
    """What one ``reconcile`` call changed, over its attempts: net of an item paused in one
    attempt and resumed in the next."""

    def __init__(self) -> None:
        self._moves: dict[tuple[Limit, str], tuple[str, str]] = {}  # (limit, id) -> (first, now)

    def __bool__(self) -> bool:
        return bool(self._moves)

    def note(self, limit: Limit, item_id: str, old: str, new: str) -> None:
        first = self._moves.get((limit, item_id), (old, old))[0]
        self._moves[(limit, item_id)] = (first, new)

    def paused_by_me(self, limit: Limit) -> set[str]:
        return {i for (k, i), (first, now) in self._moves.items() if k is limit and now == "paused" and first != now}

    def report(self) -> dict[str, dict]:
        report = {kind.limit.value: {"paused": [], "resumed": []} for kind in PAUSABLES}
        for (limit, item_id), (first, now) in self._moves.items():
            if first != now:
                report[limit.value]["paused" if now == "paused" else "resumed"].append(item_id)
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
