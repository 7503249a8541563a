"""The subscription plans and their limits: the one table every limit check reads.

A plan's Stripe price id differs per stage, so the table names the stage config key that holds it
(``price_config_key``), never the id itself; ``price_map`` turns the stage's values into the
price id -> plan lookup the webhook handler needs.

Two kinds of limit exist:
- counted limits (connections, active alert rules, members, live ingest keys, events per month): the request is allowed
  while ``current + adding <= allowed``;
- setting limits: ``history_days`` (how far back a query may look; larger is better) and
  ``min_sync_interval_minutes`` (the shortest sync interval; smaller is better).

A downgrade never deletes data: ``choose_active`` decides which items stay active and which are
paused when a workspace holds more than its plan allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.errors import AppError


class Limit(StrEnum):
    CONNECTIONS = "connections"
    ALERT_RULES = "alert_rules"
    MEMBERS = "members"
    INGEST_KEYS = "ingest_keys"
    EVENTS_PER_MONTH = "events_per_month"
    HISTORY_DAYS = "history_days"
    MIN_SYNC_INTERVAL_MINUTES = "min_sync_interval_minutes"

    @property
    def lower_is_better(self) -> bool:
        """True for a floor (the sync interval), False for a ceiling."""
        return self is Limit.MIN_SYNC_INTERVAL_MINUTES

    @property
    def counted(self) -> bool:
        """True for limits on how many of something exist or were used."""
        return self not in (Limit.HISTORY_DAYS, Limit.MIN_SYNC_INTERVAL_MINUTES)


@dataclass(frozen=True, slots=True)
class PlanLimits:
    connections: int
    alert_rules: int
    members: int
    ingest_keys: int  # live (not revoked) keys
    events_per_month: int
    history_days: int
    min_sync_interval_minutes: int


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    title: str
    price_cents_per_month: int
    price_config_key: str | None  # stage config key holding the Stripe price id; None when free
    limits: PlanLimits

    def limit(self, limit: Limit) -> int:
        return getattr(self.limits, Limit(limit).value)

    def allows(self, limit: Limit, value: int) -> bool:
        allowed = self.limit(limit)
        return value >= allowed if Limit(limit).lower_is_better else value <= allowed


FREE = Plan(
    name="free",
    title="Free",
    price_cents_per_month=0,
    price_config_key=None,
    limits=PlanLimits(
        connections=2,
        alert_rules=3,
        members=3,  # an owner, an admin and a member: a team can try roles before paying
        ingest_keys=5,
        events_per_month=10_000,
        history_days=30,
        min_sync_interval_minutes=60,
    ),
)
PRO = Plan(
    name="pro",
    title="Pro",
    price_cents_per_month=900,
    price_config_key="STRIPE_PRICE_PRO",
    limits=PlanLimits(
        connections=10,
        alert_rules=25,
        members=5,
        ingest_keys=25,
        events_per_month=500_000,
        history_days=365,
        min_sync_interval_minutes=15,
    ),
)
TEAM = Plan(
    name="team",
    title="Team",
    price_cents_per_month=2900,
    price_config_key="STRIPE_PRICE_TEAM",
    limits=PlanLimits(
        connections=50,
        alert_rules=200,
        members=25,
        ingest_keys=100,
        events_per_month=5_000_000,
        history_days=730,
        min_sync_interval_minutes=5,
    ),
)

# Cheapest first: the upgrade suggestion walks this order.
PLANS: tuple[Plan, ...] = (FREE, PRO, TEAM)
_BY_NAME: dict[str, Plan] = {plan.name: plan for plan in PLANS}
DEFAULT_PLAN = FREE


class UnknownPlan(ValueError):
    """A plan name that is not in the table."""


class PlanLimitExceeded(AppError):
    """A request would go past the workspace plan's limit. The HTTP layer answers 402 ``plan_limit``.

    ``current`` is the value the request would reach (the count after adding, or the requested
    setting); ``upgrade_to`` names the cheapest plan that allows it, or None if none does.
    """

    code = "plan_limit"

    def __init__(self, limit: Limit, plan: str, current: int, allowed: int, upgrade_to: str | None):
        self.limit = Limit(limit)
        self.plan = plan
        self.current = current
        self.allowed = allowed
        self.upgrade_to = upgrade_to
        super().__init__(self._message(), details={"limit": self.limit.value, "plan": plan, "current": current,
                                                   "allowed": allowed, "upgrade_to": upgrade_to})

    def _message(self) -> str:
        title = get_plan(self.plan).title
        label = self.limit.value.replace("_", " ")
        if self.limit.lower_is_better:
            text = f"The {title} plan allows a {label} of at least {self.allowed}, not {self.current}."
        elif self.limit.counted:
            text = f"The {title} plan allows {self.allowed} {label}; this would make {self.current}."
        else:
            text = f"The {title} plan allows {self.allowed} {label}, not {self.current}."
        if self.upgrade_to:
            text += f" Upgrade to {get_plan(self.upgrade_to).title} to lift this limit."
        return text

    def to_dict(self) -> dict[str, Any]:
        """The body of the 402 answer."""
        return {
            "code": self.code,
            "message": str(self),
            "limit": self.limit.value,
            "plan": self.plan,
            "current": self.current,
            "allowed": self.allowed,
            "upgrade_to": self.upgrade_to,
        }


def get_plan(name: str | Plan) -> Plan:
    if isinstance(name, Plan):
        return name
    try:
        return _BY_NAME[name.lower()]
    except (KeyError, AttributeError):
        raise UnknownPlan(f"unknown plan {name!r}") from None


def cheapest_plan_allowing(limit: Limit, value: int) -> Plan | None:
    """The cheapest plan whose ``limit`` allows ``value``, or None if no plan does."""
    return next((plan for plan in PLANS if plan.allows(limit, value)), None)


def check_value(plan: str | Plan, limit: Limit, value: int) -> None:
    """Raise ``PlanLimitExceeded`` unless ``plan`` allows ``value`` for ``limit``."""
    plan = get_plan(plan)
    if plan.allows(limit, value):
        return
    upgrade = cheapest_plan_allowing(limit, value)
    raise PlanLimitExceeded(
        limit=Limit(limit),
        plan=plan.name,
        current=value,
        allowed=plan.limit(limit),
        upgrade_to=upgrade.name if upgrade else None,
    )


def check_limit(plan: str | Plan, limit: Limit, current_count: int, adding: int = 1) -> None:
    """Raise ``PlanLimitExceeded`` if adding ``adding`` to ``current_count`` passes the limit.

    For the setting limits (``history_days``, ``min_sync_interval_minutes``) ``current_count`` is
    the requested value and ``adding`` is ignored.
    """
    limit = Limit(limit)
    check_value(plan, limit, current_count + adding if limit.counted else current_count)


def price_map(price_ids: Mapping[str, str]) -> dict[str, str]:
    """Stripe price id -> plan name, from the stage config values keyed by ``price_config_key``.

    Paid plans whose key is missing from ``price_ids`` are left out (a stage without Team, say).
    """
    return {
        price_ids[plan.price_config_key]: plan.name
        for plan in PLANS
        if plan.price_config_key and price_ids.get(plan.price_config_key)
    }


def clip_history(plan: str | Plan, from_date: date, today: date) -> tuple[date, bool]:
    """The earliest date the plan lets a query start at, and whether ``from_date`` was moved.

    A window of N days is today and the N-1 days before it.
    """
    earliest = today - timedelta(days=get_plan(plan).limits.history_days - 1)
    if from_date < earliest:
        return earliest, True
    return from_date, False


@dataclass(frozen=True, slots=True)
class ActiveChoice:
    active: tuple[str, ...]
    paused: tuple[str, ...]


class InvalidSelection(ValueError):
    """The owner's choice of items to keep is unknown or more than the plan allows."""


def choose_active(items: Mapping[str, Any], allowed: int, keep_ids: Iterable[str] = ()) -> ActiveChoice:
    """Which items stay active under a limit of ``allowed`` and which are paused.

    ``items`` maps each item id to its creation time (anything sortable). The owner's choice
    (``keep_ids``, in order) comes first; remaining places go to the oldest items, ties by id.
    Nothing is deleted: the caller pauses ``paused`` and resumes ``active``.
    """
    keep = list(dict.fromkeys(keep_ids))
    unknown = [item_id for item_id in keep if item_id not in items]
    if unknown:
        raise InvalidSelection(f"unknown ids: {', '.join(unknown)}")
    if len(keep) > allowed:
        raise InvalidSelection(f"the plan allows {allowed} active; {len(keep)} were chosen")
    rest = sorted((item_id for item_id in items if item_id not in keep), key=lambda i: (items[i], i))
    ordered = keep + rest
    return ActiveChoice(active=tuple(ordered[: max(allowed, 0)]), paused=tuple(ordered[max(allowed, 0) :]))
