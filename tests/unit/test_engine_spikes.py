"""Spike engine: runaway loops flagged at once; weekends, growth and monthly jobs not; causal."""

import numpy as np

from chalicelib.engines.spikes import detect, explain, spike_scores

START = np.datetime64("2024-01-01T00:00")  # a Monday


def hourly(
    n_days: int = 60, seed: int = 0, growth: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 24 * n_days
    h = np.arange(n)
    ts = START + h.astype("timedelta64[h]")
    office = 0.2 + np.exp(-0.5 * ((h % 24 - 14) / 3.5) ** 2)
    weekend = np.where((h // 24) % 7 >= 5, 0.3, 1.0)
    v = 5.0 * office * weekend * np.exp(growth * h / 24) * rng.lognormal(0, 0.15, n)
    return ts, v


def daily(n_days: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = np.arange(n_days)
    ts = START.astype("datetime64[D]") + d
    v = 100.0 * np.where(d % 7 >= 5, 0.4, 1.0) * rng.lognormal(0, 0.1, n_days)
    return ts, v


def test_hourly_runaway_flagged_on_first_point():
    ts, v = hourly()
    at = 24 * 45 + 10
    v[at : at + 6] *= 10.0
    s = spike_scores(ts, v)
    assert s.shape == v.shape and np.all((s >= 0) & (s <= 1))
    assert s[at] >= 0.5
    assert np.all(s[at - 48 : at] < 0.5)
    spikes = detect(ts, v)
    assert [sp.index for sp in spikes] == [at]
    assert spikes[0].observed > 5 * spikes[0].expected
    assert spikes[0].timestamp == ts[at]


def test_daily_runaway_flagged_on_the_day():
    ts, v = daily()
    v[100] *= 10.0
    s = spike_scores(ts, v)
    assert s[100] >= 0.5
    assert np.sum(s >= 0.5) == 1


def test_weekend_dips_and_slow_growth_not_flagged():
    ts, v = hourly(n_days=70, seed=1, growth=0.01)
    s = spike_scores(ts, v)
    assert np.sum(s >= 0.5) <= 1  # at most one alarm in ten weeks of clean data
    s_both = spike_scores(ts, v, direction="both")
    assert (
        np.sum(s_both[24 * 21 :] >= 0.5) <= 1
    )  # weekends are not drops once weeks are learned


def test_month_start_batch_job_not_flagged_after_the_first_month():
    ts, v = hourly(n_days=100, seed=2)
    day_of_month = (ts.astype("datetime64[D]") - ts.astype("datetime64[M]")).astype(int)
    hour = np.arange(v.shape[0]) % 24
    job = (day_of_month == 0) & (hour >= 2) & (hour < 4)
    v[job] += 20.0
    s = spike_scores(ts, v)
    second_and_later = job & (ts >= np.datetime64("2024-03-01"))
    assert second_and_later.sum() >= 4
    assert np.all(s[second_and_later] < 0.5)


def test_scores_are_causal():
    ts, v = hourly(n_days=30, seed=3)
    v[24 * 20 + 5] *= 8
    full = spike_scores(ts, v)
    for cut in (5, 30, 24 * 10, 24 * 20 + 6, 24 * 25):
        assert np.allclose(spike_scores(ts[:cut], v[:cut]), full[:cut])


def test_gaps_and_warmup():
    ts, v = hourly(n_days=30, seed=4)
    keep = np.ones(v.shape[0], bool)
    keep[200:260] = False  # a sync outage
    s = spike_scores(ts[keep], v[keep])
    assert s.shape == (keep.sum(),)
    assert np.all(s[:24] == 0.0)
    assert np.sum(s >= 0.5) <= 1
    assert spike_scores(ts[:0], v[:0]).shape == (0,)


def test_explain_ranks_drivers():
    ranked = explain(
        {"gpt-4o": 10.0, "claude": 5.0}, {"gpt-4o": 95.0, "claude": 6.0, "o1": 30.0}
    )
    assert [k for k, _ in ranked] == ["gpt-4o", "o1", "claude"]
    assert ranked[0][1] == 85.0
    assert explain({"a": 5.0}, {"a": 4.0}) == []


def test_a_thirtyfold_day_is_flagged_whatever_the_length_of_the_daily_history():
    """Noisy daily spend around $12, then a $385 day: flagged on the day after 30, 45, 60, 90 or 180
    days of history (a detector judging its scores against their own recent spread lost it at 90)."""
    rng = np.random.default_rng(1)
    for n in (30, 45, 60, 90, 180):
        values = np.clip(rng.normal(12, 6, n), 0.2, None)
        values[-1] = 385
        stamps = np.arange(np.datetime64("2026-12-01") - (n - 1), np.datetime64("2026-12-02"))
        assert [s.index for s in detect(stamps, values, threshold=0.5)][-1:] == [n - 1], n
