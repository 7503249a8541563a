"""Daily spend forecast with prediction intervals, period-end projection and self-backtest.

Why this shape: a team's API spend is short, weekly-seasonal, trending, full of holes (a sync
missed a day), zeros (outages, weekends) and one-off spikes (a runaway loop), and it jumps when a
feature launches. No single model is good at all of that, and model fitting per request must stay
within milliseconds. So the forecast combines simple forecasters (a recent median, seasonal
naive, Theta where a trend shows: :mod:`chalicelib.engines.forecast_methods`) and damped Holt-Winters
(:mod:`chalicelib.engines.forecast_ets`), weighted by their own rolling-origin errors on the series
(:mod:`chalicelib.engines.forecast_combine`), all run on a cleaned copy of the history (weekday
factors divided out, a recent level shift carried back, outliers replaced, gaps filled:
:mod:`chalicelib.engines.forecast_prepare`).

Prediction intervals are empirical: the 1..h-day-ahead log errors that exponential smoothing made
on this very series (one row per past origin) give per-horizon quantiles. The same error rows,
sampled whole, simulate future paths for the period-end projection, which keeps the day-to-day
correlation of errors: the interval of a sum is not the sum of the daily intervals.

Money in CostPilot is ``Decimal`` (integer minor units at rest). This module works in ``float`` on
purpose: it does statistics, not accounting; its outputs are estimates with intervals. The API
layer converts to and from ``Decimal`` at the edge.

Shapes: ``history`` is (n,) daily values oldest first, NaN for missing days; every forecast array
is (horizon,).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from chalicelib.engines import forecast_combine
from chalicelib.engines import forecast_methods as fm
from chalicelib.engines.forecast_prepare import Prepared, prepare
from chalicelib.engines.robust import (
    mad_sd,
    sorted_column_quantiles,
)
from chalicelib.engines.seasonality import PERIOD

#: Below this many observed days the forecast is flagged uncertain.
CONFIDENT_DAYS = 28
#: Widening of the empirical intervals, INTERVAL_SCALE * (1 + FEW_ORIGINS / sqrt(k)) for k past
#: origins: the errors are measured in-sample on a cleaned series, and the quantiles of few error
#: rows understate the tails by about 1 / sqrt(k). Calibrated on the tuning split of
#: bench/forecast_bench.py to cover about 80% on 365-day and on 28-63 day histories alike (one
#: constant of 1.15 gave 84% on 365 days and 78% on short histories).
INTERVAL_SCALE = 1.0
FEW_ORIGINS = 1.0


@dataclass(frozen=True)
class Forecast:
    """Point forecast and prediction interval per future day, each of shape (horizon,)."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    method: str
    uncertain: bool


@dataclass(frozen=True)
class PeriodProjection:
    """Projected total spend at the period's end (spent so far plus the forecast of the rest)."""

    mean: float
    lower: float
    upper: float
    level: float
    probability_over_budget: float | None
    days_until_budget_exceeded: int | None
    daily: Forecast


@dataclass(frozen=True)
class _Model:
    """A forecast plus what is needed to simulate paths from it."""

    forecast: Forecast
    offsets: np.ndarray  # (horizon,) log offset per day (c times the weekday factor)
    error_rows: (
        np.ndarray
    )  # (k, horizon) centred, scaled log errors of past origins; NaN-padded
    sigma: np.ndarray  # (horizon,) log-scale standard deviation implied by the interval


def _error_matrix(prep: Prepared, fit: fm.SesFit, horizon: int) -> np.ndarray:
    """Log errors of SES forecasts from every past origin, shape (origins, horizon), NaN-padded.

    Row ``i`` holds the 1..horizon-day-ahead errors made from one origin, so a row is one
    realistic path of (correlated) errors.
    """
    n = prep.clean.shape[0]
    warm = min(7, n - 1)
    origins = np.arange(warm, n - 1)
    if origins.size == 0:
        return np.full((0, horizon), np.nan)
    steps = np.arange(1, horizon + 1)
    idx = origins[:, None] + steps[None, :]
    inside = idx < n
    actual = np.where(inside, prep.z_actual[np.minimum(idx, n - 1)], np.nan)
    predicted = np.log(fit.levels[origins] + prep.offset)[:, None]
    return actual - predicted


