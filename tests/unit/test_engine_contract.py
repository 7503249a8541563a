"""The benchmark contract returns what outside benchmarks expect."""

import numpy as np

from bench import contract
from bench.synthetic import daily_series, hourly_series


def test_contract_forecast_shapes():
    s = daily_series(0, n_days=365)
    f = contract.forecast(s.values, 30)
    for arr in (f.mean, f.lower, f.upper):
        assert np.asarray(arr).shape == (30,)
    assert np.all(f.lower <= f.upper)
    f90 = contract.forecast(list(s.values[:100]), 7, level=0.9)
    assert f90.mean.shape == (7,)


def test_contract_spike_scores_shape_and_range():
    s = hourly_series(0, n_hours=24 * 30, n_runaways=1)
    scores = contract.spike_scores(s.timestamps, s.values)
    assert scores.shape == s.values.shape
    assert np.all((scores >= 0) & (scores <= 1))
    a, _ = s.runaways[0]
    assert scores[a] >= 0.5


def test_synthetic_generator_is_seeded():
    a, b = hourly_series(7), hourly_series(7)
    assert np.array_equal(a.values, b.values) and a.runaways == b.runaways
    assert np.all(daily_series(3).values >= 0)
