"""Anomaly likelihood: a series' own deviations set its bar; causal; the Gaussian tail is right."""

import math

import numpy as np

from chalicelib.engines.spike_likelihood import log10_tail, surprise


def test_log10_tail_matches_the_exact_gaussian_tail():
    for x in (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0):
        exact = math.log10(0.5 * math.erfc(x / math.sqrt(2)))
        assert abs(float(log10_tail(np.array(x))) - exact) < 0.05 * max(1.0, abs(exact))
    assert abs(float(log10_tail(np.array(-3.0))) - math.log10(0.5)) < 0.01


def test_the_same_deviation_is_less_surprising_in_a_bursty_series():
    rng = np.random.default_rng(0)
    calm = np.abs(rng.normal(0, 1, 2000))
    bursty = calm.copy()
    bursty[rng.choice(1900, 200, replace=False)] = 6.0  # bursts every few hours
    calm[1950] = bursty[1950] = 8.0
    s_calm = surprise(calm, (1, 3), 1000, 3.5, 3.5)
    s_bursty = surprise(bursty, (1, 3), 1000, 3.5, 3.5)
    assert s_calm[1950] > 3.5 > s_bursty[1950]


def test_surprise_is_causal_and_never_negative():
    raw = np.abs(np.random.default_rng(1).standard_t(3, 3000))
    full = surprise(raw, (1, 4, 16), 500, 3.5, 3.5)
    assert np.allclose(full[:1000], surprise(raw[:1000], (1, 4, 16), 500, 3.5, 3.5))
    assert np.all(full >= 0) and np.all(np.isfinite(full))


def test_a_calm_series_never_lowers_the_bar_below_the_absolute_one():
    raw = np.zeros(3000)  # a series that never deviated
    raw[2500] = 2.5  # a robust z of 2.5: unusual for this series, not in itself
    raw[2800] = 5.0
    s = surprise(raw, (1,), 1000, 3.5, 3.5)
    assert s[2500] < 3.5 < s[2800]
