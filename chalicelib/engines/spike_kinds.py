"""What kind of event a spend spike looks like: a runaway loop, a leaked key, a recurring job, a
new baseline, or a drop.

An alert is more useful when it says what the jump resembles, because each kind has a different
remedy: a runaway loop (a retry storm, an agent stuck in a loop) is a short, large multiple of the
usual spend; a leaked key adds a roughly *flat* extra amount round the clock, so it is largest
against the usual spend at night and at weekends; a recurring job rose at the same time a week or
a calendar month before; a new baseline (a launch) is a moderate multiple of the usual spend that
holds. Pure functions over the points seen up to now; nothing here decides whether to alert.

Shapes: ``values`` and ``expected`` are (n,), aligned; ``start`` is the index of the spike's first
point; the rules read the points from ``start`` to the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

DAY = 86_400
#: A step of at most this multiple that holds is a new baseline rather than a runaway.
BASELINE_MAX_RATIO = 3.3
#: Points a rise must hold to be judged a new baseline or a flat leak.
HOLD_POINTS = 4
#: Points after the start that the rules read at most (a day of hourly data).
LOOK_POINTS = 24
#: A rise "holds" while at least 80% of the points are this multiple of the usual or more.
HELD_RATIO = 1.25
#: An earlier same-time rise of at least this fraction of the current one makes a recurring job.
RECURRING_SHARE = 0.6
#: Rises (relative to the usual spend) below this are never called recurring, nor matched.
RECURRING_MIN_RISE = 0.5
#: A jump to this multiple or more is told as "more than" it: the usual spend is close to nothing.
MANY_TIMES = 100


class EventKind(str, Enum):
    RUNAWAY = "runaway loop"
    LEAKED_KEY = "leaked key"
    RECURRING = "recurring job"
    NEW_BASELINE = "new baseline"
    DROP = "drop"


#: Kinds that only the hours after the onset can tell: at the alarm these read as a runaway loop.
LATE_KINDS = (EventKind.LEAKED_KEY.value, EventKind.NEW_BASELINE.value)


@dataclass(frozen=True)
class Classified:
    kind: EventKind
    reason: str


def _seconds(timestamps: np.ndarray) -> np.ndarray:
    return np.asarray(timestamps).astype("datetime64[s]").astype(np.int64)


def _recurring(
    sec: np.ndarray, excess: np.ndarray, start: int, step: int
) -> str | None:
    """The earlier time (a calendar month, 28-31 days, or 1-3 weeks back) with a like rise.

    ``excess`` is the relative rise ``observed / expected - 1`` per point.
    """
    t = sec[start]
    month = t.astype("datetime64[s]").astype("datetime64[M]")
    month_back = (month - 1).astype("datetime64[s]").astype(np.int64) + (
        t - month.astype("datetime64[s]").astype(np.int64)
    )
    candidates = [("a calendar month", int(month_back))]
    candidates += [(f"{d} days", t - d * DAY) for d in (28, 29, 30, 31)]
    candidates += [
        (f"{w} week{'s' if w > 1 else ''}", t - 7 * w * DAY) for w in (1, 2, 3)
    ]
    for label, back in candidates:
        near = np.nonzero(np.abs(sec[:start] - back) <= step)[0]
        bar = max(RECURRING_SHARE * excess[start], RECURRING_MIN_RISE)
        if near.size and np.nanmax(excess[near]) >= bar:
            return label
    return None


def classify(
    timestamps: np.ndarray, values: np.ndarray, expected: np.ndarray, start: int
) -> Classified:
    """The kind of event starting at ``start``, judged from the points from ``start`` to the end."""
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    e = np.maximum(np.nan_to_num(np.asarray(expected, dtype=float), nan=0.0), 0.0)
    sec = _seconds(timestamps)
    steps = np.diff(sec)
    step = int(np.median(steps[steps > 0])) if (steps > 0).any() else DAY
    excess = v - e
    if excess[start] < 0:
        return Classified(EventKind.DROP, "spend fell below what is usual at this time")
    after = slice(start, min(start + LOOK_POINTS, v.shape[0]))
    ratio = v[after] / np.maximum(e[after], 1e-12)
    extra = excess[after]
    held = extra.shape[0] >= HOLD_POINTS and float(np.mean(ratio >= HELD_RATIO)) >= 0.8
    if held and step < DAY:
        flat = np.std(extra) <= 0.35 * np.mean(extra)
        with np.errstate(invalid="ignore", divide="ignore"):
            quiet_more = np.corrcoef(e[after], ratio)[0, 1] < -0.3
        if flat and quiet_more:
            return Classified(
                EventKind.LEAKED_KEY,
                "a flat extra amount round the clock, largest against quiet hours",
            )
    if held and np.median(ratio) <= BASELINE_MAX_RATIO:
        return Classified(
            EventKind.NEW_BASELINE,
            f"spend has held at about {np.median(ratio):.1f}x its usual level",
        )
    rel = v / np.maximum(e, 1e-12 + 1e-9 * np.abs(v)) - 1.0
    when = (
        _recurring(sec, rel, start, step) if rel[start] >= RECURRING_MIN_RISE else None
    )
    if when is not None:
        return Classified(
            EventKind.RECURRING, f"a like rise happened at the same time {when} earlier"
        )
    if ratio[0] >= MANY_TIMES:  # a multiple of almost nothing reads as noise (670000000000.0x)
        return Classified(
            EventKind.RUNAWAY,
            f"spend jumped to more than {MANY_TIMES}x what is usual at this time, usually close to nothing",
        )
    return Classified(
        EventKind.RUNAWAY,
        f"spend jumped to {ratio[0]:.1f}x what is usual at this time",
    )