def _model(history: np.ndarray, horizon: int, level: float) -> _Model:
    if horizon < 0:
        raise ValueError("horizon must not be negative")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    prep = prepare(history)
    n_obs = int(np.isfinite(prep.observed).sum())
    uncertain = n_obs < CONFIDENT_DAYS
    mean, fit, method = forecast_combine.point(prep, horizon)
    future_factors = prep.profile[np.arange(horizon) % PERIOD]
    offsets = prep.offset * future_factors
    z_q = NormalDist().inv_cdf(0.5 + level / 2)
    alpha = (1 - level) / 2

    errors = _error_matrix(prep, fit, horizon)
    centred = errors - _column_medians(errors)
    q = sorted_column_quantiles(centred, np.array([alpha, 1 - alpha]), min_count=10)
    scale = INTERVAL_SCALE * (1.0 + FEW_ORIGINS / np.sqrt(max(errors.shape[0], 1)))
    lo, hi = q[0] * scale, q[1] * scale
    lo, hi = _extend(lo, hi, z_q, prep)
    if uncertain:
        # Few days say little about the noise, nothing about the weekly shape or the trend:
        # widen by how little was seen.
        widen = 1.0 + (CONFIDENT_DAYS - n_obs) / CONFIDENT_DAYS
        lo, hi = lo * widen, hi * widen
    lo = np.minimum.accumulate(np.minimum(lo, 0.0))
    hi = np.maximum.accumulate(np.maximum(hi, 0.0))
    lower = np.maximum((mean + offsets) * np.exp(lo) - offsets, 0.0)
    upper = np.maximum((mean + offsets) * np.exp(hi) - offsets, mean)
    lower = np.minimum(lower, mean)
    if prep.shifted:
        method += "+shift"
    fc = Forecast(mean, lower, upper, method, uncertain)
    sigma = (hi - lo) / (2 * z_q)
    return _Model(fc, offsets, centred * scale, sigma)


def _column_medians(m: np.ndarray) -> np.ndarray:
    med = sorted_column_quantiles(m, np.array([0.5]), min_count=1)[0]
    return np.where(np.isfinite(med), med, 0.0)


def _extend(
    lo: np.ndarray, hi: np.ndarray, z_q: float, prep: Prepared
) -> tuple[np.ndarray, np.ndarray]:
    """Fill horizons with too few past errors: grow the last measured width like sqrt(h).

    With no measured horizon at all (very short history) the width comes from the day-to-day
    changes of the series, with a floor of 25% per day: a guess, hence wide.
    """
    h = np.arange(1, lo.shape[0] + 1, dtype=float)
    good = np.isfinite(lo) & np.isfinite(hi)
    if good.any():
        last = int(np.nonzero(good)[0].max())
        grow = np.sqrt(h / h[last])
        lo = np.where(good, lo, lo[last] * grow)
        hi = np.where(good, hi, hi[last] * grow)
        return lo, hi
    z = prep.z_actual[np.isfinite(prep.z_actual)]
    step_sd = mad_sd(np.diff(z)) / np.sqrt(2) if z.size >= 3 else 0.0
    sd = max(step_sd, 0.25) * np.sqrt(h)
    return -z_q * sd, z_q * sd


def forecast(history: np.ndarray, horizon: int, level: float = 0.8) -> Forecast:
    """Forecast the next ``horizon`` days of spend with a central ``level`` prediction interval.

    ``history``: shape (n,), daily spend oldest first, NaN for missing days, n >= 1 observed day
    (3+ recommended; under 28 observed days the result is flagged ``uncertain``).
    Returns arrays of shape (horizon,), non-negative, with ``lower <= mean <= upper``.
    """
    return _model(history, horizon, level).forecast


def _simulate(model: _Model, days: int, n_paths: int, seed: int) -> np.ndarray:
    """Future daily spend paths, shape (n_paths, days).

    Whole rows of past errors are resampled when enough origins cover the horizon (this keeps
    their correlation across days); otherwise a common-shock log-normal model with correlation
    0.6 between days is used, matching the daily interval widths.
    """
    rng = np.random.default_rng(seed)
    mean = model.forecast.mean[:days]
    offsets = model.offsets[:days]
    rows = model.error_rows[:, :days]
    complete = rows[np.isfinite(rows).all(axis=1)]
    if complete.shape[0] >= 30:
        shocks = complete[rng.integers(0, complete.shape[0], n_paths)]
    else:
        rho = 0.6
        common = rng.standard_normal((n_paths, 1))
        own = rng.standard_normal((n_paths, days))
        shocks = (np.sqrt(rho) * common + np.sqrt(1 - rho) * own) * model.sigma[:days]
    return np.maximum((mean + offsets) * np.exp(shocks) - offsets, 0.0)


