"""The spike rule: the scope's spend series scored by the spike engine, firing on a spike in its
last two hours, or in the days whose bill may still change (``finality``: a provider restates
the last two or three days, so a day's spike can appear a day or two after the day), once per
point (the breach key names the hour or the day).

The series is hourly where the scope has hourly data (pushed events, sub-day bills: the hourly
provider grain, for all spend and one provider; ``Spend.hourly_history``), so a runaway loop is
caught within the hour; otherwise daily, today's partial day as the last point. All spend judged
hourly also judges, daily, the providers that have no hourly data (a synced bill only).

A provider with hourly data and a synced day bill (pushed events beside a connection) is judged
hourly on what its hours hold, and daily on the rest of its bill: each day's spend less that day's
hours (``_beyond_hours``). That rest is spend the team's code never reported (a leaked key used
elsewhere, a service calling the provider directly); it shows only once the bill does, and it is
judged for all spend and for the provider's own scope, each provider on its own series.

Pennies are not news: a spike fires once the spend above its expected level since it began
reaches the rule's ``min_excess`` ($1 by default), at the point where it does (``crossing``); a
series spent in a few requests an hour spikes on noise worth cents. A spike that starts under that
(a loop on a small series) is followed for WATCH_HOURS and fires, under its onset's key, in the
hour its excess gets there.

At the alarm (one or two hours) a launch or a leaked key still looks like a runaway loop; a day
later its kind is settled (``Spike.settled``). So on the hourly series, a spike that fired and
whose day of hours reads as a leaked key or a new baseline gets one follow-up (level ``kind``,
under the spike's own key) while the spike is at most UPDATE_HOURS old.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.domain import alert_wording, finality
from chalicelib.domain.alert_messages import Contributor
from chalicelib.domain.alerts import Rule, provider_title
from chalicelib.services import key_actions
from chalicelib.services.alert_facts import HISTORY_DAYS, HOURLY_DAYS, MIN_SPIKE_DAYS, TOP_N, Breach, Spend, hour_label

if TYPE_CHECKING:
    from chalicelib.engines.spikes import Spike

USUAL_DAYS = 7  # contributors: a point's spend against its mean over the days before
UPDATE_HOURS = 48  # a spike's follow-up is sent once its kind is settled, until the spike is this old
BEYOND_SHARE = 0.5  # a provider's daily spike fires as spend beyond its hours when that explains this much of it
USUAL_BEYOND_DAYS = 28
WATCH_HOURS = 12  # an hourly spike is followed this long for its excess to reach the rule's min_excess (half a day)


def breaches(rule: Rule, spend: Spend, now: datetime, test: bool = False) -> list[Breach]:
    hourly = spend.hourly_history(now, rule.scope, rule.currency)
    if hourly is None:
        return _judge(rule, spend, now, *spend.history(now.date(), rule.scope, rule.currency), test=test)
    found = _judge(rule, spend, now, *hourly, hourly=True, test=test)
    rest = _daily_only(rule, spend, now)
    if rest:
        found += _judge(rule, spend, now, *spend.history(now.date(), rule.scope, rule.currency, rest), providers=rest)
    if not test:
        for provider, (days, total, beyond) in _beyond_hours(rule, spend, now).items():
            found += _judge(rule, spend, now, days, total, providers=frozenset({provider}), beyond=beyond)
    return found


def _daily_only(rule: Rule, spend: Spend, now: datetime) -> frozenset[str]:
    """For all spend: the providers with daily spend in the history window and no hourly data."""
    if rule.scope.dimension is not None:
        return frozenset()  # a provider with hourly data is judged hourly, whatever else it has
    today = now.date()
    daily = spend.by_value(today - timedelta(days=HISTORY_DAYS), today, rule.scope, rule.currency, "provider")
    hourly = {provider for _, provider in spend.hourly_by_provider(now, rule.currency)}
    return frozenset(p for p, amount in daily.items() if amount > 0 and p not in hourly)


def _beyond_hours(rule: Rule, spend: Spend, now: datetime) -> dict[str, tuple[list[date], Any, Any]]:
    """Per provider in the rule's scope with hourly data and a day bill: (days, its daily spend,
    each day's spend less its hours' spend, NaN before the hourly history)."""
    import numpy as np

    if rule.scope.dimension not in (None, "provider"):
        return {}
    hours_by_day: dict[str, dict[str, float]] = {}
    for (label, provider), amount in spend.hourly_by_provider(now, rule.currency).items():
        if rule.scope.value in (None, provider):
            day = hours_by_day.setdefault(provider, {})
            day[label[:10]] = day.get(label[:10], 0.0) + float(amount)
    first = now.astimezone(UTC).date() - timedelta(days=HOURLY_DAYS)
    out = {}
    for provider, hours in sorted(hours_by_day.items()):
        days, total = spend.history(now.date(), rule.scope, rule.currency, frozenset({provider}))
        beyond = np.round(total - np.array([hours.get(d.isoformat(), 0.0) for d in days]), 2)
        beyond[np.array([d < first for d in days])] = np.nan
        if np.any(np.nan_to_num(beyond) != 0):  # a bill beside the hours: else there is nothing beyond them
            out[provider] = (days, total, beyond)
    return out


def _beyond_rise(spike: Spike, beyond: Any) -> float | None:
    """How much of ``spike``'s rise is spend beyond the hours (against its median over the
    USUAL_BEYOND_DAYS before), when that is at least BEYOND_SHARE of the rise; else None."""
    import numpy as np

    before = beyond[max(0, spike.index - USUAL_BEYOND_DAYS):spike.index]
    if np.isnan(beyond[spike.index]) or np.isnan(before).all():
        return None
    rise = float(beyond[spike.index] - np.nanmedian(before))
    return rise if rise > 0 and rise >= BEYOND_SHARE * (spike.observed - spike.expected) else None


def _excess(spike: Spike, values: Any) -> Any:
    """Spend above the spike's expected level from its point on, cumulated; (points from it,)."""
    import numpy as np

    return np.cumsum(np.maximum(np.nan_to_num(values[spike.index:]) - spike.expected, 0.0))


