"""The budget circuit breaker: ``GET /api/budget-status`` for a team's own code.

Written by each alert evaluation (``refresh``: the spent-so-far of every active budget alert, taken
from the evaluation's own spend queries, so it costs no extra usage query), read per call
(``status``) with no usage query at all: the ingest key and the workspace's status item come back
in one BatchGetItem. A key's workspace never changes, so it is remembered per container after the
first call; that first call reads the key alone first (two requests), every later one makes one.

The call authenticates by ingest key (``Authorization: Bearer cpk_live_...``) and does not touch the
key's ``last_used_at`` (that is a write per call; pushes record it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain import budget_status, signatures
from chalicelib.domain.alerts import Kind, window
from chalicelib.errors import Unauthenticated, ValidationFailed
from chalicelib.store import budget_status as store
from chalicelib.store.alerts import AlertRule, rule_of, rules

log = logging.getLogger("costpilot.budget_status")
_WORKSPACE_OF: dict[str, str] = {}  # ingest key id -> its workspace (fixed for the key's life)


class Spend(Protocol):
    """The evaluation's cached spend queries (alert_eval's ``_Spend``)."""

    def total(self, start: date, end: date, scope: Any, currency: str) -> Decimal: ...


def refresh(workspace_id: str, spend: Spend, now: datetime) -> list[dict[str, Any]]:
    """Writes the workspace's budget states as of ``now`` (called at the end of an evaluation)."""
    entries = []
    for r in _budget_rules(workspace_id):
        rule = rule_of(r)
        if not rule.amount or rule.amount <= 0:
            continue
        w = window(rule.period, now.date())
        entries.append(budget_status.entry(
            alert_id=rule.alert_id, scope=rule.scope, period=rule.period, today=now.date(),
            spent=spend.total(w.start, w.end, rule.scope, rule.currency), budget=rule.amount,
            currency=rule.currency, levels=rule.levels))
    micros = int(now.timestamp() * 1_000_000)
    if not store.write(workspace_id, micros, entries):
        log.info("budget status of %s: a later evaluation wrote first", workspace_id)
    return entries


def _budget_rules(workspace_id: str) -> Iterable[AlertRule]:
    return [r for r in rules(workspace_id, active_only=True) if r.kind == Kind.BUDGET.value]


def status(authorization: str | None, scope: str | None, now: datetime | None = None) -> dict[str, Any]:
    """The answer for the caller's workspace and ``scope`` (``provider:openai``, ...)."""
    now = now or datetime.now(UTC)
    try:
        key = budget_status.parse_scope(scope)
    except budget_status.BadScope as e:
        raise ValidationFailed(str(e), field="scope") from None
    bearer = signatures.bearer_token(authorization)
    if not bearer or not signatures.is_ingest_key(bearer):
        raise Unauthenticated("send an ingest key: Authorization: Bearer cpk_live_...")
    key_id = signatures.public_prefix(bearer)
    workspace_id = _WORKSPACE_OF.get(key_id)
    if workspace_id is None:
        facts = _check(store.read_key(key_id), bearer)
        _WORKSPACE_OF[key_id] = facts.workspace_id
        facts, entries = store.read_with_key(key_id, facts.workspace_id)
    else:
        facts, entries = store.read_with_key(key_id, workspace_id)
    facts = _check(facts, bearer)
    if facts.workspace_id != workspace_id and workspace_id is not None:  # cannot happen: keys do not move
        _WORKSPACE_OF.pop(key_id, None)
        raise Unauthenticated("unknown ingest key")
    return budget_status.answer(entries, key, now.date())


def _check(facts: store.KeyFacts | None, bearer: str) -> store.KeyFacts:
    if facts is None or not signatures.verify_ingest_key(bearer, facts.key_hash):
        _WORKSPACE_OF.pop(signatures.public_prefix(bearer), None)
        raise Unauthenticated("unknown ingest key")
    if facts.revoked:
        raise Unauthenticated("this ingest key was revoked")
    return facts
