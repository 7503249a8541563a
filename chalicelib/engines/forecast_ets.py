"""Damped-trend exponential smoothing with weekly seasonality (ETS(A,Ad,A) on log spend), fitted
by grid search with every candidate parameter set run at once.

Why: the combination in :mod:`chalicelib.engines.forecast` lacked a model that learns the weekly
shape and a trend jointly and lets both drift; Holt-Winters with a damped trend is the classic
one (Gardner & McKenzie 1985; Hyndman et al., "Forecasting with exponential smoothing"). Fitting
it with an optimiser per request costs hundreds of milliseconds (statsforecast's AutoETS takes
about 440 ms on 365 days); here a small grid of (alpha, beta, gamma, phi) runs as one vector of
states, so each time step is a handful of numpy operations on ``K`` candidates, over the last
``FIT_DAYS`` days only.

Works on ``z = log(y + c)`` (y cleaned, on the original scale), so the seasonality and the trend
are multiplicative in spend. States per candidate: level, trend, seven seasonal terms.
Shapes: ``y`` (n,), forecasts (horizon,), candidate arrays (K,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERIOD = 7
#: Days the model is fitted on at most (its states forget older days anyway).
FIT_DAYS = 182
#: Days at the start of the fit window whose errors are not scored (states still settling).
BURN_IN = 14


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    alpha = np.array([0.05, 0.15, 0.3, 0.5, 0.75])
    beta = np.array([0.0, 0.02, 0.08])
    gamma = np.array([0.0, 0.05, 0.2])
    phi = np.array([0.8, 0.9, 0.98])
    a, b, g, p = np.meshgrid(alpha, beta, gamma, phi, indexing="ij")
    return a.ravel(), (a * b).ravel(), ((1 - a) * g).ravel(), p.ravel()


#: The candidate parameters (K = 135): beta and gamma are given as shares of what is left, as in
#: the usual admissible region (beta <= alpha, gamma <= 1 - alpha).
ALPHA, BETA, GAMMA, PHI = _grid()
#: With fewer scored one-step errors than this (under 6 weeks of history) the parameters are not
#: chosen by them but set cautiously: a slow level (alpha 0.15), no trend learnt, slow seasonal
#: updates. (Before, a month of history left no error at all and the argmin took the first set.)
MIN_SCORED = 14
CAUTIOUS = int(
    np.nonzero(np.isclose(ALPHA, 0.15) & (BETA == 0.0) & np.isclose(GAMMA, 0.85 * 0.05) & (PHI == 0.8))[0][0]
)


@dataclass(frozen=True)
class EtsFit:
    """The chosen candidate's parameters and final states; ``states_at`` are the states at the
    requested past origins, for rolling-origin forecasts (each a (level, trend, seasonal[7]))."""

    alpha: float
    beta: float
    gamma: float
    phi: float
    level: float
    trend: float
    season: np.ndarray  # (7,) by position t % 7 of the fit window
    n: int  # points in the fit window
    states_at: dict[int, tuple[float, float, np.ndarray]]


def fit(
    z: np.ndarray, origins: tuple[int, ...] = (), weekly: np.ndarray | None = None
) -> EtsFit:
    """Fit on ``z`` (shape (n,), log scale, no NaN, n >= 2 * PERIOD); keep states at ``origins``.

    ``origins`` are counts of points seen from the end of the fit window backwards (an origin of
    14 means "after all but the last 14 points"). ``weekly`` (shape (7,), log weekday factors
    indexed by :func:`chalicelib.engines.seasonality.phases` of ``z``), when given, is where the
    seasonal terms start; otherwise they start from the first two weeks of the fit window, whose
    noise a slow or zero seasonal update (gamma) then carries for months.
    """
    z = z[-FIT_DAYS:]
    n = z.shape[0]
    first, second = z[:PERIOD], z[PERIOD : 2 * PERIOD]
    k = ALPHA.shape[0]
    level = np.full(k, float(second.mean()))
    trend = np.full(k, float(second.mean() - first.mean()) / PERIOD * 0.5)
    if weekly is None:
        base = 0.5 * (first + second) - 0.5 * (first.mean() + second.mean())
    else:
        base = weekly[(np.arange(PERIOD) - n) % PERIOD]  # by position t % 7 of the fit window
        base = base - base.mean()
    season = np.tile(base[:, None], (1, k))  # (7, K): row t % 7, contiguous per step
    errors = np.empty((n, k))
    keep: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    want = {n - o: o for o in origins if 2 * PERIOD <= n - o < n}
    # Every operation writes into a buffer (no array is allocated per step: the loop is the cost).
    damped, step = np.empty(k), np.empty(k)
    for t in range(2 * PERIOD, n):
        if t in want:
            keep[want[t]] = (level.copy(), trend.copy(), season.copy())
        s = season[t % PERIOD]  # a view: updated in place below
        np.multiply(PHI, trend, out=damped)
        level += damped
        err = errors[t]
        np.subtract(z[t], level, out=err)
        err -= s
        np.multiply(ALPHA, err, out=step)
        level += step
        np.multiply(BETA, err, out=trend)
        trend += damped
        np.multiply(GAMMA, err, out=step)
        s += step
    scored = errors[BURN_IN + 2 * PERIOD :]
    # A handful of errors would pick noise's favourite: too few, and the cautious set is used.
    few = scored.shape[0] < MIN_SCORED
    best = CAUTIOUS if few else int(np.argmin(np.einsum("tk,tk->k", scored, scored)))
    return EtsFit(
        float(ALPHA[best]), float(BETA[best]), float(GAMMA[best]), float(PHI[best]),
        float(level[best]), float(trend[best]), season[:, best].copy(), n,
        {o: (float(lv[best]), float(tr[best]), s[:, best].copy()) for o, (lv, tr, s) in keep.items()},
    )


def forecast_from(
    level: float, trend: float, season: np.ndarray, phi: float, start: int, horizon: int
) -> np.ndarray:
    """Log-scale forecast of ``horizon`` steps from states after ``start`` points; (horizon,)."""
    h = np.arange(1, horizon + 1, dtype=float)
    damp = phi * (1 - phi**h) / (1 - phi) if phi < 1 else h
    return level + damp * trend + season[(start + h.astype(int) - 1) % PERIOD]


def forecast(f: EtsFit, horizon: int) -> np.ndarray:
    """Log-scale forecast after the whole fit window; shape (horizon,)."""
    return forecast_from(f.level, f.trend, f.season, f.phi, f.n, horizon)


def forecast_origin(f: EtsFit, back: int, horizon: int) -> np.ndarray | None:
    """Log-scale forecast made ``back`` points before the end of the fit window (None if not kept)."""
    if back not in f.states_at:
        return None
    level, trend, season = f.states_at[back]
    return forecast_from(level, trend, season, f.phi, f.n - back, horizon)
