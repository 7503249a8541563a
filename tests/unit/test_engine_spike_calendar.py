"""Spike engine's recurring-job calendar: month ends, one-off long rises, a young series' first job."""

import numpy as np

from chalicelib.engines.spike_calendar import in_short_run
from chalicelib.engines.spikes import spike_scores
from tests.unit.test_engine_spikes_baseline import office_hours

START = np.datetime64("2024-01-01T00:00")  # a Monday


def flat(n_days: int, seed: int, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Hourly spend of about $10 with a mild daily shape."""
    rng = np.random.default_rng(seed)
    h = np.arange(24 * n_days)
    ts = START + h.astype("timedelta64[h]")
    shape = 1.0 + 0.3 * np.sin(2 * np.pi * h / 24)
    return ts, 10.0 * shape * rng.lognormal(0, noise, h.shape[0])


def index(ts: np.ndarray, when: str) -> int:
    return int(np.nonzero(ts == np.datetime64(when))[0][0])


def test_a_job_on_the_first_ahead_of_utc_is_recurring_at_every_month_end():
    """A job at 00:00 on the 1st in UTC+2 runs at 22:00 UTC on the last day of each month: Jan 31,
    Feb 29, Mar 31, Apr 30. Those are not the same day of the month; they are the same distance
    from the month's end, and no run after the first is news."""
    ts, v = flat(125, seed=3)
    runs = [index(ts, f"2024-{m}T22:00") for m in ("01-31", "02-29", "03-31", "04-30")]
    for at in runs:
        v[at] += 80.0
    s = spike_scores(ts, v)
    assert all(s[at] < 0.5 for at in runs[1:])
    assert s[runs[0]] >= 0.5  # the first run is news


def test_a_loop_in_the_same_hour_as_an_earlier_long_loop_still_alarms():
    """A ten-hour loop on Tuesday 3 weeks in, another loop a week later at the same hour: the first
    was no job (a job's run is short), so it vouches for nothing."""
    ts, v = flat(60, seed=5)
    first = index(ts, "2024-01-23T09:00")
    v[first : first + 10] *= 6.0
    second = first + 7 * 24
    v[second : second + 3] *= 6.0
    s = spike_scores(ts, v)
    assert s[first] >= 0.5
    assert s[second] >= 0.5


def test_a_job_first_seen_on_the_first_day_vouches_for_its_second_run():
    """The first run comes on the series' first day, while the noise scale is still wide; the
    second run, a calendar month later, is the same job."""
    ts, v = office_hours(70, seed=1)
    runs = [index(ts, "2024-01-01T16:00"), index(ts, "2024-02-01T16:00")]
    for at in runs:
        v[at] *= 10.0
    assert spike_scores(ts, v)[runs[1]] < 0.5


def test_short_runs():
    flags = np.array([1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1], dtype=bool)
    assert in_short_run(flags, 4).astype(int).tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert not in_short_run(np.zeros(3, dtype=bool), 4).any()


def test_a_job_in_the_first_morning_vouches_for_its_second_run():
    """On the first day the baseline does not know the daily shape yet, so the whole morning reads
    as one long rise; a job at 10:00 inside it is still a job's run for the month after."""
    ts, v = office_hours(70, seed=0)
    runs = [index(ts, "2024-01-01T10:00"), index(ts, "2024-02-01T10:00")]
    for at in runs:
        v[at] *= 6.0
    assert spike_scores(ts, v)[runs[1]] < 0.5
