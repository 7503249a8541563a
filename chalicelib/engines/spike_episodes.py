"""Episodes: one alarm per event, and the squashing of a strength (a robust z) to a score in [0, 1].

A ten-hour loop is one alert, not ten: once a point has fired, an episode lasts at least a given
number of points and until CALM_POINTS calm points, and inside it a point scores only for
escalation beyond the episode's peak (by ESCALATE_Z), so that a loop that starts just after a
noisy hour has fired still alarms. Shapes: ``strength`` and scores are (n,).
"""

from __future__ import annotations

import numpy as np

#: Robust z-score at which the score is 0.5, and the softness of the squashing.
Z_MID = 3.5
Z_SOFT = 0.7
#: An episode ends after this many consecutive calm points (|z| < CALM_Z).
CALM_POINTS = 3
CALM_Z = 2.0
#: Inside an episode a point alarms again when its strength beats the episode's peak by this much.
ESCALATE_Z = 1.5


def squash(z: np.ndarray) -> np.ndarray:
    """Score in [0, 1] of a strength: 0.5 at Z_MID."""
    return 1.0 / (1.0 + np.exp(-(z - Z_MID) / Z_SOFT))


def episodes(strength: np.ndarray, min_length: int) -> np.ndarray:
    """Scores with one alarm per episode: inside an episode only escalation beyond its peak counts.

    An episode lasts at least ``min_length`` points and ends after CALM_POINTS calm points.
    """
    raw = squash(strength)
    out = raw.copy()
    peak = 0.0
    calm = CALM_POINTS
    age = min_length
    for i, s in enumerate(strength):
        if calm < CALM_POINTS or age < min_length:  # inside an episode
            out[i] = float(squash(np.array(s - peak - ESCALATE_Z + Z_MID))) if s > peak else 0.0
            peak = max(peak, s)
            calm = calm + 1 if s < CALM_Z else 0
            age += 1
        elif raw[i] >= 0.5:
            peak = s
            calm = 0
            age = 1
    return out
