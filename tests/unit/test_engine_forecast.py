"""Forecast engine: shapes, robustness (short history, shifts, gaps, zeros), projection, backtest."""

import itertools

import numpy as np
import pytest

from chalicelib.engines.forecast import (
    Forecast,
    backtest,
    forecast,
    period_end_projection,
)

WEEK = np.array([1.2, 1.2, 1.1, 1.1, 1.0, 0.4, 0.3])


def spend(
    n: int, seed: int = 0, level: float = 100.0, noise: float = 0.08
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level * WEEK[np.arange(n) % 7] * rng.lognormal(0.0, noise, n)


def weekday_of_step(n: int, horizon: int) -> np.ndarray:
    """Index into WEEK of each forecast step for a history of length n."""
    return np.arange(n, n + horizon) % 7


@pytest.mark.parametrize("horizon", [7, 30, 90])
def test_shapes_non_negative_and_ordered(horizon):
    f = forecast(spend(200), horizon)
    assert isinstance(f, Forecast)
    for arr in (f.mean, f.lower, f.upper):
        assert arr.shape == (horizon,)
        assert np.all(np.isfinite(arr))
        assert np.all(arr >= 0)
    assert np.all(f.lower <= f.mean) and np.all(f.mean <= f.upper)
    assert not f.uncertain


def test_intervals_widen_with_horizon():
    f = forecast(spend(365, seed=3), 60)
    width = (f.upper - f.lower) / np.maximum(f.mean, 1e-9)
    assert width[-7:].mean() > width[:7].mean()


def test_short_history_is_flagged_uncertain_and_wide():
    short = forecast(np.array([10.0, 12.0, 11.0]), 14)
    assert short.uncertain
    assert short.mean.shape == (14,)
    assert np.all(short.upper > short.mean * 1.3)
    long = forecast(spend(200), 14)
    rel_short = (short.upper - short.lower) / short.mean
    rel_long = (long.upper - long.lower) / long.mean
    assert rel_short.mean() > 2 * rel_long.mean()


def test_level_shift_is_followed_within_days():
    y = spend(120, seed=1)
    y[-4:] *= 2.0  # a launch doubled spend four days ago
    f = forecast(y, 14)
    expected = 200.0 * WEEK[weekday_of_step(120, 14)]
    ratio = f.mean / expected
    assert 0.8 < np.median(ratio) < 1.2


def test_single_outlier_is_not_followed():
    y = spend(120, seed=2)
    y[-10] *= 20.0  # a runaway day, already over
    f = forecast(y, 14)
    expected = 100.0 * WEEK[weekday_of_step(120, 14)]
    assert np.median(f.mean / expected) < 1.2


def test_weekly_pattern_is_reproduced():
    f = forecast(spend(140, seed=4), 14)
    expected = 100.0 * WEEK[weekday_of_step(140, 14)]
    corr = np.corrcoef(f.mean, expected)[0, 1]
    assert corr > 0.95
    weekend = WEEK[weekday_of_step(140, 14)] < 0.5
    assert f.mean[weekend].max() < f.mean[~weekend].min()


def test_gaps_and_zeros_are_handled():
    y = spend(150, seed=5)
    y[30:35] = np.nan
    y[-3] = np.nan  # yesterday's sync is missing too
    y[80:83] = 0.0  # an outage
    f = forecast(y, 21)
    assert np.all(np.isfinite(f.mean)) and np.all(f.lower >= 0)
    expected = 100.0 * WEEK[weekday_of_step(150, 21)]
    assert 0.8 < np.median(f.mean / expected) < 1.2


def test_all_zero_history_forecasts_zero():
    f = forecast(np.zeros(60), 7)
    assert np.allclose(f.mean, 0.0)
    assert np.all(f.lower == 0.0)


def test_takes_any_history_but_rejects_bad_arguments():
    f = forecast(
        np.full(10, np.nan), 7
    )  # nothing observed: zero spend, flagged uncertain
    assert np.all(f.mean == 0.0) and f.uncertain
    assert forecast(spend(30), 0).mean.shape == (0,)
    with pytest.raises(ValueError):
        forecast(spend(30), -1)
    with pytest.raises(ValueError):
        forecast(spend(30), 7, level=1.5)


def test_growth_is_tracked():
    n = 200
    y = spend(n, seed=6) * np.exp(0.01 * np.arange(n))
    f = forecast(y, 28)
    last_week = np.median(y[-7:] / WEEK[np.arange(n - 7, n) % 7])
    assert np.median(f.mean[-7:] / WEEK[weekday_of_step(n, 28)[-7:]]) > last_week * 1.05


def test_period_end_probability_is_monotone_in_budget():
    y = spend(200, seed=7)
    probs = [
        period_end_projection(y, 1000.0, 15, budget=b).probability_over_budget
        for b in (1000.0, 2000.0, 2200.0, 2400.0, 2600.0, 3000.0, 10_000.0)
    ]
    assert probs[0] == 1.0 and probs[-1] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(probs))


def test_period_end_projection_figures():
    y = spend(200, seed=8)
    p = period_end_projection(y, 500.0, 10, budget=900.0)
    assert p.lower <= p.mean <= p.upper
    assert p.mean == pytest.approx(500.0 + p.daily.mean.sum())
    # Correlated daily errors: the total's interval is narrower than the sum of daily intervals
    # but wider than independent errors would give.
    assert (p.upper - p.lower) < (p.daily.upper - p.daily.lower).sum()
    assert (
        p.days_until_budget_exceeded is not None
        and 1 <= p.days_until_budget_exceeded <= 10
    )
    over = period_end_projection(y, 1000.0, 10, budget=900.0)
    assert over.days_until_budget_exceeded == 0 and over.probability_over_budget == 1.0
    never = period_end_projection(y, 0.0, 10, budget=1e6)
    assert never.days_until_budget_exceeded is None
    assert period_end_projection(y, 10.0, 10).probability_over_budget is None


def test_a_projection_that_holds_today_so_far_adds_only_the_rest_of_today():
    y = spend(200, seed=8)
    whole = period_end_projection(y, 500.0, 10, budget=900.0)
    quarter = period_end_projection(y, 500.0, 10, budget=900.0, today_left=0.25)
    today = whole.daily.mean[0]
    assert quarter.mean == pytest.approx(500.0 + 0.25 * today + whole.daily.mean[1:].sum())
    assert quarter.lower < quarter.mean < quarter.upper and quarter.upper < whole.upper
    assert quarter.probability_over_budget <= whole.probability_over_budget
    # just before midnight (today's spend all counted), nothing of today is left to forecast
    late = period_end_projection(y, 500.0, 10, today_left=0.0)
    assert late.mean == pytest.approx(500.0 + whole.daily.mean[1:].sum())


def test_period_end_projection_short_history_uses_parametric_paths():
    p = period_end_projection(
        np.array([10.0, 11.0, 9.0, 10.0, 12.0]), 50.0, 20, budget=300.0
    )
    assert p.daily.uncertain
    assert p.lower < p.mean < p.upper
    assert 0.0 <= p.probability_over_budget <= 1.0


def test_backtest_reports_accuracy_and_coverage():
    result = backtest(spend(365, seed=9), 30)
    assert result["origins"] == 4
    assert 0 < result["mase"] < 1.5
    assert 0.5 <= result["coverage"] <= 1.0
    assert backtest(spend(20), 30)["mase"] is None