def crossing(spike: Spike, values: Any, floor: Decimal) -> int | None:
    """The point where ``spike``'s excess since it began reaches ``floor``, if it has."""
    import numpy as np

    reached = np.nonzero(_excess(spike, values) >= float(floor) - 0.005)[0]  # in cents, as it is shown
    return spike.index + int(reached[0]) if reached.size else None


def alert_point(spike: Spike, values: Any, floor: Decimal) -> int | None:
    """The point an hourly ``spike``'s alert goes out at: where its excess reaches ``floor``, if
    that is while it is followed (WATCH_HOURS); else None (it never fired)."""
    at = crossing(spike, values, floor)
    return at if at is not None and at - spike.index < WATCH_HOURS else None


def _judge(rule: Rule, spend: Spend, now: datetime, points: list, values: Any, *, hourly: bool = False,
           providers: frozenset[str] | None = None, beyond: Any = None, test: bool = False) -> list[Breach]:
    """The breach of a spike in the last two ``points`` (hours), or in the days still provisional, if any
    (``providers``: the series is these providers' spend only; ``beyond``: its part beyond the
    hours, ``_beyond_hours``, and then only a spike that part explains)."""
    import numpy as np

    from chalicelib.engines import spikes  # numpy: off the cold start
    from chalicelib.engines.spike_kinds import LATE_KINDS

    if (values[:-1] > 0).sum() < MIN_SPIKE_DAYS and not test:
        return []
    stamps = np.array([np.datetime64(p.isoformat()[:13]) for p in points])  # a day, or an hour (UTC)
    started = int(np.argmax(values > 0)) if (values > 0).any() else len(values) - 1
    values = values.copy()
    values[:started] = np.nan  # before the first spend there is no series yet, not a run of zeros
    label = rule.scope.label if providers is None else f"{' and '.join(sorted(map(provider_title, providers)))} spend"
    detected = spikes.detect(stamps, values, threshold=rule.sensitivity)
    updates = [_kind_update(rule, points[s.index], s, label) for s in detected
               if hourly and not test and s.settled and s.kind in LATE_KINDS
               and s.index >= len(points) - UPDATE_HOURS and alert_point(s, values, rule.min_excess) is not None]
    first = len(points) - 2 if hourly else points.index(max(points[0], finality.first_provisional_day(now)))
    watched = len(points) - WATCH_HOURS if hourly else first
    crossed = {s.index: crossing(s, values, rule.min_excess) for s in detected if s.index >= watched}
    found = [s for s in detected if crossed.get(s.index) is not None and crossed[s.index] >= first]
    rises = {s.index: _beyond_rise(s, beyond) for s in found} if beyond is not None else {}
    if beyond is not None:
        found = [s for s in found if rises[s.index]]
    if not found and not test:
        return updates
    spike = found[-1] if found else None
    point = points[spike.index if spike else -1]
    day, hour = (point.date(), point) if hourly else (point, None)
    expected = Decimal(str(round(spike.expected, 2))) if spike else Decimal(0)
    observed = Decimal(str(round(float(values[spike.index if spike else -1]), 2)))
    key = f"h{hour_label(hour)}" if hour else f"d{day.isoformat()}"
    details = alert_wording.spike_details(spike.score, rule.sensitivity, spike.kind, spike.reason) if spike else ()
    if spike and crossed[spike.index] > spike.index:
        excess = Decimal(str(round(_excess(spike, values)[crossed[spike.index] - spike.index], 2)))
        since = f"{point:%H}:00 UTC" if hourly else f"{point:%a %d %b}"
        details += alert_wording.excess_since_details(excess, since, rule.currency)
    if beyond is not None and spike:
        rise = Decimal(str(round(rises[spike.index], 2)))
        details += alert_wording.beyond_hours_details(rise, rule.currency)
        key += f"-beyond-{min(providers)}"  # its own key: another provider billed daily may fire that day too

    def build() -> dict:
        contributors = {}
        for dim in ("provider", "model"):
            if rule.scope.dimension == dim:
                continue
            usual, seen = _usual_and_seen(rule, spend, now, dim, day, hour, providers)
            rises = spikes.explain(usual, seen)
            if rises:
                contributors[dim] = [Contributor(provider_title(k) if dim == "provider" else k,
                                                 Decimal(str(round(r, 2)))) for k, r in rises[:TOP_N]]
        keys, driving_key = key_actions.key_drivers(rule, day)  # the API key behind the rise, when usage names one
        contributors.update(keys)
        when = f"{day.isoformat()} {hour:%H}:00-{hour + timedelta(hours=1):%H}:00" if hour else day.isoformat()
        return {
            "headline": alert_wording.spike_headline(label, observed, expected, day, rule.currency, hour=hour),
            "figure": observed, "threshold": expected, "figure_label": f"Spend on {when} (UTC)",
            "threshold_label": "Expected", "level": "spike",
            "period_label": f"{day:%a %d %b %Y}{f' {hour:%H}:00' if hour else ''} (UTC)",
            "scope_label": label, "contributors": contributors, "driving_key": driving_key,
            "details": details,
        }

    return [Breach(key, "spike", build), *updates]


