"""Put points as they come (repeats, disorder, gaps, NaN, negatives) on a regular, causal grid.

Real monitoring and billing data is untidy: a clock change repeats an hour, a late point arrives
after a newer one, a sync outage leaves a gap of days, a refund is a negative value, a sensor
writes NaN. The spike detector needs a regular time grid (so that "the same hour last week" is a
fixed lag) and must score every input point, in the input's order, from points that arrived
before it. So:

- arrival order is the order of truth: a point's time is the latest time seen so far (a late point
  counts at the newest slot, a repeated time shares its slot);
- the step is the median positive spacing of the first points; long gaps are shortened to at most
  ``MAX_GAP_WEEKS`` weeks plus the gap's remainder modulo a week, keeping the weekly phase while
  bounding the grid's size;
- values go to a signed log scale, ``asinh(v / (2 c))``, which is ``log(v / c)`` for large values,
  linear near zero and defined for zeros and negative values; ``c`` is a robust typical level of
  the first points (a day of hourly data: the first eight hours may all be office hours);
- a slot that several points fall into holds their mean (used only by later slots; each point is
  scored on its own value).

Shapes: ``n`` input points, ``g`` grid slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY = 86_400
WEEK = 7 * DAY
#: Gaps longer than this many weeks are shortened (keeping the phase within the week).
MAX_GAP_WEEKS = 4
#: Points used to find the step of the series (no more than the warm-up, which scores 0, so
#: that a prefix of a series scores exactly as the start of the whole series).
HEAD = 8
#: Points used to find the level of the series: the warm-up (which scores 0), at most
#: MAX_LEVEL_HEAD points -- a day of hourly data (the first eight hours can all be night).
MAX_LEVEL_HEAD = 24
#: Longest warm-up, in points (a day of 5-minute data).
WARMUP_POINTS = 288
#: The transform is linear below about this fraction of the typical level, logarithmic above.
LEVEL_FRACTION = 0.1


@dataclass(frozen=True)
class Grid:
    """A series on a regular grid of ``step`` seconds; ``slot[i]`` is input point i's slot."""

    step: int
    slot: np.ndarray  # (n,) int, non-decreasing
    seconds: np.ndarray  # (n,) int, each point's effective time (non-decreasing)
    point_z: np.ndarray  # (n,) transformed value of each point (NaN when missing)
    z: np.ndarray  # (g,) mean transformed value per slot, NaN where no point
    scale: float  # c in asinh(v / 2c)
    per_day: int  # slots per day (0 when the step is over half a day)


def to_seconds(timestamps: np.ndarray, n: int) -> np.ndarray:
    """Seconds since the epoch per point (n,); NaT and unreadable times take the previous time."""
    ts = np.asarray(timestamps).ravel()
    try:
        if ts.dtype.kind in "iuf":
            sec = np.asarray(ts, dtype=float)
        else:
            dt = ts.astype("datetime64[s]")
            sec = np.where(np.isnat(dt), np.nan, dt.astype(np.int64).astype(float))
    except (TypeError, ValueError):
        sec = np.full(ts.shape[0], np.nan)
    if sec.shape[0] != n:  # mismatched lengths: fall back to one point per hour
        sec = np.arange(n, dtype=float) * 3600.0
    ok = np.isfinite(sec)
    if not ok.any():
        return np.arange(n, dtype=np.int64) * 3600
    first = sec[ok][0]
    sec = np.where(ok, sec, -np.inf)
    sec[0] = first if not ok[0] else sec[0]
    return np.maximum.accumulate(sec).astype(np.int64)


def transform(values: np.ndarray, scale: float) -> np.ndarray:
    """Signed log scale: ``asinh(v / 2c)``; NaN stays NaN."""
    return np.arcsinh(values / (2.0 * scale))


def inverse(z: np.ndarray, scale: float) -> np.ndarray:
    """The value whose transform is ``z``."""
    return np.sinh(z) * 2.0 * scale


def warmup(per_day: int) -> int:
    """Points at the start that score 0 while the baseline forms: a day of sub-daily data (at most
    WARMUP_POINTS), else HEAD."""
    return max(HEAD, min(per_day, WARMUP_POINTS))


def level_scale(values: np.ndarray, head_points: int = HEAD) -> float:
    """A robust typical size of the first ``head_points`` points (the ``c`` of the transform), > 0."""
    head = np.abs(values[:head_points])
    head = head[np.isfinite(head)]
    pos = head[head > 0]
    if pos.size == 0:
        return 1e-6
    c = LEVEL_FRACTION * float(np.median(pos))
    return max(c, 1e-9 * float(pos.max()), 1e-12)


def _step(seconds: np.ndarray) -> int:
    diffs = np.diff(seconds[:HEAD])
    diffs = diffs[diffs > 0]
    return int(max(np.median(diffs), 1)) if diffs.size else 3600


def build(timestamps: np.ndarray, values: np.ndarray) -> Grid:
    """The grid of a series; ``values`` (n,) may hold NaN, inf, zeros and negative values."""
    v = np.asarray(values, dtype=float).ravel()
    n = v.shape[0]
    v = np.where(np.isfinite(v), v, np.nan)
    seconds = to_seconds(timestamps, n)
    step = _step(seconds)
    per_day = round(DAY / step) if step <= DAY // 2 else 0
    raw = np.rint(np.diff(seconds, prepend=seconds[:1]) / step).astype(np.int64)
    week = max(WEEK // step, 1)
    cap = MAX_GAP_WEEKS * week
    gaps = np.where(raw > cap, cap + raw % week, raw)
    slot = np.cumsum(gaps)
    scale = level_scale(v, min(warmup(per_day), MAX_LEVEL_HEAD))
    point_z = transform(v, scale)
    g = int(slot[-1]) + 1 if n else 0
    total = np.zeros(g)
    count = np.zeros(g)
    ok = np.isfinite(point_z)
    np.add.at(total, slot[ok], point_z[ok])
    np.add.at(count, slot[ok], 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(count > 0, total / np.maximum(count, 1.0), np.nan)
    return Grid(step, slot, seconds, point_z, z, scale, per_day)
