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
    s = hourly_series(0, n_hours=24 * 30, anomalies=1)
    scores = contract.spike_scores(s.timestamps, s.values)
    assert scores.shape == s.values.shape
    assert np.all((scores >= 0) & (scores <= 1))


def test_synthetic_generators_are_seeded_and_label_their_events():
    a, b = hourly_series(7), hourly_series(7)
    assert np.array_equal(a.values, b.values) and a.events == b.events
    assert np.all(daily_series(3).values >= 0)
    s = hourly_series(11, anomalies=2)
    anomalies = [e for e in s.events if e.anomaly]
    assert len(anomalies) == 2
    for e in anomalies:
        assert not s.clean_mask[e.start : e.end + 1].any()
    assert np.all(s.values >= 0)