def _kind_update(rule: Rule, hour: datetime, spike: Spike, label: str) -> Breach:
    """The follow-up to the hourly spike at ``hour``: what the day of hours since says it was."""
    observed = Decimal(str(round(spike.read_observed, 2)))
    usual = Decimal(str(round(spike.read_expected, 2)))
    hours = spike.read_points

    def build() -> dict:
        keys, _ = key_actions.key_drivers(rule, hour.date())  # named, not stopped again: the spike's firing did
        return {
            "headline": alert_wording.spike_update_headline(label, spike.kind, hour, observed, usual, hours,
                                                            rule.currency),
            "figure": observed, "threshold": usual, "figure_label": f"Spend in the {hours} hours since (UTC)",
            "threshold_label": "Usual for those hours", "level": "kind",
            "period_label": f"{hour:%a %d %b %Y %H}:00 (UTC) and the {hours} hours since",
            "scope_label": label, "contributors": keys,
            "details": alert_wording.spike_update_details(spike.kind, spike.reason),
        }

    return Breach(f"h{hour_label(hour)}", "kind", build, after="spike")


def _usual_and_seen(rule: Rule, spend: Spend, now: datetime, dim: str, day: date, hour: datetime | None,
                    providers: frozenset[str] | None) -> tuple[dict[str, float], dict[str, float]]:
    """Spend by ``dim`` at the spiking point and its usual there: a day against the mean of the
    USUAL_DAYS days before; an hour, by provider, against that hour's mean on those days, and by
    model (the hourly grain has none) as its day so far against the days' mean share by the end
    of that hour (hours elapsed / 24)."""
    usual: dict[str, float] = {}
    seen: dict[str, float] = {}
    if hour is not None and dim == "provider":
        before = {hour_label(hour - timedelta(days=back)) for back in range(1, USUAL_DAYS + 1)}
        for (label, provider), amount in spend.hourly_by_provider(now, rule.currency).items():
            if rule.scope.value not in (None, provider):
                continue
            if label in before:
                usual[provider] = usual.get(provider, 0.0) + float(amount) / USUAL_DAYS
            elif label == hour_label(hour):
                seen[provider] = seen.get(provider, 0.0) + float(amount)
        return usual, seen
    share = (hour.hour + 1) / 24 if hour is not None else 1.0
    seen = {k: float(v) for k, v in spend.by_value(day, day, rule.scope, rule.currency, dim, providers).items()}
    usual = {k: float(v) * share / USUAL_DAYS for k, v in spend.by_value(
        day - timedelta(days=USUAL_DAYS), day - timedelta(days=1), rule.scope, rule.currency, dim, providers).items()}
    return usual, seen
