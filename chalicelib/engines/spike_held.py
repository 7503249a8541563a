"""A held multiple: a rise that holds for hours at several times the usual spend is a loop, even
when it was phased in.

The spike detector (:mod:`chalicelib.engines.spikes`) takes a rise that has held three points for
the new baseline of the next one, so that a launch (a 1.5-3x step) is judged once, at its onset.
That also let a loop phased in over a few hours (1.8x, 2.6x, then hours at 3.8x) go unreported for
as long as it ran: no single hour and no pair was far enough above the hour before. This measure
judges the last HELD_UP_POINTS points against the seasonal usual instead (the same slot in earlier
days and weeks, which does not follow a step within hours), in the transformed (log) units of
:mod:`chalicelib.engines.spike_grid`. A launch stays under UP_RATIO, so it never holds there.

Shapes: ``seasonal_resid`` and ``sd`` are (n,), one value per input point.
"""

from __future__ import annotations

import numpy as np

from chalicelib.engines.spike_lags import trailing_min

#: A rise held HELD_UP_POINTS points at UP_RATIO or more over the seasonal usual (less a recurring
#: job's earlier rise), and on a noisy series at HELD_UP_SD robust sd or more, scores 0.5 at its
#: last point. Hourly and daily series only (at most HELD_UP_MAX_PER_DAY points a day): finer series
#: have the busy-stretch channel (:mod:`chalicelib.engines.spike_windows`). Chosen on 300 tuning
#: seeds of both families of bench/spike_bench.py: 4 points alarmed on more launches and clean
#: hours, 8 caught fewer loops.
HELD_UP_POINTS = 6
HELD_UP_SD = 0.75
HELD_UP_MAX_PER_DAY = 24


def held_up(
    seasonal_resid: np.ndarray, sd: np.ndarray, per_day: int, floor: float, z_mid: float
) -> np.ndarray:
    """Strength of a rise held HELD_UP_POINTS points over the seasonal usual; (n,), 0 on series
    finer than hourly. ``floor`` is the residual per unit of strength at the least (log UP_RATIO /
    z_mid: the rise reaches ``z_mid``, a score of 0.5, at UP_RATIO), or HELD_UP_SD of ``sd`` on a
    noisy series; capped at ``z_mid``, since escalation is the single point's to score."""
    if per_day > HELD_UP_MAX_PER_DAY:
        return np.zeros(seasonal_resid.shape[0])
    held = np.maximum(trailing_min(seasonal_resid, HELD_UP_POINTS), 0.0)
    return np.minimum(held / np.maximum(HELD_UP_SD * sd, floor), z_mid)
