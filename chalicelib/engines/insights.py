"""Explainable spend insights: small rules a person can check by hand.

Why rules and not a model: an insight asks a team to act (switch a model, look at a project), so
each must say what it saw, with the figures, in a sentence. Each rule is a pure function over
usage rows (one row per day x provider x model x tags, as the rollups hold them) and returns
:class:`Insight` values. Money is ``Decimal`` in and out (float input is accepted and converted
through ``str``); token prices come from a pluggable ``price_per_million(provider, model)``
function so the catalogue stays elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

#: ``price_per_million(provider, model) -> (input price, output price)`` in dollars per million
#: tokens, or None when the model is not in the catalogue.
PriceFn = Callable[[str, str], "tuple[Decimal, Decimal] | None"]

SEVERITIES = ("info", "warning", "critical")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class UsageRow:
    """Spend of one day for one provider/model and tag combination."""

    day: date
    provider: str
    cost: Decimal | float
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    project: str | None = None
    feature: str | None = None


@dataclass(frozen=True)
class Insight:
    kind: str
    title: str
    message: str
    severity: str
    figures: dict[str, Any] = field(default_factory=dict)


def money(x: Decimal | float) -> Decimal:
    """Exact Decimal from a Decimal, int or float (floats go through their shortest repr)."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


def _cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def _totals(
    rows: Iterable[UsageRow], key: Callable[[UsageRow], str | None]
) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        k = key(r)
        if k is not None:
            out[k] += money(r.cost)
    return dict(out)


def _days(rows: list[UsageRow]) -> int:
    days = {r.day for r in rows}
    return (max(days) - min(days)).days + 1 if days else 0


def cost_concentration(
    rows: list[UsageRow],
    share: Decimal = Decimal("0.8"),
    min_total: Decimal = Decimal(10),
) -> list[Insight]:
    """One provider, or one model, takes more than ``share`` of spend (a single point of failure
    for the budget, and a price change there moves everything). Quiet under ``min_total``."""
    total = sum((money(r.cost) for r in rows), Decimal(0))
    if total < min_total or total <= 0:
        return []
    out = []
    for dim, key in (("provider", lambda r: r.provider), ("model", lambda r: r.model)):
        for name, cost in _totals(rows, key).items():
            frac = cost / total
            if frac > share:
                pct = int((frac * 100).to_integral_value(rounding=ROUND_HALF_UP))
                out.append(
                    Insight(
                        "cost_concentration",
                        f"{pct}% of spend on one {dim}",
                        f"{name} accounts for {pct}% of spend (${_cents(cost)} of ${_cents(total)}).",
                        "info",
                        {
                            "dimension": dim,
                            "name": name,
                            "cost": _cents(cost),
                            "total": _cents(total),
                            "share": float(frac),
                        },
                    )
                )
    return out


def fast_growth(
    current: list[UsageRow],
    previous: list[UsageRow],
    min_ratio: Decimal = Decimal("1.5"),
    min_increase: Decimal = Decimal(20),
) -> list[Insight]:
    """Total and per-provider spend grew by ``min_ratio`` or more against the previous period
    (and by at least ``min_increase`` dollars, so $1 -> $2 stays quiet). Periods should be of
    equal length; the comparison is of totals."""
    out = []
    groups = [
        ("total", _totals(current, lambda r: "all"), _totals(previous, lambda r: "all"))
    ]
    groups.append(
        (
            "provider",
            _totals(current, lambda r: r.provider),
            _totals(previous, lambda r: r.provider),
        )
    )
    for dim, now, before in groups:
        for name, cost in now.items():
            prior = before.get(name, Decimal(0))
            if prior <= 0 or cost - prior < min_increase or cost < prior * min_ratio:
                continue
            ratio = cost / prior
            severity = "critical" if ratio >= 3 else "warning"
            label = "Total spend" if dim == "total" else f"{name} spend"
            out.append(
                Insight(
                    "fast_growth",
                    f"{label} up {int(((ratio - 1) * 100).to_integral_value())}%",
                    f"{label} was ${_cents(cost)} this period against ${_cents(prior)} the period before "
                    f"({ratio:.1f}x).",
                    severity,
                    {
                        "dimension": dim,
                        "name": name,
                        "current": _cents(cost),
                        "previous": _cents(prior),
                        "ratio": float(ratio),
                    },
                )
            )
    return out


@dataclass(frozen=True)
class _ModelUse:
    provider: str
    model: str
    cost: Decimal
    input_tokens: int
    output_tokens: int
    requests: int

    def shape(self) -> tuple[float, float] | None:
        """Average (input, output) tokens per request, or None without request counts."""
        if self.requests <= 0:
            return None
        return self.input_tokens / self.requests, self.output_tokens / self.requests


