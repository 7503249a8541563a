"""Busy stretches: hours of a fine-grained series busier than any such stretch in five weeks.

The spike detector (:mod:`chalicelib.engines.spikes`) judges each point, and a pair of points, at
once. On hourly spend that is the right grain: a runaway loop shows on its first hour. On finer
monitoring data (5-minute request counts, sensor readings) an event is a stretch of a few hours
whose points each look ordinary against the noise of single points -- a burst of tweets, a road
jammed for a morning -- and whose mean is what stands out. So, in the "anything unusual" mode
(``direction="both"``) and only for series finer than hourly, each point is also judged by the
mean of its residual (against the seasonal expectation, less a recurring job's earlier rise) over
the last WINDOW_DAYS of a day (three, six and twelve hours: multi-scale windows, as in NAB's
better entries), against every window of the same length in the last PAST_DAYS days: a stretch
that beats them all is news, a busy afternoon like last week's is not. PAST_DAYS covers a calendar
month and some slack, so a month-start job's second run is no record.

Hourly and daily series never use this channel (their points are the stretch), so the product's
hourly spend alerts and a launch step on them are judged exactly as before.

Units: transformed (log) values of :mod:`chalicelib.engines.spike_grid`; strength is a robust z
(``z_mid`` once a window beats the busiest earlier one, more by how many of the earlier windows'
robust sd it beats it by). Shapes: ``resid`` and the strength are (n,), one value per input point.
"""

from __future__ import annotations

import numpy as np

from chalicelib.engines.robust import MAD_TO_SD
from chalicelib.engines.spike_record import RECORD_DAYS

#: Window lengths, as shares of a day.
WINDOW_DAYS = (0.125, 0.25, 0.5)
#: Days of earlier windows a stretch must beat (a calendar month and some slack) ...
PAST_DAYS = RECORD_DAYS
#: ... and days of them seen before it can (a week: every weekday once).
MIN_PAST_DAYS = 7
#: Only series with more points per day than this (finer than hourly).
MIN_PER_DAY = 24
#: Smallest robust sd of the earlier windows' means (log units).
MIN_SD = 0.02
#: The busiest earlier window is recomputed every 1/REFRESH of a day (from points before the block).
REFRESH = 4


def _trailing_mean(r: np.ndarray, k: int) -> np.ndarray:
    """Mean of each point and the ``k - 1`` before it (fewer at the start); (n,)."""
    total = np.concatenate([np.zeros(1), np.cumsum(r)])
    i = np.arange(1, r.shape[0] + 1)
    lo = np.maximum(i - k, 0)
    return (total[i] - total[lo]) / (i - lo)


def stretch_strength(resid: np.ndarray, per_day: int, z_mid: float) -> np.ndarray:
    """Strength of the busiest-stretch rule at each point (0 unless a window beats every earlier
    one of its length); ``resid`` (n,) in log units, NaN counts as 0; shape (n,)."""
    r = np.nan_to_num(np.asarray(resid, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    n = r.shape[0]
    out = np.zeros(n)
    if per_day <= MIN_PER_DAY:
        return out
    stride = max(1, per_day // REFRESH)
    for share in WINDOW_DAYS:
        k = max(2, round(per_day * share))
        mean = _trailing_mean(r, k)
        thin = max(1, k // 4)  # overlapping windows repeat each other: a sample is enough for sd
        for lo in range(0, n, stride):
            end = lo - k + 1  # earlier windows end before this block's windows begin
            if end < MIN_PAST_DAYS * per_day:
                continue
            past = mean[max(k - 1, end - PAST_DAYS * per_day) : end]
            sample = past[::thin]
            sd = max(MAD_TO_SD * float(np.median(np.abs(sample - np.median(sample)))), MIN_SD)
            busiest = float(past.max())
            cur = mean[lo : lo + stride]
            s = np.where(cur > busiest, z_mid + (cur - busiest) / sd, 0.0)
            out[lo : lo + stride] = np.maximum(out[lo : lo + stride], s)
    return out
