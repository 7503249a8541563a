"""The forecast's input, made fit for simple forecasters: weekday factors divided out, a recent
level shift carried back, outliers replaced and gaps filled.

1. weekday factors estimated robustly (:mod:`chalicelib.engines.seasonality`) are divided out;
2. a recent level shift (four or more days consistently away from the weeks before) is detected
   and the older history is rescaled to the new level, so the forecast follows a launch within
   days instead of averaging it away;
3. outliers (against a centred 7-day median, in log space) are replaced, gaps interpolated.

Shapes: ``history`` is (n,) daily values oldest first, NaN for missing days; every array of
:class:`Prepared` is (n,) after the history is cut to its first observed day and MAX_HISTORY days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chalicelib.engines.robust import (
    MAD_TO_SD,
    fill_gaps,
    log_offset,
    mad_sd,
    nanmedian_rows,
    rolling_median,
)
from chalicelib.engines.seasonality import PERIOD, phases, weekly_profile

#: Days of history used at most; older spend says little about next month and costs time.
MAX_HISTORY = 365
#: Outlier cut-off, in robust standard deviations from the centred 7-day median (log space).
OUTLIER_Z = 4.0
#: A recent level shift must have held this many days and be this many robust standard deviations
#: of the weeks before it (and over 35%); looser cuts mistook noise on real short series for launches.
SHIFT_MIN_DAYS = 4
SHIFT_NOISE = 4.0
#: Larger daily values are clipped (no spend is that large; it keeps float arithmetic finite).
MAX_VALUE = 1e15


@dataclass(frozen=True)
class Prepared:
    """History made fit for the simple forecasters (all arrays shape (n,))."""

    observed: np.ndarray  # raw values, NaN where missing, negatives clipped
    clean: np.ndarray  # deseasonalised, shift-adjusted, outliers replaced, gaps filled
    z_actual: (
        np.ndarray
    )  # log(deseasonalised observed + c), shift-adjusted, NaN where missing
    profile: np.ndarray  # (7,) weekday factors indexed by phase
    offset: float
    shifted: bool


def recent_shift(z: np.ndarray) -> tuple[int, float] | None:
    """Find a level shift in the last SHIFT_MIN_DAYS..21 days of ``z`` (log, deseasonalised, gap-free).

    Returns (index where the new level starts, size of the shift in log units) or None. A shift
    needs every day since it started on the far side of the midpoint between the old and new
    medians, and a size both material (over 35%) and large against the old noise.
    """
    n = z.shape[0]
    runs = np.arange(min(21, n - 7), SHIFT_MIN_DAYS - 1, -1)  # longest first
    if runs.size == 0:
        return None
    cuts = n - runs
    k = np.arange(28)[None, :]
    before_idx = cuts[:, None] - 28 + k
    before = np.where(before_idx >= 0, z[np.maximum(before_idx, 0)], np.nan)  # (r, 28)
    after_idx = cuts[:, None] + np.arange(21)[None, :]
    after = np.where(after_idx < n, z[np.minimum(after_idx, n - 1)], np.nan)  # (r, 21)
    med_before = nanmedian_rows(before)
    gap = nanmedian_rows(after) - med_before
    noise = np.maximum(
        MAD_TO_SD * nanmedian_rows(np.abs(before - med_before[:, None])), 0.03
    )
    noise = np.where(np.isfinite(before).sum(axis=1) >= 2, noise, 0.03)
    big = np.abs(gap) >= np.maximum(np.log(1.35), SHIFT_NOISE * noise)
    mid = med_before + gap / 2
    side = (after - mid[:, None]) * np.sign(gap)[:, None]
    same_side = np.all(np.where(np.isfinite(after), side > 0, True), axis=1)
    found = np.nonzero(big & same_side)[0]
    if found.size == 0:
        return None
    i = int(found[0])
    return int(cuts[i]), float(gap[i])


def prepare(history: np.ndarray) -> Prepared:
    x = np.asarray(history, dtype=float).ravel()
    x = np.where(np.isfinite(x), np.clip(x, 0.0, MAX_VALUE), np.nan)
    finite = np.isfinite(x)
    if not finite.any():
        x, finite = np.zeros(1), np.ones(1, bool)  # nothing seen: forecast zero spend
    x = x[int(np.argmax(finite)) :][-MAX_HISTORY:].copy()
    n = x.shape[0]
    profile = weekly_profile(x)
    factors = profile[phases(n)]
    c = log_offset(x / factors)
    z_obs = np.log(x / factors + c)
    z = fill_gaps(z_obs)
    shifted = False
    if n >= 10:
        shift = recent_shift(z)
        if shift is not None:
            cut, gap = shift
            z[:cut] += gap
            z_obs[:cut] += gap
            shifted = True
    if n >= 5:
        med = rolling_median(z, PERIOD, centred=True)
        resid = z - med
        s = max(mad_sd(resid), 0.02)
        out = np.abs(resid) > OUTLIER_Z * s
        z = np.where(out, med, z)
    clean = np.exp(z) - c
    clean[clean < 1e-9 * c] = (
        0.0  # exp(log(c)) - c leaves float dust where spend was zero
    )
    return Prepared(x, clean, z_obs, profile, c, shifted)
