"""The point forecast: a recent median, seasonal naive, damped Holt-Winters and (on trending series)
Theta, combined by weights from their own rolling-origin errors on this series.

Each forecaster is wrong in its own way (:mod:`chalicelib.engines.forecast_methods`,
:mod:`chalicelib.engines.forecast_ets`). Which one is least wrong depends on the series: a smooth
trending one favours Holt-Winters, a noisy flat one the median. So each is also run from
``ORIGINS`` past origins (the last 14, 28, 42 days held out in turn), its mean absolute error
there measured against the cleaned history, and the forecasts are combined with weights
proportional to ``1 / MAE ** POWER`` (a higher power on long histories), after dropping those
more than ``TRIM`` times worse than the best (a robust combination: a model that failed on this
series gets no say, the rest share it). With too little history to test, the plain mean. On a
short history that behaves like a random walk the result is moved toward the latest (SES) level
(:func:`persistence`).

Shapes: ``Prepared`` arrays are (n,); forecasts are (horizon,) on the original scale.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chalicelib.engines import forecast_ets as ets
from chalicelib.engines import forecast_methods as fm
from chalicelib.engines.forecast_prepare import Prepared
from chalicelib.engines.robust import log_offset
from chalicelib.engines.seasonality import PERIOD, phases

#: Held-out stretches (days back from the end) that each forecaster is tested on.
ORIGINS = (14, 28, 42)
#: Days of each held-out stretch that are scored.
TEST_DAYS = 14
#: Forecasters whose test error is over TRIM times the best one's get no weight.
TRIM = 3.0
#: Weight of a forecaster: 1 / MAE ** POWER (squared: a clearly better model on this series gets
#: most of the say; on series that are not spend, random walks and yearly cycles, the flat
#: forecasters otherwise dragged Holt-Winters down).
POWER = 2.0
#: From LONG_DAYS of history on, the weight is 1 / MAE ** LONG_POWER: with squared weights a level
#: that wanders (a random walk) still gave about a quarter of the say to seasonal naive, which
#: lags it by weeks, and the models fitted on months of data (Holt-Winters) earn a sharper say.
#: Chosen on the tuning split of bench/forecast_bench.py (powers 3 and 4, from 100, 112, 140 and
#: 182 days; on short histories a higher power cost the exchange series; more held-out stretches
#: on long histories, up to 168 days back, changed nothing).
LONG_DAYS = 112
LONG_POWER = 4.0
#: From LONG_DAYS on, Holt-Winters' seasonal terms also start from the weekday factors of the
#: whole history (:mod:`chalicelib.engines.seasonality`) instead of its first two weeks. On the
#: tuning split this helped the 365-day, shapes and wandering groups; on every history it cost the
#: short groups (tweets 0.865x -> 0.894x paired against AutoETS), from 70 days on the 42-99 day
#: wandering levels (0.932x -> 0.941x).
#: Theta takes part only where a line explains this share of the last 13 weeks of log spend: on
#: real series an unconditional Theta cost accuracy, on trending ones its absence did.
TREND_SHARE = 0.3
#: Days of history a forecaster needs before it takes part, and before ETS (and Theta) does.
MIN_DAYS = 14
ETS_DAYS = 28
#: On a short history (under PERSIST_DAYS, i.e. before every held-out stretch can be tested) the
#: weights see too little to tell a level that wanders and stays (an ad exchange's daily price: a
#: random walk) from noise around a level (tweet counts). The combination then leans on medians
#: and slow smoothing, which lag the first kind by days. So the forecast is moved toward the SES
#: level (its alpha fitted on this series) by how much the series looks like a random walk: the
#: robust variance ratio of 7-day to 1-day changes (:func:`fm.variance_ratio`), from no move at
#: PERSIST_RATIO[0] to all the way at PERSIST_RATIO[1]. The lower end was chosen on the tuning split
#: of bench/forecast_bench.py from 0.4-0.8 as the one that leaves no short group worse (0.4-0.5 cost
#: the tweet series 0.5-2%); the plain (non-robust) variance ratio also caught spiky tweet series.
#: The upper end is about the median ratio of a pure random walk of 28-63 days (0.72-0.92 once
#: cleaned; 1 only in the long run): an end of 1 left half of the true random walks part-way.
PERSIST_DAYS = max(ORIGINS) + ETS_DAYS
PERSIST_RATIO = (0.6, 0.8)

Candidate = Callable[[int, int], np.ndarray]  # (days held back, horizon) -> forecast


def _candidates(prep: Prepared) -> tuple[dict[str, Candidate], fm.SesFit]:
    """Each forecaster as a function of (days held back, horizon); also SES on the whole history."""
    d = prep.clean
    n = d.shape[0]
    y = d * prep.profile[phases(n)]
    whole = fm.fit_ses(d)

    def factors(back: int, horizon: int) -> np.ndarray:
        return prep.profile[(np.arange(horizon) - back) % PERIOD]

    out: dict[str, Candidate] = {
        "median7": lambda b, h: fm.recent_median_forecast(d[: n - b], h) * factors(b, h),
    }
    if n >= MIN_DAYS:
        out["snaive"] = lambda b, h: fm.seasonal_naive_forecast(y[: n - b], h)
    if n >= ETS_DAYS and fm.trend_share(np.log(d + prep.offset)) >= TREND_SHARE:

        def ses_at(back: int) -> fm.SesFit:  # the level after all but ``back`` points
            if back == 0:
                return whole
            return fm.SesFit(whole.alpha, float(whole.levels[n - back - 1]), whole.levels[: n - back])

        out["theta"] = lambda b, h: fm.theta_forecast(d[: n - b], ses_at(b), h) * factors(b, h)
    if n >= ETS_DAYS:
        c = log_offset(y)
        weekly = np.log(prep.profile) if n >= LONG_DAYS else None
        fit = ets.fit(np.log(y + c), tuple(o for o in ORIGINS if n - o >= ETS_DAYS), weekly)

        def holt_winters(b: int, h: int) -> np.ndarray:
            z = ets.forecast(fit, h) if b == 0 else ets.forecast_origin(fit, b, h)
            if z is None:
                return np.full(h, np.nan)
            v = np.exp(np.minimum(z, 700.0)) - c
            return np.where(v < 1e-9 * c, 0.0, v)  # exp(log(c)) - c is float dust, not spend

        out["ets"] = holt_winters
    return out, whole


def _weights(prep: Prepared, candidates: dict[str, Candidate]) -> np.ndarray:
    """Weight per candidate (sums to 1) from its errors on the held-out stretches."""
    d = prep.clean
    n = d.shape[0]
    y = d * prep.profile[phases(n)]
    k = len(candidates)
    errors = np.zeros(k)
    tested = 0
    for back in ORIGINS:
        if n - back < MIN_DAYS:
            continue
        actual = y[n - back : n - back + TEST_DAYS]
        rows = np.vstack([f(back, actual.shape[0]) for f in candidates.values()])
        if not np.isfinite(rows).all():
            continue
        errors += np.abs(rows - actual[None, :]).mean(axis=1)
        tested += 1
    if tested == 0 or not np.all(np.isfinite(errors)):
        return np.full(k, 1.0 / k)
    errors = np.maximum(errors, 1e-12 * max(float(np.abs(y).mean()), 1e-12))
    keep = errors <= TRIM * errors.min()
    w = np.where(keep, errors ** -(LONG_POWER if n >= LONG_DAYS else POWER), 0.0)
    return w / w.sum()


def persistence(prep: Prepared) -> float:
    """Share in [0, 1] of the forecast given to the SES level on a short history (PERSIST_RATIO)."""
    n = prep.clean.shape[0]
    if n >= PERSIST_DAYS:
        return 0.0
    ratio = fm.variance_ratio(np.log(prep.clean + prep.offset))
    lo, hi = PERSIST_RATIO
    return float(np.clip((ratio - lo) / (hi - lo), 0.0, 1.0))


def point(prep: Prepared, horizon: int) -> tuple[np.ndarray, fm.SesFit, str]:
    """Weighted combination of the forecasters, shape (horizon,); the SES fit; a method label."""
    candidates, whole = _candidates(prep)
    w = _weights(prep, candidates)
    stack = np.vstack([f(0, horizon) for f in candidates.values()])
    mean = np.maximum(w @ np.nan_to_num(stack, nan=0.0), 0.0)
    label = ",".join(f"{name}:{weight:.2f}" for name, weight in zip(candidates, w, strict=True))
    share = persistence(prep)
    if share > 0.0:
        level = whole.level * prep.profile[np.arange(horizon) % PERIOD]
        mean = (1.0 - share) * mean + share * np.maximum(level, 0.0)
        label += f";level:{share:.2f}"
    return mean, whole, f"weighted({label})"