def period_end_projection(
    history: np.ndarray,
    spent_so_far: float,
    days_left: int,
    level: float = 0.8,
    budget: float | None = None,
    n_paths: int = 2000,
    today_left: float = 1.0,
) -> PeriodProjection:
    """Project the period's total: ``spent_so_far`` plus forecast spend over ``days_left`` days.

    The first of the ``days_left`` days is today, and only ``today_left`` (in [0, 1]) of its
    forecast is still to come: the share of today ahead when ``spent_so_far`` already holds
    today's spend so far (1.0 when it holds none of today). So a day that has already run away
    counts at what it cost, and the projection does not jump at midnight when today's spend
    becomes yesterday's.

    The interval and ``probability_over_budget`` come from simulated paths (seeded, so a request
    repeated gives the same answer). ``days_until_budget_exceeded`` is counted on the point
    forecast: 0 if already over, None if not within ``days_left``.
    """
    spent = float(spent_so_far)
    if days_left <= 0:
        over = None if budget is None else float(spent > budget)
        empty = np.zeros(0)
        daily = Forecast(empty, empty, empty, "none", False)
        days = 0 if budget is not None and spent > budget else None
        return PeriodProjection(spent, spent, spent, level, over, days, daily)
    model = _model(history, days_left, level)
    paths = _simulate(model, days_left, n_paths, seed=20240601)
    ahead = np.ones(days_left)  # (days_left,): the share of each day's forecast still to come
    ahead[0] = min(max(float(today_left), 0.0), 1.0)
    totals = spent + paths @ ahead
    alpha = (1 - level) / 2
    mean_total = spent + float(model.forecast.mean @ ahead)
    lower = min(float(np.quantile(totals, alpha)), mean_total)
    upper = max(float(np.quantile(totals, 1 - alpha)), mean_total)
    probability = None
    days_until = None
    if budget is not None:
        probability = float(np.mean(totals > budget))
        if spent > budget:
            days_until = 0
        else:
            crossed = np.nonzero(spent + np.cumsum(model.forecast.mean * ahead) > budget)[0]
            days_until = int(crossed[0]) + 1 if crossed.size else None
    return PeriodProjection(
        mean_total, lower, upper, level, probability, days_until, model.forecast
    )


def mase_scale(train: np.ndarray, m: int = PERIOD) -> float:
    """Mean absolute seasonal-naive (lag ``m``) change of ``train`` (NaN ignored), the MASE unit.

    Falls back to lag 1, then to the mean absolute value, when the series is too short or flat.
    """
    for lag in (m, 1):
        if train.shape[0] > lag:
            diffs = np.abs(train[lag:] - train[:-lag])
            diffs = diffs[np.isfinite(diffs)]
            if diffs.size and diffs.mean() > 0:
                return float(diffs.mean())
    v = np.abs(train[np.isfinite(train)])
    return float(v.mean()) if v.size and v.mean() > 0 else 1.0


def backtest(
    history: np.ndarray, horizon: int, level: float = 0.8, origins: int = 4
) -> dict:
    """How well :func:`forecast` did on this series' own recent past.

    Forecasts from up to ``origins`` past origins (stepping back a week each, each with at least
    28 days of training data) and compares with what happened. Returns
    ``{"horizon", "origins", "mase", "coverage", "level"}``: median MASE (seasonal naive scale,
    m=7; below 1 beats copying last week) and the share of actual days inside the interval.
    ``mase``/``coverage`` are None when the history is too short to test.
    """
    x = np.asarray(history, dtype=float).ravel()
    n = x.shape[0]
    scores: list[float] = []
    hits = 0
    total = 0
    for k in range(origins):
        origin = n - horizon - PERIOD * k
        if origin < CONFIDENT_DAYS:
            break
        train, actual = x[:origin], x[origin : origin + horizon]
        if not np.isfinite(train).any():
            break
        fc = forecast(train, horizon, level)
        ok = np.isfinite(actual)
        if not ok.any():
            continue
        scores.append(
            float(np.mean(np.abs(actual[ok] - fc.mean[ok]))) / mase_scale(train)
        )
        hits += int(np.sum((actual[ok] >= fc.lower[ok]) & (actual[ok] <= fc.upper[ok])))
        total += int(ok.sum())
    return {
        "horizon": horizon,
        "origins": len(scores),
        "mase": float(np.median(scores)) if scores else None,
        "coverage": hits / total if total else None,
        "level": level,
    }
