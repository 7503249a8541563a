"""Alert rules and the decisions on them: periods in UTC, scopes, thresholds, budget levels, keys.

Pure: no AWS, no clock (``today``/``now`` are passed in). A notification is identified by its
key ``(alert, period, level)``: the evaluator records that key with a conditional write before it
dispatches anything, so the same breach in the same period is never notified twice.

Periods are UTC: a day is a UTC date, a week an ISO week (Monday to Sunday), a month a calendar
month. A rolling window of N days is today and the N-1 days before it; its notifications are keyed
by fixed N-day blocks counted from 1970-01-01, so a rolling alert fires at most once per block of
N days (a breach that lasts keeps quiet until the next block).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.domain.money import CONTEXT, to_str


class Kind(StrEnum):
    THRESHOLD = "threshold"  # spend in the period exceeds an amount
    BUDGET = "budget"  # spend reaches levels (50/80/90/100 %) of a budget
    FORECAST = "forecast"  # the period-end forecast exceeds the budget with a chosen probability
    SPIKE = "spike"  # the spike detector fires on the scope's daily spend
    CONNECTION = "connection"  # a provider key was rejected or sync has failed for a while
    DIGEST = "digest"  # a daily or weekly summary email (one per user who opts in)


RULE_KINDS = (Kind.THRESHOLD, Kind.BUDGET, Kind.FORECAST, Kind.SPIKE, Kind.CONNECTION)
PERIOD_KINDS = ("daily", "weekly", "monthly", "rolling")
SCOPE_DIMENSIONS = ("provider", "model", "project", "feature", "customer")
DEFAULT_LEVELS = (50, 80, 90, 100)
#: A spike alert fires once the spend above expected since the spike began reaches this (in the
#: rule's currency): a series spent in a few requests an hour spikes on noise worth cents.
DEFAULT_MIN_EXCESS = Decimal(1)
MAX_ROLLING_DAYS = 90
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Period:
    kind: str = "monthly"  # daily | weekly | monthly | rolling
    days: int = 0  # rolling only

    def __post_init__(self) -> None:
        if self.kind not in PERIOD_KINDS:
            raise ValueError(f"unknown period {self.kind!r}")
        if self.kind == "rolling" and not 1 <= self.days <= MAX_ROLLING_DAYS:
            raise ValueError(f"a rolling period needs 1 to {MAX_ROLLING_DAYS} days")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "days": self.days} if self.kind == "rolling" else {"kind": self.kind}


@dataclass(frozen=True)
class Window:
    """The period containing ``today``: ``start..end`` inclusive, UTC dates."""

    start: date
    end: date
    key: str
    label: str
    today: date

    @property
    def days_left(self) -> int:
        """Whole days after today still in the period (0 on its last day)."""
        return max((self.end - self.today).days, 0)

    @property
    def rolling(self) -> bool:
        return self.key.startswith("r")


def _fmt(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b %Y}"


def share_of_today_left(now: datetime) -> float:
    """The share of the UTC day of ``now`` still to come, in (0, 1]: 1.0 at midnight, about 0 just
    before the next. A projection that counts today's spend so far adds only this much of today's
    forecast (``forecast.period_end_projection``'s ``today_left``)."""
    t = now.astimezone(UTC)
    elapsed = t - t.replace(hour=0, minute=0, second=0, microsecond=0)
    return 1.0 - elapsed.total_seconds() / 86_400


def window(period: Period, today: date) -> Window:
    if period.kind == "daily":
        return Window(today, today, f"d{today.isoformat()}", f"today ({_fmt(today)}, UTC)", today)
    if period.kind == "weekly":
        start = today - timedelta(days=today.weekday())
        end = start + timedelta(days=6)
        year, week, _ = today.isocalendar()
        return Window(start, end, f"w{year}-W{week:02d}", f"this week ({_fmt(start)} to {_fmt(end)}, UTC)", today)
    if period.kind == "monthly":
        start = today.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return Window(start, end, f"m{today:%Y-%m}", f"this month ({today:%B %Y}, UTC)", today)
    n = period.days
    block = (today - _EPOCH).days // n
    start = today - timedelta(days=n - 1)
    label = f"the last {n} days ({_fmt(start)} to {_fmt(today)}, UTC)" if n > 1 else f"today ({_fmt(today)}, UTC)"
    return Window(start, today, f"r{n}-{block}", label, today)


@dataclass(frozen=True)
class Scope:
    """What spend a rule watches: everything, or one provider, model, project tag or feature."""

    dimension: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:
        if (self.dimension is None) != (self.value is None):
            raise ValueError("a scope names both a dimension and a value, or neither")
        if self.dimension is not None and self.dimension not in SCOPE_DIMENSIONS:
            raise ValueError(f"cannot scope by {self.dimension!r}")

    def filters(self) -> dict[str, frozenset[str]]:
        return {self.dimension: frozenset({self.value})} if self.dimension and self.value else {}

    @property
    def label(self) -> str:
        if not self.dimension:
            return "All spend"
        if self.dimension == "provider":
            return f"{provider_title(self.value or '')} spend"
        return f"Spend on {self.dimension} {self.value}"

    def to_dict(self) -> dict:
        return {"dimension": self.dimension, "value": self.value} if self.dimension else {}


_PROVIDER_TITLES = {"openai": "OpenAI", "anthropic": "Anthropic", "twilio": "Twilio", "stripe": "Stripe", "aws": "AWS",
                    "gcp": "Google Cloud"}


def provider_title(provider: str) -> str:
    return _PROVIDER_TITLES.get(provider, provider)


@dataclass(frozen=True)
class Rule:
    """An alert rule as the evaluator sees it (the stored JSON ``config`` plus identity)."""

    workspace_id: str
    alert_id: str
    name: str
    kind: Kind
    period: Period = field(default_factory=Period)
    scope: Scope = field(default_factory=Scope)
    amount: Decimal | None = None  # threshold, budget, forecast (the budget)
    levels: tuple[int, ...] = DEFAULT_LEVELS  # budget only
    probability: float = 0.8  # forecast: notify when P(period total > budget) >= this
    sensitivity: float = 0.5  # spike: score threshold of the detector, in (0, 1)
    min_excess: Decimal = DEFAULT_MIN_EXCESS  # spike: fires once its spend above expected since it began is this
    connection_id: str | None = None  # connection: None watches every connection
    failing_minutes: int = 60  # connection: how long sync must have failed
    currency: str = "USD"
    frequency: str = "weekly"  # digest: daily | weekly
    auto_disable_key: bool = False  # spike: stop the key that drove it (reversible keys: Anthropic)
    auto_delete_openai_key: bool = False  # spike: also delete an OpenAI key (permanent), if auto_disable_key

    @staticmethod
    def from_config(workspace_id: str, alert_id: str, name: str, kind: str, config: Mapping[str, Any]) -> Rule:
        scope = config.get("scope") or {}
        amount = config.get("amount")
        return Rule(
            workspace_id, alert_id, name, Kind(kind),
            period=Period(**(config.get("period") or {"kind": "monthly"})),
            scope=Scope(scope.get("dimension"), scope.get("value")),
            amount=Decimal(str(amount)) if amount is not None else None,
            levels=tuple(sorted(set(config.get("levels") or DEFAULT_LEVELS))),
            probability=float(config.get("probability", 0.8)),
            sensitivity=float(config.get("sensitivity", 0.5)),
            min_excess=Decimal(str(config.get("min_excess", DEFAULT_MIN_EXCESS))),
            connection_id=config.get("connection_id"),
            failing_minutes=int(config.get("failing_minutes", 60)),
            currency=config.get("currency", "USD"),
            frequency=config.get("frequency", "weekly"),
            auto_disable_key=bool(config.get("auto_disable_key", False)),
            auto_delete_openai_key=bool(config.get("auto_delete_openai_key", False)),
        )

    def config(self) -> dict[str, Any]:
        """The JSON stored on the rule (only the fields its kind uses)."""
        out: dict[str, Any] = {"currency": self.currency}
        if self.kind in (Kind.THRESHOLD, Kind.BUDGET, Kind.FORECAST, Kind.SPIKE):
            out["scope"] = self.scope.to_dict()
        if self.kind in (Kind.THRESHOLD, Kind.BUDGET, Kind.FORECAST):
            out["period"] = self.period.to_dict()
            out["amount"] = to_str(self.amount) if self.amount is not None else None
        if self.kind is Kind.BUDGET:
            out["levels"] = list(self.levels)
        if self.kind is Kind.FORECAST:
            out["probability"] = self.probability
        if self.kind is Kind.SPIKE:
            out["sensitivity"] = self.sensitivity
            out["min_excess"] = to_str(self.min_excess)
            out["auto_disable_key"] = self.auto_disable_key
            out["auto_delete_openai_key"] = self.auto_delete_openai_key
        if self.kind is Kind.CONNECTION:
            out["connection_id"] = self.connection_id
            out["failing_minutes"] = self.failing_minutes
        if self.kind is Kind.DIGEST:
            out["frequency"] = self.frequency
        return out


def validate(rule: Rule) -> None:
    """Raises ValueError (with the offending field first) for a rule that cannot be evaluated."""
    needs_amount = rule.kind in (Kind.THRESHOLD, Kind.BUDGET, Kind.FORECAST)
    if needs_amount and (rule.amount is None or rule.amount <= 0):
        raise ValueError("amount: must be a positive amount")
    bad_levels = not rule.levels or any(not 1 <= level <= 1000 for level in rule.levels)
    if rule.kind is Kind.BUDGET and bad_levels:
        raise ValueError("levels: each level is a percentage from 1 to 1000")
    if rule.kind is Kind.FORECAST:
        if rule.period.kind == "rolling":
            raise ValueError("period: a forecast overrun needs a daily, weekly or monthly period")
        if not 0 < rule.probability < 1:
            raise ValueError("probability: must be between 0 and 1")
    if rule.kind is Kind.SPIKE and not 0 < rule.sensitivity < 1:
        raise ValueError("sensitivity: must be between 0 and 1")
    if rule.kind is Kind.SPIKE and rule.min_excess < 0:
        raise ValueError("min_excess: must be zero or more")
    if rule.kind is Kind.CONNECTION and not 5 <= rule.failing_minutes <= 7 * 24 * 60:
        raise ValueError("failing_minutes: from 5 minutes to 7 days")
    if rule.kind is Kind.DIGEST and rule.frequency not in ("daily", "weekly"):
        raise ValueError("frequency: daily or weekly")


# --- decisions ---------------------------------------------------------------------------------


def exceeds(spent: Decimal, amount: Decimal) -> bool:
    """Threshold rule: "notify me if spend exceeds $50" fires strictly above the amount."""
    return spent > amount


def percent_of(spent: Decimal, budget: Decimal) -> Decimal:
    return CONTEXT.divide(CONTEXT.multiply(spent, Decimal(100)), budget).quantize(Decimal("0.1"))


def levels_reached(spent: Decimal, budget: Decimal, levels: Iterable[int]) -> tuple[int, ...]:
    """Budget levels (percent) that spend has reached, ascending. Exact: 80 % of $50 is $40.00."""
    return tuple(sorted(level for level in set(levels) if spent * 100 >= budget * level))


def new_levels(reached: Iterable[int], already_notified: Iterable[int]) -> tuple[int, ...]:
    """Levels to notify now. Several crossed at once make one notification (of the highest)."""
    done = set(already_notified)
    return tuple(sorted(level for level in reached if level not in done))


def forecast_overrun(probability_over: float | None, wanted: float) -> bool:
    return probability_over is not None and probability_over >= wanted


def failing_long_enough(failing_since_epoch: float | None, status: str, now_epoch: float, minutes: int) -> bool:
    """A rejected key (status ``error``) alerts at once; other failures after ``minutes``."""
    if status == "error":
        return True
    return failing_since_epoch is not None and now_epoch - failing_since_epoch >= minutes * 60


def firing_key(alert_id: str, period_key: str, level: str | int) -> str:
    """The business key of one notification: at most one firing exists per key."""
    return f"{alert_id}:{period_key}:{level}"


def digest_window(frequency: str, today: date) -> tuple[date, date, str]:
    """The period a digest sent today covers: yesterday (daily) or last ISO week (weekly)."""
    if frequency == "daily":
        day = today - timedelta(days=1)
        return day, day, f"d{day.isoformat()}"
    end = today - timedelta(days=today.weekday() + 1)
    start = end - timedelta(days=6)
    year, week, _ = start.isocalendar()
    return start, end, f"w{year}-W{week:02d}"
