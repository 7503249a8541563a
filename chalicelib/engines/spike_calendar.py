"""Recurring-job calendar: a rise seen at the same time a month or some weeks earlier is a job.

A monthly batch on the 1st, a weekly report on Monday at 9: each run is as large as the last, and
none of them is a runaway loop. So a rise at a point is discounted by the largest earlier rise at
the same time a calendar month earlier (one point either side) or 1..RECURRING_WEEKS weeks earlier
(the same slot), in log units (the same job is the same ratio, whatever the noise scale was
then), and by RECURRING_MARGIN more (a job may grow).

Only a short rise is a job: an earlier rise that was part of a run of more than JOB_POINTS points
(a ten-hour loop, a leaked key's days of extra spend) discounts nothing later, so a second loop in
the same slot weeks after the first still alarms. And while the series is young (its first
YOUNG_DAYS days, when the noise scale is still wide and the baseline does not know the daily shape,
so a morning reads as one long rise), a rise counts from the ratio that would alarm, not only from
RECURRING_Z, and whatever its length: a job's first run on the first day still vouches for its
second.

Shapes: slot arrays (g,) over the grid of :mod:`chalicelib.engines.spike_grid`; the discount is
per input point (n,).
"""

from __future__ import annotations

import numpy as np

from chalicelib.engines.spike_grid import DAY, Grid

#: An earlier rise of this robust z (or more) at the same time is a job's run.
RECURRING_Z = 3.0
RECURRING_WEEKS = 3
#: A recurring job may come back this many times as large as before without alarming.
RECURRING_MARGIN = 1.5
#: An earlier rise inside a run of more than JOB_POINTS points at a robust z of RUN_Z or more is
#: no job (a loop or a leaked key).
JOB_POINTS = 4
RUN_Z = 2.0
#: Days during which a short rise counts as a job's run from the alarm ratio alone.
YOUNG_DAYS = 7


def recurring_discount(
    slot_resid: np.ndarray, scale: np.ndarray, g: Grid, alarm_rise: float
) -> np.ndarray:
    """How much of each point's rise (log units) an earlier run of a job explains; (n,), 0 where
    nothing recurs. ``slot_resid`` and ``scale`` are the residual and its robust scale per slot;
    ``alarm_rise`` is the rise (log units) that alarms on a smooth series."""
    bar = RECURRING_Z * scale
    job_like = in_short_run(slot_resid >= RUN_Z * scale, JOB_POINTS)
    if g.per_day:
        young = np.arange(bar.shape[0]) < YOUNG_DAYS * g.per_day
        bar = np.where(young, np.minimum(bar, alarm_rise), bar)
        job_like |= young
    earlier = np.where((slot_resid >= bar) & job_like, slot_resid, np.nan)
    recurring = _recurring_max(earlier, g)
    return np.where(np.isfinite(recurring), recurring + np.log(RECURRING_MARGIN), 0.0)


def _recurring_max(z_scores: np.ndarray, g: Grid) -> np.ndarray:
    """Largest of ``z_scores`` (per slot, NaN for none) near the same time one calendar month and
    1..RECURRING_WEEKS weeks before each point; shape (n,), -inf where there is none. A rise that
    was there before is a recurring job.

    "A calendar month before" is both the same day of the previous month and the same distance
    from the end of the month: a job on the 1st in the team's time zone falls on the last day of
    the month in UTC when the team is ahead of UTC, and months differ in length."""
    ts = g.seconds.astype("datetime64[s]")
    month = ts.astype("datetime64[M]")
    start = month.astype("datetime64[s]").astype(np.int64)
    previous = (month - 1).astype("datetime64[s]").astype(np.int64)
    following = (month + 1).astype("datetime64[s]").astype(np.int64)
    back = [g.seconds - (start - previous), g.seconds - (following - start)]
    if g.per_day:
        back += [g.seconds - w * 7 * DAY for w in range(1, RECURRING_WEEKS + 1)]
    out = np.full(g.seconds.shape[0], -np.inf)
    zs = np.nan_to_num(z_scores, nan=-np.inf)
    for j, prev in enumerate(back):
        tol = 1 if j == 0 else 0
        near = np.clip(np.searchsorted(g.seconds, prev), 0, g.seconds.shape[0] - 1)
        slot = g.slot[near] + np.rint((prev - g.seconds[near]) / g.step).astype(
            np.int64
        )
        for k in range(-tol, tol + 1):
            s = slot + k
            ok = (s >= 0) & (s < zs.shape[0]) & (prev >= g.seconds[0])
            out[ok] = np.maximum(out[ok], zs[s[ok]])
    return out


def in_short_run(flags: np.ndarray, longest: int) -> np.ndarray:
    """Whether each slot is in a run of at most ``longest`` consecutive True flags; (g,)."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    run = np.zeros(flags.shape[0] + 1, dtype=np.int64)
    np.add.at(run, starts, ends - starts)
    np.add.at(run, ends, -(ends - starts))
    length = np.cumsum(run)[:-1]
    return flags & (length <= longest)
