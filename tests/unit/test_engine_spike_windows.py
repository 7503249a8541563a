"""Spike engine: a busy stretch of a 5-minute series is news once, in "both" mode only."""

import numpy as np

from bench import synthetic
from chalicelib.engines.spike_episodes import Z_MID
from chalicelib.engines.spike_windows import stretch_strength
from chalicelib.engines.spikes import spike_scores

PER_DAY = 288  # 5-minute points


def five_minute_counts(n_days: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_days`` of 5-minute request counts with a daily rhythm (bench.synthetic)."""
    return synthetic.five_minute_counts(PER_DAY * n_days, seed)


def busy(v: np.ndarray, day: int, hours: int, factor: float, seed: int) -> slice:
    """Multiply ``hours`` of ``day``'s afternoon by ``factor`` (with fresh Poisson noise)."""
    rng = np.random.default_rng(seed)
    at = slice(day * PER_DAY + 14 * 12, day * PER_DAY + (14 + hours) * 12)
    v[at] = rng.poisson(v[at] * factor)
    return at


def test_a_busy_afternoon_the_point_rules_miss_is_one_alarm_in_both_mode():
    ts, v = five_minute_counts(24, seed=1)
    stretch = busy(v, day=17, hours=5, factor=1.8, seed=2)
    both = spike_scores(ts, v, direction="both")
    up = spike_scores(ts, v, direction="up")
    assert np.all(up[stretch] < 0.5)  # no single 5-minute point stands out of the noise
    assert np.sum(both[stretch] >= 0.5) == 1  # the stretch does, once


def test_a_clean_series_rarely_beats_its_busiest_stretch():
    # An unremarkable stretch is the busiest of five weeks now and then by chance; one that is
    # busier by any margin is news (NAB's standard profile: a missed event costs nine false alarms).
    alarms = 0
    for seed in range(5):
        ts, v = five_minute_counts(40, seed=100 + seed)
        alarms += int(np.sum(spike_scores(ts, v, direction="both") >= 0.5))
    assert alarms <= 5 * 4  # at most about three a month


def test_a_stretch_no_busier_than_one_a_week_earlier_is_no_news():
    rng = np.random.default_rng(3)
    v = rng.poisson(20.0, PER_DAY * 24).astype(float)
    first = busy(v, day=9, hours=5, factor=2.0, seed=4)
    second = busy(v, day=16, hours=5, factor=1.6, seed=5)
    s = stretch_strength(np.log(v + 1.0) - np.log(21.0), PER_DAY, Z_MID)
    assert s[first].max() >= Z_MID
    assert np.all(s[second] == 0.0)


def test_hourly_and_daily_series_never_use_the_channel():
    rng = np.random.default_rng(6)
    r = rng.normal(0, 0.3, 24 * 60)
    r[24 * 40 : 24 * 40 + 12] += 1.5
    assert np.all(stretch_strength(r, 24, Z_MID) == 0.0)
    assert np.all(stretch_strength(r[:200], 0, Z_MID) == 0.0)


def test_the_stretch_strength_is_causal():
    _, v = five_minute_counts(14, seed=7)
    busy(v, day=10, hours=4, factor=2.0, seed=8)
    r = np.log1p(v) - 3.0
    full = stretch_strength(r, PER_DAY, Z_MID)
    cut = 10 * PER_DAY + 14 * 12 + 30
    np.testing.assert_array_equal(stretch_strength(r[:cut], PER_DAY, Z_MID), full[:cut])
    assert full.max() > 0.0
