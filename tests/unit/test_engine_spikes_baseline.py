"""Spike engine: the level is a whole day's, recurring jobs are judged as ratios, two-hour rises."""

import numpy as np

from chalicelib.engines.spikes import spike_scores

START = np.datetime64("2024-01-01T00:00")  # a Monday


def office_hours(
    n_days: int, seed: int, start_hour: int = 0, noise: float = 0.12
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly spend peaking at 14:00 (a night at 3% of the peak), starting at ``start_hour``."""
    rng = np.random.default_rng(seed)
    h = np.arange(24 * n_days) + start_hour
    ts = START + h.astype("timedelta64[h]")
    shape = 0.03 + np.exp(-0.5 * ((h % 24 - 14) / 2.5) ** 2)
    return ts, 20.0 * shape * rng.lognormal(0, noise, h.shape[0])


def test_a_night_time_loop_is_flagged_when_the_series_starts_in_office_hours():
    """The first eight hours are all office hours; a fivefold loop at 03:00 is still news."""
    ts, v = office_hours(40, seed=0, start_hour=10)
    at = int(np.nonzero(ts == np.datetime64("2024-02-02T03:00"))[0][0])
    v[at : at + 4] *= 5.0
    s = spike_scores(ts, v)
    assert s[at] >= 0.5
    assert np.sum(s[24 * 7 :] >= 0.5) <= 2


def test_a_monthly_job_is_not_news_when_the_noise_has_calmed_since_its_last_run():
    """Noisy January, calm February and March: the job on the 1st at 02:00 is the same ratio."""
    ts, v = office_hours(100, seed=1)
    rng = np.random.default_rng(7)
    v[: 24 * 31] *= rng.lognormal(0, 0.4, 24 * 31)
    day_of_month = (ts.astype("datetime64[D]") - ts.astype("datetime64[M]")).astype(int)
    hour = np.arange(v.shape[0]) % 24
    job = (day_of_month == 0) & (hour == 2)
    v[job] += 15.0
    s = spike_scores(ts, v)
    later = job & (ts >= np.datetime64("2024-02-01"))
    assert later.sum() == 3
    assert np.all(s[later] < 0.5)


def test_a_3x_rise_that_holds_two_hours_is_flagged_and_a_doubling_is_not():
    """Just below the single-point bar (3.3x), two 3.2x hours in a row are a loop."""
    ts, v = office_hours(40, seed=2, noise=0.04)
    at = 24 * 30 + 14
    loop = v.copy()
    loop[at : at + 5] *= 3.2
    s = spike_scores(ts, loop)
    assert s[at : at + 2].max() >= 0.5
    launch = v.copy()
    launch[at:] *= 2.0
    assert np.all(spike_scores(ts, launch)[at:] < 0.5)


def young_daily(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A month of erratic daily spend for a young workspace: $0-43 a day."""
    rng = np.random.default_rng(seed)
    values = np.clip(rng.normal(15, 12, 31), 0, 43)
    return np.datetime64("2026-11-01") + np.arange(31), values


def test_a_day_far_above_a_noisy_month_is_flagged_and_a_busy_day_is_not():
    """$157 after a month of $0-43 days is news; $60 (1.4x the month's largest) is not."""
    for seed in range(5):
        ts, v = young_daily(seed)
        v[-1] = 157.0
        assert spike_scores(ts, v)[-1] >= 0.5, seed
        v[-1] = 1.4 * v[:-1].max()
        assert spike_scores(ts, v)[-1] < 0.5, seed


def test_a_day_below_an_earlier_peak_of_the_month_is_no_record():
    ts, v = young_daily(0)
    v[12] = 500.0  # a runaway day twelve days in (flagged by the main rule)
    v[-1] = 157.0  # below the 500 of eighteen days before: no record
    s = spike_scores(ts, v)
    assert s[12] >= 0.5 and s[-1] < 0.5
    assert np.allclose(spike_scores(ts[:20], v[:20]), s[:20])


def test_a_loop_right_after_a_noisy_hour_that_fired_still_alarms():
    """A 4x hour fires; a 10x loop starting the next hour is an escalation, not the same episode."""
    ts, v = office_hours(40, seed=3, noise=0.04)
    at = 24 * 30 + 13
    v[at] *= 4.0
    v[at + 1 : at + 6] *= 10.0
    s = spike_scores(ts, v)
    assert s[at] >= 0.5 and s[at + 1] >= 0.5
    assert np.all(s[at + 2 : at + 6] < 0.5)


def test_empty_hours_do_not_hide_a_loop():
    """Missing data billed as zero (one hour in forty) is a deep drop every day or two; it must not
    widen the bar for rises. A fourfold loop on a steady $5-an-hour series is still flagged, and
    the empty hours alone are no alarm."""
    for seed in (0, 2):
        rng = np.random.default_rng(seed)
        h = np.arange(24 * 40)
        ts = START + h.astype("timedelta64[h]")
        v = 5.0 * (1 + 0.1 * np.sin(2 * np.pi * h / 24)) * rng.lognormal(0, 0.1, h.shape[0])
        v[rng.random(v.shape[0]) < 0.025] = 0.0
        assert np.all(spike_scores(ts, v) < 0.5)
        at = 24 * 33 + 2
        v[at : at + 6] = 4.0 * 5.0
        s = spike_scores(ts, v)
        assert s[at : at + 2].max() >= 0.5
        assert np.sum(s[24 * 7 :] >= 0.5) == 1


def test_a_busy_third_hour_of_a_launch_is_judged_against_its_first_two():
    """A launch steps spend up 2.5x at 14:00; its third hour is a further 1.4x (3.5x the old
    baseline). Two hours held are the new baseline: no runaway alert. A 3.5x loop from the
    same hour still alarms on its first point."""
    ts, v = office_hours(40, seed=4, noise=0.04)
    at = 24 * 30 + 13
    launch = v.copy()
    launch[at:] *= 2.5
    launch[at + 2] *= 1.4
    assert np.all(spike_scores(ts, launch)[at:] < 0.5)
    loop = v.copy()
    loop[at : at + 4] *= 3.5
    assert spike_scores(ts, loop)[at] >= 0.5


def test_a_loop_held_for_two_hours_stands_out_of_noise_that_hides_a_single_hour():
    """Noisy spend (40% per hour): a fourfold hour is within the noise, but noise rarely lifts two
    hours in a row, so a fourfold pair of hours is a loop by its second hour."""
    ts, v = office_hours(40, seed=2, noise=0.4)
    assert np.all(spike_scores(ts, v)[24 * 14 :] < 0.5)
    at = 24 * 30 + 13
    v[at : at + 4] *= 4.0
    s = spike_scores(ts, v)
    assert s[at] < 0.5
    assert s[at + 1] >= 0.5
