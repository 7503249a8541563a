"""How far to trust a workspace's forecast: the engine's backtest on its own history, with a
shorter check when the plan keeps less history than the engine's test needs (Free keeps 30 days),
and the result in words a non-statistician reads ("off by about $4 a day; 9 of 10 days inside the
range"). Money in the words is rounded to the cent from the measured floats, and labelled "about"."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

SHORT_HORIZON = 7
SHORT_TRAIN = 14  # the short check trains on at least two weeks
SHORT_ORIGINS = 2


def _dollars(x: float) -> str:
    cents = Decimal(repr(max(0.0, float(x)))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"${cents:,}"


def _short_backtest(values: Any, level: float) -> dict:
    """Forecasts the last weeks from the days before them (at least two weeks of training each)."""
    import numpy as np

    from chalicelib.engines import forecast as engine

    n = values.shape[0]
    scores, hits, total = [], 0, 0
    for k in range(SHORT_ORIGINS):
        origin = n - SHORT_HORIZON * (k + 1)
        if origin < SHORT_TRAIN:
            break
        train, actual = values[:origin], values[origin:origin + SHORT_HORIZON]
        fc = engine.forecast(train, SHORT_HORIZON, level)
        error = np.abs(actual - fc.mean)
        scores.append(float(error.mean()) / engine.mase_scale(train))
        hits += int(np.sum((actual >= fc.lower) & (actual <= fc.upper)))
        total += SHORT_HORIZON
    return {"horizon": SHORT_HORIZON, "origins": len(scores), "mase": float(np.median(scores)) if scores else None,
            "coverage": hits / total if total else None, "level": level}


def accuracy(values: Any, horizon: int, level: float) -> dict[str, Any]:
    """The backtest's figures and ``summary``, a sentence or three in plain words."""
    import numpy as np

    from chalicelib.engines import forecast as engine

    check, kind = engine.backtest(values, horizon, level), "full"
    if check["mase"] is None:
        check, kind = _short_backtest(values, level), "short"
    days = check["origins"] * check["horizon"]
    typical = float(np.median(values[-28:])) if values.shape[0] else 0.0
    body: dict[str, Any] = {
        "mase": None if check["mase"] is None else round(check["mase"], 3),
        "coverage": None if check["coverage"] is None else round(check["coverage"], 3),
        "origins": check["origins"], "horizon": check["horizon"], "days_checked": days, "check": kind,
        "typical_daily_error": None, "typical_day": _dollars(typical)[1:],
    }
    if check["mase"] is None or not days:
        body["check"] = "none"
        body["summary"] = ("Not enough history to test the forecast yet: it needs three weeks of daily spend. "
                           "Until then, read the range rather than the single figure.")
        return body
    error = check["mase"] * engine.mase_scale(values)  # MASE is the mean error in units of this scale
    body["typical_daily_error"] = _dollars(error)[1:]
    inside = round(check["coverage"] * days)
    share = f" ({round(100 * error / typical)}% of a typical day's {_dollars(typical)})" if typical > 0 else ""
    verdict = ("better than assuming each day repeats the same weekday last week" if check["mase"] < 1
               else "no better than assuming each day repeats the same weekday last week, so treat it as a rough guide")
    band = round(level * 100)
    calibration = ("about as often as it should" if abs(check["coverage"] - level) <= 0.15
                   else "less often than it should: the real range is wider than shown" if check["coverage"] < level
                   else "more often than it needs to: the range is on the wide side")
    body["summary"] = (
        f"We replayed the forecast on this workspace's own past: {check['origins']} times we forecast the next "
        f"{check['horizon']} days from the days before and compared with what was really spent. "
        f"On average the forecast was off by about {_dollars(error)}{share}, {verdict}. "
        f"{inside} of {days} days fell inside the {band}% range, {calibration}.")
    return body
