"""Anomaly likelihood: how surprising a raw deviation is under the series' own recent deviations.

A fixed cut on a robust z-score treats every series alike, but series differ in how often they
deviate: tweet volumes and traffic burst every day, a billing series hardly ever. Numenta's HTM
detector (Ahmad et al., 2017, "Unsupervised real-time anomaly detection for streaming data")
therefore does not alarm on its raw score but on the *likelihood* of the recent raw scores under
their own rolling distribution. The same idea here, at several time scales:

1. for each scale ``k`` (one point, and short windows of points), ``log1p`` of the mean of the
   last ``k`` raw scores: one large point, or a run of moderate ones (the log tames the heavy
   right tail of raw scores, which a Gaussian fits badly);
2. the rolling mean and variance of that windowed score over the long window before it, from
   cumulative sums, shrunk towards a prior (``PRIOR_MEAN``, ``PRIOR_VAR``, worth ``PRIOR_POINTS``
   points) while little is seen, so the first days are judged as an ordinary series would be;
3. the Gaussian tail probability of the windowed score under that distribution, times the number
   of scales (a Bonferroni bound: a point is judged at whichever scale it is most surprising);
   the windowed score must also be surprising as a robust z in its own right (a calm series that
   never deviated does not alarm on its first ordinary wiggle);
4. the surprise, ``-log10`` of that probability, is what the detector squashes into a score.

Causal: every statistic at a point uses the raw scores before the point's own window. Pure numpy,
O(n) per scale. Shapes: ``raw`` is (n,), every result is (n,).
"""

from __future__ import annotations

import numpy as np

#: Prior distribution of a raw score (a one-sided robust z of ordinary noise), and its weight.
PRIOR_MEAN = 0.35
PRIOR_VAR = 0.25
PRIOR_POINTS = 48
#: Smallest variance of a (log1p of a) windowed raw score: a series that never deviated does not
#: make its first small wiggle infinitely surprising.
MIN_VAR = 0.01
#: A mean of ``k`` raw scores counts as a z of ``mean * k ** SCALE_EXP``: 0.5 would be right for
#: independent points, but neighbouring residuals are correlated and a run of moderate rises is a
#: level shift (a notice, not an alarm); at 0 a run must itself average a z of ``z_mid``.
SCALE_EXP = 0.0
#: Windowed scores enter the rolling statistics capped at WINSOR times ``z_mid`` (a winsorised
#: mean and variance): a few huge deviations, or the first days while the baseline forms, must
#: not make every later deviation look ordinary.
WINSOR = 2.0
_LOG10 = np.log(10.0)
_SQRT_2PI = np.sqrt(2.0 * np.pi)


def log10_tail(x: np.ndarray) -> np.ndarray:
    """``log10`` of the standard Gaussian upper tail ``Q(x)``, for any x; shape of ``x``.

    Karagiannidis & Lioumpas (2007): ``Q(x) ~ (1 - exp(-1.4 x)) exp(-x^2 / 2) / (1.135 sqrt(2 pi) x)``
    for x > 0 (a few percent relative error, fine in log units); ``Q(x) ~ 1/2`` for x <= 0.
    """
    x = np.maximum(np.asarray(x, dtype=float), 1e-6)
    log_q = np.log1p(-np.exp(-1.4 * x)) - 0.5 * x * x - np.log(1.135 * _SQRT_2PI * x)
    return np.minimum(log_q, np.log(0.5)) / _LOG10


def _trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Mean of each point and the ``k - 1`` before it (fewer at the start); shape (n,)."""
    if k <= 1:
        return x
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, x.shape[0] + 1)
    lo = np.maximum(i - k, 0)
    return (c[i] - c[lo]) / (i - lo)


def _rolling_stats(a: np.ndarray, lag: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of ``a`` over ``[t - lag - window, t - lag)`` per point, with the prior."""
    n = a.shape[0]
    c1 = np.concatenate([[0.0], np.cumsum(a)])
    c2 = np.concatenate([[0.0], np.cumsum(a * a)])
    hi = np.clip(np.arange(n) - lag + 1, 0, n)
    lo = np.clip(hi - window, 0, n)
    count = (hi - lo).astype(float)
    s1, s2 = c1[hi] - c1[lo], c2[hi] - c2[lo]
    w = count + PRIOR_POINTS
    mean = (s1 + PRIOR_POINTS * PRIOR_MEAN) / w
    second = (s2 + PRIOR_POINTS * (PRIOR_VAR + PRIOR_MEAN**2)) / w
    return mean, np.maximum(second - mean * mean, MIN_VAR)


def surprise(
    raw: np.ndarray, scales: tuple[int, ...], window: int, z_mid: float, s_mid: float
) -> np.ndarray:
    """``-log10`` of the (Bonferroni-bounded) tail probability of the recent raw scores; (n,).

    ``raw`` (n,) are non-negative raw deviation scores (robust z-scores of a rise or a drop);
    ``scales`` the window lengths in points; ``window`` the long window in points. At each scale
    the windowed score must be surprising twice: under the series' own rolling distribution (the
    likelihood), and as a robust z in its own right (the mean of ``k`` z-scores times ``k ** SCALE_EXP``
    judged as a Gaussian z, shifted so that ``z_mid`` scores ``s_mid``). A bursty series so raises
    its own bar, but a calm one never lowers it below the absolute one.
    """
    raw = np.nan_to_num(np.asarray(raw, dtype=float), nan=0.0)
    best = np.zeros(raw.shape[0])
    shift = s_mid + float(log10_tail(np.array(z_mid)))
    bonferroni = np.log10(len(scales))
    for k in scales:
        mean_k = _trailing_mean(raw, k)
        a = np.log1p(mean_k)
        mean, var = _rolling_stats(np.minimum(a, np.log1p(WINSOR * z_mid)), k, window)
        own = -log10_tail((a - mean) / np.sqrt(var))
        absolute = -log10_tail(mean_k * k**SCALE_EXP) + shift
        best = np.maximum(best, np.minimum(own - bonferroni, absolute))
    return np.maximum(best, 0.0)
