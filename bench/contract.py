"""The benchmark contract: the two engine entry points that benchmarks (ours and outside ones) call.

Kept deliberately tiny and stable: ``forecast(history, horizon, level)`` and
``spike_scores(timestamps, values)``, both backed by ``chalicelib.engines``. Importable as
``bench.contract`` from the repository root, and from anywhere else (the repository root is put
on ``sys.path`` if it is missing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from chalicelib.engines import forecast as _forecast
from chalicelib.engines import spikes as _spikes

Forecast = _forecast.Forecast


def forecast(
    history: np.ndarray, horizon: int, level: float = 0.8
) -> _forecast.Forecast:
    """Forecast ``horizon`` days from daily ``history`` (shape (n,), oldest first).

    Returns an object with ``mean``, ``lower`` and ``upper`` arrays of shape (horizon,).
    """
    return _forecast.forecast(
        np.asarray(history, dtype=float), int(horizon), float(level)
    )


def spike_scores(timestamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """One anomaly score in [0, 1] per point, each computed only from points up to it; shape (n,).

    Scores jumps and drops (``direction="both"``): benchmark anomalies go both ways, and a drop
    in spend (an outage, a broken integration) is worth telling a team about too. The product's
    budget alerts use ``direction="up"``.
    """
    return _spikes.spike_scores(
        np.asarray(timestamps), np.asarray(values, dtype=float), direction="both"
    )
