"""What an alert or a digest says in words: headlines and detail lines, from the figures the
evaluator found (services.alert_eval, services.digest). Pure: no AWS, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from chalicelib.domain.alert_messages import money
from chalicelib.domain.alerts import Window


def period_word(w: Window, end: bool = False) -> str:
    """``today`` / ``this week`` / ``this month`` (``end``: ``the day`` / ``the week`` / ...)."""
    kind = w.key[0]
    if end:
        return {"d": "the day", "w": "the week", "m": "the month"}.get(kind, "the period")
    return {"d": "today", "w": "this week", "m": "this month"}.get(kind, w.label.split(" (")[0])


def threshold_headline(scope: str, spent: Decimal, amount: Decimal, currency: str, w: Window, *, over: bool) -> str:
    return (f"{scope} is {money(spent, currency)} {period_word(w)}, "
            f"{'over' if over else 'under'} your {money(amount, currency)} threshold")


def budget_headline(scope: str, percent: Decimal, spent: Decimal, amount: Decimal, currency: str, w: Window) -> str:
    return (f"{scope} has reached {percent}% of your {money(amount, currency)} budget "
            f"{period_word(w)} ({money(spent, currency)})")


def forecast_headline(scope: str, mean: Decimal, probability_over: float | None, amount: Decimal, currency: str,
                      w: Window) -> str:
    chance = round((probability_over or 0) * 100)
    return (f"{scope} is on course to end {period_word(w, end=True)} at {money(mean, currency)}; "
            f"{chance}% chance of going over your {money(amount, currency)} budget")


def spent_so_far(spent: Decimal, currency: str) -> str:
    return f"Spent so far: {money(spent, currency)}"


def spike_headline(scope: str, observed: Decimal, expected: Decimal, day: date, currency: str, *,
                   hour: datetime | None = None) -> str:
    """A day's spike, or an hour's (``hour``: its start, UTC)."""
    when = f"in the hour from {hour:%H}:00 UTC on {day:%a %d %b}" if hour else f"on {day:%a %d %b}"
    return f"Unusual spend: {scope} was {money(observed, currency)} {when} (usually about {money(expected, currency)})"


def beyond_hours_details(rise: Decimal, currency: str) -> tuple[str, ...]:
    """A provider's daily spike that its bill beyond the usage pushed from code explains."""
    return (f"{money(rise, currency)} of the rise is in the provider's bill but not in the usage your code pushed to "
            "CostPilot: spend your code did not report, such as a leaked key used elsewhere or a service calling "
            "the provider directly.",
            "Check the provider's usage by API key; rotate or disable a key you do not recognise.")


def excess_since_details(excess: Decimal, since: str, currency: str) -> tuple[str, ...]:
    """A spike that fired once its spend above the usual added up (it began small)."""
    return (f"{money(excess, currency)} above the usual since {since}: it began small and has kept on.",)


def spike_details(score: float, sensitivity: float, kind: str | None, reason: str | None) -> tuple[str, ...]:
    """The score, and which kind of event the spike looks like (runaway loop, leaked key, ...)."""
    lines = [f"Spike score {score:.2f} (threshold {sensitivity:.2f})"]
    if kind:
        lines.append(f"Looks like a {kind}" + (f": {reason}" if reason else ""))
    return tuple(lines)


def spike_update_headline(scope: str, kind: str, hour: datetime, observed: Decimal, usual: Decimal, hours: int,
                          currency: str) -> str:
    """The follow-up to an hourly spike once a day of hours shows its kind (leaked key, new baseline)."""
    since = (f"{money(observed, currency)} in the {hours} hours since "
             f"(usually about {money(usual, currency)})")
    return (f"Update on the unusual spend at {hour:%H}:00 UTC on {hour:%a %d %b} ({scope}): "
            f"it looks like a {kind}, {since}")


def spike_update_details(kind: str, reason: str) -> tuple[str, ...]:
    """What the day of hours showed, and what to do about that kind."""
    todo = {
        "leaked key": "Check who holds the key behind it, then rotate or disable it.",
        "new baseline": "Spend has moved to a new level and held it, as after a launch; spikes are judged against "
                        "it from now on. If nothing changed on your side, look for a job that kept running.",
    }.get(kind)
    return (f"Looks like a {kind}: {reason}",) + ((todo,) if todo else ())


def connection_headline(title: str, label: str, *, rejected: bool, failing_since: datetime | None) -> str:
    if rejected:
        return f"{title} connection '{label}': the key was rejected"
    if failing_since:
        return f"{title} connection '{label}' has failed to sync since {failing_since:%a %d %b %H:%M} UTC"
    return f"{title} connection '{label}' is healthy (test)"


def connection_details(last_error: str | None, last_success_at: datetime | None, *, rejected: bool) -> tuple[str, ...]:
    lines = (f"Last error: {last_error}" if last_error else "",
             f"Last successful sync: {last_success_at:%Y-%m-%d %H:%M} UTC" if last_success_at
             else "Never synced successfully",
             "Replace the key on the connection to resume syncing." if rejected else "")
    return tuple(x for x in lines if x)


def nothing_to_report(rule_name: str) -> str:
    return f"Test of '{rule_name}': nothing to report right now"


# --- the digest ---------------------------------------------------------------------------------


def change(now: Decimal, before: Decimal, word: str) -> str:
    """The change on the period before (``word``: day or week)."""
    if before == 0:
        return "no spend the period before" if now else "no change"
    pct = (now - before) * 100 / before
    return f"{'+' if pct >= 0 else ''}{pct:.0f}% vs the previous {word}"


def digest_headline(frequency: str, total: Decimal, currency: str, change_text: str) -> str:
    return f"Your {frequency} spend: {money(total, currency)} ({change_text})"


def digest_period_label(start: date, end: date) -> str:
    label = start.strftime("%a %d %b %Y") if start == end else f"{start:%a %d %b} to {end:%a %d %b %Y}"
    return f"{label} (UTC)"


def digest_details(moves: Sequence[tuple[str, Decimal]], currency: str,
                   open_alerts: Sequence[tuple[str, str, str]]) -> tuple[str, ...]:
    """Top movers (model, change; largest first) and the alerts still open (name, period, level)."""
    movers = ", ".join(f"{k} {'+' if v >= 0 else '-'}{money(abs(v), currency)}" for k, v in moves[:3] if v)
    details = [f"Top movers (by model): {movers}" if movers else "Top movers: none",
               f"Open alerts: {len(open_alerts)}" + ("" if open_alerts else " (all clear)")]
    details += [f"  - {name} ({period}, level {level})" for name, period, level in open_alerts[:5]]
    return tuple(details)
