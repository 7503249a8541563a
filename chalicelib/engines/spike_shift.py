"""Level shifts: a step in a series that has held for most of a day and a half of points.

The spike detector (:mod:`chalicelib.engines.spikes`) judges each point at once, and follows a
step within a day (its level term), so that a launch (spend stepping up 1.5-3x and staying there)
is a new baseline rather than a stream of alarms, and never a runaway alert at its onset. In the
"anything unusual, either way" mode a step that holds is still news, once: a new baseline, or an
outage that left spend at half. This is the measure for that, in the transformed (log) units of
:mod:`chalicelib.engines.spike_grid`, against the seasonal expectation alone (the same slot in
earlier days and weeks, which takes weeks to follow a step) and in units of that residual's
robust scale, so that a busy day on a bursty series is no shift.

Shapes: ``resid`` and ``sd`` are (n,), one value per input point.
"""

from __future__ import annotations

import numpy as np

#: A shift is judged once at least HELD_SHARE of the last HELD_POINTS points are on the same side
#: of the seasonal expectation; HELD_POINTS is more than a day of hourly data, so a launch is news
#: after its first day, not at its onset.
HELD_POINTS = 32
HELD_SHARE = 0.8
#: Whatever the noise, a shift is at least this ratio (a launch steps spend up 1.5-3x).
HELD_RATIO = 1.5
#: Cells of the (points, HELD_POINTS) window matrix sorted at once.
BLOCK_CELLS = 2_000_000


def held_shift(resid: np.ndarray, sd: np.ndarray, z_mid: float) -> np.ndarray:
    """Strength of a held shift at each point, in robust sd (``z_mid`` at HELD_RATIO on a smooth
    series); 0 unless HELD_SHARE of the last HELD_POINTS residuals share a side; shape (n,).

    ``resid``: each point's residual against the seasonal expectation (NaN counts as 0); ``sd``:
    the robust scale of that residual from earlier points. The shift is the residual that
    HELD_SHARE of the window reaches (the window's (1 - HELD_SHARE) quantile, or for a drop its
    HELD_SHARE quantile), so a few quiet points inside a held step do not hide it.
    """
    k = HELD_POINTS
    r = np.nan_to_num(np.asarray(resid, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    win = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.zeros(k - 1), r]), k)
    j = int((1.0 - HELD_SHARE) * (k - 1))
    shift = np.zeros(r.shape[0])
    rows = max(BLOCK_CELLS // k, 1)  # bounded memory on very long series
    for lo in range(0, r.shape[0], rows):
        w = win[lo : lo + rows]
        low = np.partition(w, j, axis=1)[:, j]  # HELD_SHARE of the window is at or above this
        high = -np.partition(-w, j, axis=1)[:, j]  # ... at or below this
        shift[lo : lo + rows] = np.maximum(np.maximum(low, 0.0), np.maximum(-high, 0.0))
    return shift / np.maximum(sd, np.log(HELD_RATIO) / z_mid)
