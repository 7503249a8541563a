"""The spike benchmark's hourly families: seeded, labelled, and as the docstrings say."""

from dataclasses import replace

import numpy as np

from bench.spend_hourly import hourly_series
from bench.spend_hourly_ramps import RAMPS_SEED_OFFSET, ramps_series
from bench.spike_oracle import oracle_alarms
from bench.splits import seeds


def _utc_day_of_month(ts: np.ndarray) -> np.ndarray:
    """0 for the 1st; -1 for the last day of the month (the next day is a 1st)."""
    day = ts.astype("datetime64[D]")
    dom = (day - day.astype("datetime64[M]").astype("datetime64[D]")).astype(int)
    tomorrow = day + np.timedelta64(1, "D")
    last = tomorrow.astype("datetime64[M]").astype("datetime64[D]") == tomorrow
    return np.where(last, -1, dom)


def test_a_share_of_monthly_jobs_run_on_the_first_in_local_time():
    """On the 1st in local time (UTC-11..+12) is the last day of the month, the 1st or the 2nd
    in UTC: about 40% of the series with a monthly job, and a few more by chance."""
    on_first = with_job = 0
    for seed in range(80):
        s = hourly_series(seed)
        starts = [e.start for e in s.events if e.kind == "monthly job"]
        if starts:
            with_job += 1
            on_first += bool(np.isin(_utc_day_of_month(s.timestamps[starts]), (-1, 0, 1)).all())
    assert with_job > 20
    assert 0.3 <= on_first / with_job <= 0.65


def test_ramps_family_is_seeded_labelled_and_its_loops_ramp():
    a, b = ramps_series(RAMPS_SEED_OFFSET + 3), ramps_series(RAMPS_SEED_OFFSET + 3)
    assert np.array_equal(a.values, b.values) and a.events == b.events
    loops = 0
    for seed in seeds("tuning", 40, RAMPS_SEED_OFFSET):
        s = ramps_series(seed)
        assert s.values.shape == s.timestamps.shape == s.clean_mask.shape
        assert np.all(s.values >= 0) and np.all(np.isfinite(s.values))
        for e in s.events:
            assert not s.clean_mask[e.start : e.end + 1].any()
            if e.kind == "runaway loop" and e.end > e.start:
                loops += 1
    assert loops >= 5
    # the family has its own seeds, apart from the spend family's in both splits
    assert RAMPS_SEED_OFFSET not in seeds("tuning", 600)


def test_the_oracle_is_told_the_usual_spend_and_catches_what_is_plain_to_see():
    """Each series carries its usual spend (before noise and events); the oracle built on it
    catches a 10x hour outside every event, and alarms under once per clean month."""
    alarms = clean_hours = 0
    for seed in range(30):
        s = hourly_series(seed, anomalies=0)
        assert s.usual.shape == s.values.shape and np.all(s.usual > 0)
        alarms += int(oracle_alarms(s)[s.clean_mask].sum())
        clean_hours += int(s.clean_mask[24 * 14 :].sum())
        at = next(h for h in range(24 * 40 + 11, s.values.size) if s.clean_mask[h])
        loop = replace(s, values=s.values + np.where(np.arange(s.values.size) == at, 9 * s.usual, 0.0))
        assert oracle_alarms(loop)[at]
    assert alarms / (clean_hours / (24 * 30)) < 1.0
