"""Damped Holt-Winters on log spend, and the error-weighted combination around it."""

import numpy as np

from chalicelib.engines import forecast_combine, forecast_ets
from chalicelib.engines.forecast_prepare import prepare
from chalicelib.engines.seasonality import phases

WEEK = np.array([1.0, 1.1, 1.05, 1.0, 0.9, 0.35, 0.3])


def weekly_growing(n: int = 200, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100.0 * np.exp(0.004 * t) * WEEK[t % 7] * rng.lognormal(0, noise, n)


def test_ets_learns_the_weekly_shape_and_the_trend():
    y = weekly_growing(230)
    train, future = y[:200], y[200:]
    fit = forecast_ets.fit(np.log(train))
    fc = np.exp(forecast_ets.forecast(fit, 30))
    assert np.mean(np.abs(fc / future - 1)) < 0.08
    flat = np.full(30, np.median(train[-7:]))
    assert np.mean(np.abs(fc - future)) < 0.5 * np.mean(np.abs(flat - future))


def test_ets_states_at_an_origin_forecast_what_followed():
    y = np.log(weekly_growing(200, seed=1))
    fit = forecast_ets.fit(y, origins=(14, 28))
    back = forecast_ets.forecast_origin(fit, 14, 14)
    assert back is not None and np.mean(np.abs(np.exp(back - y[-14:]) - 1)) < 0.1
    assert forecast_ets.forecast_origin(fit, 99, 14) is None


def test_a_forecaster_that_fails_on_this_series_gets_no_weight():
    prep = prepare(weekly_growing(120, seed=2))
    candidates, _ = forecast_combine._candidates(prep)
    candidates["broken"] = lambda back, h: np.full(h, 1e6)
    w = forecast_combine._weights(prep, candidates)
    assert w[-1] == 0.0 and abs(w.sum() - 1.0) < 1e-12 and np.all(w >= 0)


def test_the_combination_labels_its_weights():
    mean, _, label = forecast_combine.point(prepare(weekly_growing(120, seed=3)), 10)
    assert mean.shape == (10,) and np.all(mean > 0)
    assert label.startswith("weighted(") and "ets:" in label


def test_a_month_of_history_gets_the_cautious_parameters_not_noises_favourite():
    y = np.log(weekly_growing(28, seed=4, noise=0.2))
    fit = forecast_ets.fit(y)
    assert (fit.alpha, fit.beta, fit.phi) == (0.15, 0.0, 0.8)


def weights_of_two(n: int) -> np.ndarray:
    """Weights of two forecasters, one twice as far off the held-out days as the other."""
    prep = prepare(weekly_growing(n, seed=5))
    y = prep.clean * prep.profile[phases(n)]
    scale = float(np.mean(y))

    def off_by(share: float):
        return lambda back, h: y[n - back : n - back + h] + share * scale

    return forecast_combine._weights(prep, {"close": off_by(0.05), "twice as far": off_by(0.1)})


def test_on_a_long_history_the_clearly_better_forecaster_gets_a_sharper_say():
    assert np.allclose(weights_of_two(80), [0.8, 0.2])  # 1 / MAE ** 2
    assert np.allclose(weights_of_two(150), [16 / 17, 1 / 17])  # 1 / MAE ** 4


def weekday_shape_error(forecast: np.ndarray, days: np.ndarray) -> float:
    """RMS error of a log forecast's weekday shape (its mean taken out) against WEEK's."""
    true = np.log(WEEK[days % 7])
    return float(np.sqrt(np.mean((forecast - forecast.mean() - (true - true.mean())) ** 2)))


def test_given_the_weekday_factors_the_seasonal_terms_start_there_not_from_two_noisy_weeks():
    n, days = 182, np.arange(182, 196)
    weekly = np.log(WEEK[(n + np.arange(7)) % 7])  # by phase: phase k is day n + k
    errors = {"first weeks": [], "given": []}
    for seed in range(20):
        z = 4.0 + np.log(WEEK[np.arange(n) % 7]) + np.random.default_rng(seed).normal(0.0, 0.15, n)
        errors["first weeks"].append(weekday_shape_error(forecast_ets.forecast(forecast_ets.fit(z), 14), days))
        given = forecast_ets.fit(z, weekly=weekly)
        errors["given"].append(weekday_shape_error(forecast_ets.forecast(given, 14), days))
    assert np.mean(errors["given"]) < 0.01 < 0.03 < np.mean(errors["first weeks"])  # 0.003, 0.042


def test_on_a_long_history_holt_winters_starts_from_the_weekday_factors_of_the_whole_history():
    n, days = 200, np.arange(200, 214)
    errors = []
    for seed in range(20):
        y = 100.0 * WEEK[np.arange(n) % 7] * np.random.default_rng(seed).lognormal(0.0, 0.25, n)
        ets = forecast_combine._candidates(prepare(y))[0]["ets"](0, 14)
        errors.append(weekday_shape_error(np.log(ets), days))
    assert np.mean(errors) < 0.065  # 0.059; 0.070 starting from the first two weeks