def _model_use(rows: list[UsageRow]) -> list[_ModelUse]:
    acc: dict[tuple[str, str], list] = {}
    for r in rows:
        if r.model is None:
            continue
        a = acc.setdefault((r.provider, r.model), [Decimal(0), 0, 0, 0])
        a[0] += money(r.cost)
        a[1] += r.input_tokens
        a[2] += r.output_tokens
        a[3] += r.requests
    return [_ModelUse(p, m, *v) for (p, m), v in acc.items()]


def _similar(a: tuple[float, float], b: tuple[float, float], factor: float) -> bool:
    return all(max(x, y) <= factor * max(min(x, y), 1.0) for x, y in zip(a, b, strict=True))


def cheaper_model(
    rows: list[UsageRow],
    price_per_million: PriceFn,
    min_saving: Decimal = Decimal(5),
    shape_factor: float = 2.0,
) -> list[Insight]:
    """An expensive model does work of the same token shape (average input and output tokens per
    request within ``shape_factor``) as a cheaper model of the same provider that the team
    already uses. Figures: monthly saving if the expensive model's tokens were priced at the
    cheaper one (scaled to 30 days from the days the rows cover)."""
    days = _days(rows)
    if days == 0:
        return []
    uses = _model_use(rows)
    out = []
    for exp in uses:
        exp_price = price_per_million(exp.provider, exp.model)
        exp_shape = exp.shape()
        if (
            exp_price is None
            or exp_shape is None
            or exp.input_tokens + exp.output_tokens == 0
        ):
            continue
        best: tuple[Decimal, _ModelUse] | None = None
        for cheap in uses:
            if cheap.provider != exp.provider or cheap.model == exp.model:
                continue
            cheap_price = price_per_million(cheap.provider, cheap.model)
            cheap_shape = cheap.shape()
            if (
                cheap_price is None
                or cheap_shape is None
                or not _similar(exp_shape, cheap_shape, shape_factor)
            ):
                continue
            now = (
                exp.input_tokens * money(exp_price[0])
                + exp.output_tokens * money(exp_price[1])
            ) / 10**6
            then = (
                exp.input_tokens * money(cheap_price[0])
                + exp.output_tokens * money(cheap_price[1])
            ) / 10**6
            saving = (now - then) * 30 / days
            if saving > 0 and (best is None or saving > best[0]):
                best = (saving, cheap)
        if best is None or best[0] < min_saving:
            continue
        saving, cheap = best
        out.append(
            Insight(
                "cheaper_model",
                f"{exp.model} could be {cheap.model}",
                f"{exp.model} handles requests of about {exp_shape[0]:.0f} input / {exp_shape[1]:.0f} output tokens, "
                f"the same shape that {cheap.model} already serves; moving them would save about "
                f"${_cents(saving)} a month.",
                "warning" if saving >= 100 else "info",
                {
                    "provider": exp.provider,
                    "model": exp.model,
                    "cheaper_model": cheap.model,
                    "monthly_saving": _cents(saving),
                    "avg_input_tokens": round(exp_shape[0]),
                    "avg_output_tokens": round(exp_shape[1]),
                },
            )
        )
    return out


def new_costly_tag(
    current: list[UsageRow],
    previous: list[UsageRow],
    min_cost: Decimal = Decimal(20),
    min_share: Decimal = Decimal("0.1"),
) -> list[Insight]:
    """A project or feature tag with no spend in the previous period now costs at least
    ``min_cost`` and ``min_share`` of the period's spend (a launch worth knowing about)."""
    total = sum((money(r.cost) for r in current), Decimal(0))
    if total <= 0:
        return []
    out = []
    for dim, key in (
        ("project", lambda r: r.project),
        ("feature", lambda r: r.feature),
    ):
        before = _totals(previous, key)
        for name, cost in _totals(current, key).items():
            if (
                before.get(name, Decimal(0)) > 0
                or cost < min_cost
                or cost / total < min_share
            ):
                continue
            pct = int((cost / total * 100).to_integral_value(rounding=ROUND_HALF_UP))
            out.append(
                Insight(
                    "new_costly_tag",
                    f"New {dim} {name} costs {pct}% of spend",
                    f"{dim.capitalize()} {name} did not spend last period and spent ${_cents(cost)} this period "
                    f"({pct}% of the total).",
                    "warning" if cost / total >= Decimal("0.3") else "info",
                    {
                        "dimension": dim,
                        "name": name,
                        "cost": _cents(cost),
                        "share": float(cost / total),
                    },
                )
            )
    return out


def all_insights(
    current: list[UsageRow], previous: list[UsageRow], price_per_million: PriceFn
) -> list[Insight]:
    """Every rule over the current period (and the previous one, for comparisons), most severe first."""
    found = (
        cost_concentration(current)
        + fast_growth(current, previous)
        + cheaper_model(current, price_per_million)
        + new_costly_tag(current, previous)
    )
    return sorted(found, key=lambda i: -SEVERITIES.index(i.severity))
