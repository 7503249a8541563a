"""Spike engine: a level shift that holds is one notice in "both" mode, never a budget alert."""

import numpy as np

from chalicelib.engines.spike_shift import HELD_POINTS
from chalicelib.engines.spikes import detect, spike_scores

START = np.datetime64("2024-01-01T00:00")  # a Monday


def smooth_hourly(n_days: int = 40, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h = np.arange(24 * n_days)
    ts = START + h.astype("timedelta64[h]")
    shape = 1.0 + 0.5 * np.sin(2 * np.pi * h / 24)
    return ts, 10.0 * shape * rng.lognormal(0, 0.04, h.shape[0])


def test_a_held_rise_of_1_6x_is_one_notice_after_it_has_held_in_both_mode():
    ts, v = smooth_hourly()
    at = 24 * 30 + 5
    v[at:] *= 1.6
    s = spike_scores(ts, v, direction="both")
    fired = np.nonzero(s >= 0.5)[0]
    assert fired.size == 1
    assert at + 24 <= fired[0] <= at + HELD_POINTS  # after the launch's first day
    assert np.all(spike_scores(ts, v, direction="up") < 0.5)  # a launch is no budget alert
    (spike,) = detect(ts, v, direction="both")
    assert spike.kind == "new baseline"
    assert 1.4 <= spike.observed / spike.expected <= 1.8  # against the usual, not the followed level


def test_a_held_drop_to_half_is_one_notice_in_both_mode():
    ts, v = smooth_hourly(seed=4)
    at = 24 * 30 + 5
    v[at:] *= 0.5
    s = spike_scores(ts, v, direction="both")
    assert np.sum(s[at:] >= 0.5) >= 1
    assert np.sum(s[at + HELD_POINTS :] >= 0.5) <= 1


def test_a_held_shift_does_not_hide_a_runaway_loop_on_top_of_it():
    ts, v = smooth_hourly(seed=5)
    at = 24 * 30 + 5
    v[at:] *= 1.6
    loop = at + HELD_POINTS + 3
    v[loop : loop + 4] *= 10.0
    s = spike_scores(ts, v, direction="both")
    assert s[loop] >= 0.5


def test_a_busy_day_on_a_noisy_series_is_no_shift():
    rng = np.random.default_rng(6)
    h = np.arange(24 * 40)
    ts = START + h.astype("timedelta64[h]")
    v = 10.0 * rng.lognormal(0, 0.5, h.shape[0])
    v[24 * 30 : 24 * 31 + 12] *= 1.4
    s = spike_scores(ts, v, direction="both")
    assert np.all(s[24 * 30 : 24 * 32] < 0.5)


def test_held_shift_is_the_same_computed_in_blocks(monkeypatch):
    """Long series are windowed a block at a time (bounded memory); blocks change nothing."""
    from chalicelib.engines import spike_shift

    rng = np.random.default_rng(7)
    resid = rng.normal(0, 0.3, 5_000)
    resid[2_000:2_100] += 1.0
    resid[3_000:3_050] -= 1.0
    resid[100] = np.nan
    sd = np.full(resid.shape[0], 0.2)
    whole = spike_shift.held_shift(resid, sd, 3.5)
    monkeypatch.setattr(spike_shift, "BLOCK_CELLS", 32 * 7)
    assert np.array_equal(spike_shift.held_shift(resid, sd, 3.5), whole)
    assert whole[2_060] > 3.5 and whole[3_045] > 3.5 and whole[1_000] < 1.0
