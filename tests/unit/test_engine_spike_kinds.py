"""Event kinds: a runaway loop, a leaked key, a recurring job and a new baseline are told apart."""

import numpy as np

from chalicelib.engines.spike_kinds import EventKind, classify
from chalicelib.engines.spikes import detect

START = np.datetime64("2024-01-01T00:00")  # a Monday
N = 24 * 60


def usual(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Timestamps, the usual hourly spend (office hours, quiet weekends) and a noisy series."""
    rng = np.random.default_rng(seed)
    h = np.arange(N)
    office = 0.15 + np.exp(-0.5 * ((h % 24 - 14) / 3.5) ** 2)
    weekend = np.where((h // 24) % 7 >= 5, 0.3, 1.0)
    e = 10.0 * office * weekend
    return START + h * np.timedelta64(1, "h"), e, e * rng.lognormal(0, 0.1, N)


def kind_at(ts, e, v, start, upto):
    return classify(ts[:upto], v[:upto], e[:upto], start).kind


def test_runaway_loop():
    ts, e, v = usual()
    at = 24 * 45 + 10
    v[at : at + 3] = e[at : at + 3] * 20
    assert kind_at(ts, e, v, at, at + 12) is EventKind.RUNAWAY


def test_leaked_key_is_flat_extra_spend_largest_at_night():
    ts, e, v = usual(1)
    at = 24 * 47 + 22  # a Tuesday night
    v[at:] += 8.0
    assert kind_at(ts, e, v, at, at + 24) is EventKind.LEAKED_KEY


def test_weekly_and_monthly_jobs_are_recurring():
    ts, e, v = usual(2)
    weekly = np.arange(24 * 3 + 3, N, 24 * 7)  # Thursdays 03:00
    v[weekly] += 40.0
    assert kind_at(ts, e, v, int(weekly[5]), int(weekly[5]) + 3) is EventKind.RECURRING
    ts, e, v = usual(3)
    firsts = [24 * 0 + 2, 24 * 31 + 2]  # 1 Jan and 1 Feb, 02:00
    v[firsts] += 60.0
    assert kind_at(ts, e, v, firsts[1], firsts[1] + 3) is EventKind.RECURRING


def test_a_launch_that_holds_is_a_new_baseline():
    ts, e, v = usual(4)
    at = 24 * 44 + 9
    v[at:] *= 2.0
    assert kind_at(ts, e, v, at, at + 12) is EventKind.NEW_BASELINE


def test_a_drop():
    ts, e, v = usual(5)
    v[24 * 44 + 12] = 0.0
    assert kind_at(ts, e, v, 24 * 44 + 12, 24 * 44 + 14) is EventKind.DROP


def test_detect_names_the_kind():
    ts, e, v = usual(6)
    at = 24 * 45 + 11
    v[at : at + 4] = e[at : at + 4] * 25
    found = detect(ts, v)
    assert [s.index for s in found] == [at]
    assert found[0].kind == EventKind.RUNAWAY.value and "x what is usual" in found[0].reason


def test_an_infinite_value_counts_as_missing_without_overflow():
    ts, e, v = usual(7)
    e, v = e / 1000, v / 1000  # cents, not dollars: inf / expected would overflow
    at = 24 * 45 + 11
    v[at : at + 4] = e[at : at + 4] * 25
    v[at + 1] = np.inf
    with np.errstate(all="raise"):
        assert classify(ts, v, e, at).kind is EventKind.RUNAWAY


def test_detect_judges_the_hours_after_the_onset_against_the_usual_spend():
    """A leaked key from Tuesday 22:00, seen a day later: detect names it a leaked key. Its level
    term has followed the extra spend within hours; the kind is judged against the usual spend at
    each hour, which has not."""
    ts, _, v = usual(1)
    at = 24 * 47 + 22
    v[at:] += 8.0
    found = detect(ts[: at + 24], v[: at + 24])
    assert found and found[0].index == at
    assert found[0].kind == EventKind.LEAKED_KEY.value


def test_a_spikes_kind_is_settled_once_a_day_of_points_is_read_and_says_what_they_cost():
    """At the alarm a leaked key reads as a runaway loop and is not settled; a day of hours later
    it is settled, with the day's spend against its usual (the alert's follow-up reads these)."""
    ts, e, v = usual(1)
    at = 24 * 47 + 22
    v[at:] += 8.0
    [alarm] = detect(ts[: at + 1], v[: at + 1])
    assert alarm.kind == EventKind.RUNAWAY.value and not alarm.settled and alarm.read_points == 1
    half = detect(ts[: at + 12], v[: at + 12])[0]
    assert not half.settled and half.read_points == 12
    day = detect(ts[: at + 30], v[: at + 30])[0]
    assert day.index == at and day.settled and day.read_points == 24
    assert day.kind == EventKind.LEAKED_KEY.value
    assert day.read_observed == np.sum(v[at : at + 24])
    assert 0.8 * np.sum(e[at : at + 24]) < day.read_expected < 1.2 * np.sum(e[at : at + 24])


def test_a_jump_from_almost_nothing_is_told_without_a_huge_multiple():
    ts, e, v = usual(8)
    at = 24 * 45 + 11
    e[at], v[at] = 1e-9, 5.0  # usually close to nothing; 5e9x as a multiple
    found = classify(ts, v, e, at)
    assert found.kind is EventKind.RUNAWAY
    assert found.reason == "spend jumped to more than 100x what is usual at this time, usually close to nothing"
    e[at] = 0.5  # 10x: the multiple itself
    assert classify(ts, v, e, at).reason == "spend jumped to 10.0x what is usual at this time"
