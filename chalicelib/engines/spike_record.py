"""Records: how far a point rises above everything its series did in the last five weeks.

The spike detector's main rule judges a rise against the series' own noise scale. A young or
erratic workspace ($0-43 a day for a month) has a wide scale, so even a fivefold day is a small
robust z there; yet a day several times larger than anything seen in a month is news whatever
the noise. This is the measure for that rule, in the transformed (log) units of
:mod:`chalicelib.engines.spike_grid`. A monthly job is inside the window from its second run
(RECORD_DAYS covers a calendar month), so it is no record.
"""

from __future__ import annotations

import numpy as np

from chalicelib.engines.spike_grid import Grid

#: Days of history a record must beat (a calendar month and some slack).
RECORD_DAYS = 35
#: Slots seen before a point can be a record.
RECORD_MIN_POINTS = 14


def above_record(g: Grid) -> np.ndarray:
    """How far each point rises above the largest slot of the last RECORD_DAYS days, in log
    units (0 when it does not, or before RECORD_MIN_POINTS slots); shape (n,).

    A young or erratic series has a wide noise scale, so even a fivefold day is a small robust z;
    a day far above anything seen in a month is news all the same. The window is whole blocks of
    a day (a week for daily data) plus the current block so far: RECORD_DAYS days to a block more,
    earlier slots only.
    """
    z = np.where(np.isfinite(g.z), g.z, -np.inf)
    block = g.per_day or 7
    k = max(RECORD_DAYS * max(g.per_day, 1) // block, 1)
    n_blocks = -(-z.shape[0] // block)
    blocks = np.full(n_blocks * block, -np.inf)
    blocks[: z.shape[0]] = z
    blocks = blocks.reshape(n_blocks, block)
    # the earlier slots of the same block, and the k whole blocks before it
    within = np.maximum.accumulate(blocks, axis=1)
    within = np.hstack([np.full((n_blocks, 1), -np.inf), within[:, :-1]]).ravel()
    whole = np.concatenate([np.full(k, -np.inf), blocks.max(axis=1)[:-1]])
    before = np.lib.stride_tricks.sliding_window_view(whole, k).max(axis=1)
    slots = np.arange(z.shape[0])
    past = np.maximum(within[: z.shape[0]], before[slots // block])[g.slot]
    seen = (g.slot >= RECORD_MIN_POINTS) & np.isfinite(past) & np.isfinite(g.point_z)
    return np.where(seen, np.maximum(g.point_z - np.where(seen, past, 0.0), 0.0), 0.0)
