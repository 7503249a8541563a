"""A loop phased in over a few hours, then held at several times the usual spend, is reported while
it runs; a launch phased in to a lower step stays a new baseline."""

import numpy as np

from chalicelib.engines.spike_held import HELD_UP_POINTS
from chalicelib.engines.spikes import spike_scores

START = np.datetime64("2024-01-01T00:00")  # a Monday
AT = 24 * 45 + 9  # a Wednesday morning, after six weeks of history


def office_hours(seed: int, n_days: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h = np.arange(24 * n_days)
    office = 0.3 + np.exp(-0.5 * ((h % 24 - 13) / 4.0) ** 2)
    weekend = np.where((h // 24) % 7 >= 5, 0.4, 1.0)
    return START + h.astype("timedelta64[h]"), 8.0 * office * weekend * rng.lognormal(0, 0.15, h.size)


def phased(v: np.ndarray, steps: list[float], until: int) -> np.ndarray:
    """``v`` multiplied by each of ``steps`` for an hour from AT on, then by the last until ``until``."""
    out = v.copy()
    for k, m in enumerate(steps):
        out[AT + k] *= m
    out[AT + len(steps) : until] *= steps[-1]
    return out


def test_a_loop_phased_in_then_held_is_reported_while_it_runs():
    ts, v = office_hours(seed=3)
    loop = phased(v, [1.8, 2.6, 3.8], until=AT + 12)
    s = spike_scores(ts, loop)
    assert np.all(s[: AT] < 0.5)
    fired = np.nonzero(s >= 0.5)[0]
    # the third hour is at 3.8x; the rise has held HELD_UP_POINTS hours at that height six hours on
    assert fired.tolist() == [AT + 2 + HELD_UP_POINTS - 1]
    assert np.all(spike_scores(ts, v) < 0.5)  # the same series without the loop: silent


def test_a_launch_phased_in_to_a_lower_step_is_a_new_baseline():
    ts, v = office_hours(seed=3)
    launch = phased(v, [1.6, 2.1, 2.6], until=v.size)
    assert np.all(spike_scores(ts, launch) < 0.5)  # in "both" mode it is a level shift's notice
