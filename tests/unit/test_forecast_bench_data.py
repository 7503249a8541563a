"""The forecast benchmark's real daily series: NAB aggregates follow the NAB split, load as days."""

from pathlib import Path

import numpy as np

from bench import daily_real, splits
from bench.daily_wandering import KINDS, MAX_DAYS, MIN_DAYS, wandering_kind, wandering_series
from bench.forecast_bench import short_origins, wandering_band

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_nab_daily_aggregates_follow_their_nab_files_split():
    for daily, nab in ((splits.DAILY_TUNING, splits.NAB_TUNING), (splits.DAILY_REPORTING, splits.NAB_REPORTING)):
        derived = {k[len(daily_real.NAB_PREFIX) :] for k in daily if k.startswith(daily_real.NAB_PREFIX)}
        assert derived and derived <= set(nab)
    assert not set(splits.DAILY_TUNING) & set(splits.DAILY_REPORTING)
    for split in (splits.DAILY_TUNING, splits.DAILY_REPORTING):
        assert sum("realTweets/" in k for k in split) == 5
        assert sum("TravelTime_" in k for k in split) == 1


def test_every_daily_entry_loads_as_a_month_or_more_of_days():
    for name in (*splits.DAILY_TUNING, *splits.DAILY_REPORTING):
        y = daily_real.load(DATA, name)
        assert y.ndim == 1 and y.shape[0] >= 50, name
        assert np.isfinite(y[0]) and np.isfinite(y[-1]), name
        assert np.isfinite(y).mean() > 0.7, name


def test_nab_aggregate_is_the_mean_per_day_and_thin_days_are_missing(tmp_path):
    rows = ["timestamp,value"]
    rows += [f"2015-03-01 {h:02d}:00:00,10" for h in range(4)]  # a partial first day: 4 points
    for day in (2, 3, 4):
        rows += [f"2015-03-0{day} {h:02d}:00:00,{day * 10 + h % 2}" for h in range(24)]
    rows += ["2015-03-05 01:00:00,7"]  # a thin last day
    rows.insert(30, "2015-03-02 05:00:00,21")  # a repeated stamp, out of order
    path = tmp_path / "x.csv"
    path.write_text("\n".join(rows) + "\n")
    y = daily_real.load_nab_daily(path)
    assert y.shape == (3,)
    assert y[1] == 30.5 and y[2] == 40.5
    assert abs(y[0] - (20.5 * 24 + 21) / 25) < 1e-12


def test_short_series_are_forecast_to_the_end_of_the_data_at_most_30_days():
    assert short_origins(69) == [(28, 30), (35, 30), (42, 27), (49, 20), (56, 13)]
    assert short_origins(56) == [(28, 28), (35, 21), (42, 14), (49, 7)]
    assert short_origins(34) == []


def test_wandering_series_are_seeded_positive_and_within_the_stated_ranges():
    for seed in (*range(40), *splits.seeds("reporting", 5)):
        history, future = wandering_series(seed)
        assert 42 <= history.shape[0] <= 400 and 7 <= future.shape[0] <= 30
        assert np.all(history > 0) and np.all(future > 0)
    a, b = wandering_series(7), wandering_series(7)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(wandering_series(7)[0][:42], wandering_series(8)[0][:42])


def test_wandering_kinds_follow_the_drawn_drift_and_weekly_shape():
    kinds = [wandering_kind(seed) for seed in range(200)]
    assert set(kinds) == set(KINDS)
    assert 0.3 < kinds.count("drift") / 200 < 0.5  # drift on 40% of the seeds
    for seed in range(200):
        history, _ = wandering_series(seed)
        weeks = history[: 7 * (history.shape[0] // 7)].reshape(-1, 7)
        shape = np.median(np.log(weeks) - np.log(weeks).mean(axis=1, keepdims=True), axis=0)
        if kinds[seed] == "flat":
            assert np.ptp(shape) < 0.25  # no weekly shape (weekends 40-100% of weekdays otherwise)


def test_every_wandering_history_length_is_reported_in_one_band():
    bands = [wandering_band(days) for days in range(MIN_DAYS, MAX_DAYS + 1)]
    assert bands[0] == "wand 42-99" and bands[-1] == "wand 200-400" and len(set(bands)) == 3
