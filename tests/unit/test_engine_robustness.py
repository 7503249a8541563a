"""The benchmark contract's entry points take data as it comes and never raise.

Every NAB file in ../shared/data (repeated timestamps, points out of order, gaps) and the edge
cases real spend and monitoring data have: NaN, inf, zeros, negative values (refunds), constant
series, one point, very long series, disorder and repeats. Spike scores come one per input point,
in the input's order, and are causal in arrival order (a prefix scores the same alone).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import contract

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NAB = DATA / "nab"
#: Points per NAB file scored in the test (the head of the file, where disorder also occurs, and
#: a slice of the middle), to keep the test fast while every file is touched.
CAP = 1500
H = np.timedelta64(1, "h")
T0 = np.datetime64("2024-01-01T00:00")


def nab_files() -> list[str]:
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    return sorted(k for k in windows if (NAB / "data" / k).exists())


def load(key: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [
        r.split(",")
        for r in (NAB / "data" / key).read_text().splitlines()[1:]
        if r.strip()
    ]
    ts = np.array([r[0].replace(" ", "T") for r in rows], dtype="datetime64[s]")
    return ts, np.array([float(r[1]) for r in rows])


def check_scores(ts: np.ndarray, v: np.ndarray) -> np.ndarray:
    s = contract.spike_scores(ts, v)
    assert s.shape == (np.asarray(v).shape[0],)
    assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    return s


def check_forecast(history: np.ndarray, horizon: int = 14) -> None:
    f = contract.forecast(history, horizon)
    for a in (f.mean, f.lower, f.upper):
        assert np.asarray(a).shape == (horizon,) and np.all(np.isfinite(a))
    assert np.all(f.lower <= f.mean) and np.all(f.mean <= f.upper)


def test_the_data_folder_has_all_34_nab_files():
    assert len(nab_files()) == 34


def test_real_nab_files_have_repeats_and_disorder():
    """The robustness below is exercised for real: some files go back in time or repeat."""
    odd = [
        k for k in nab_files() if np.any(np.diff(load(k)[0]) <= np.timedelta64(0, "s"))
    ]
    assert odd


@pytest.mark.parametrize("key", nab_files())
def test_contract_on_every_nab_file(key):
    ts, v = load(key)
    mid = v.shape[0] // 2
    for sl in (slice(0, CAP), slice(mid, mid + CAP // 2)):
        s = check_scores(ts[sl], v[sl])
        head = check_scores(ts[sl][: CAP // 3], v[sl][: CAP // 3])
        assert np.allclose(head, s[: CAP // 3])  # causal in arrival order
    check_forecast(v[:400])


def series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h = np.arange(n)
    return T0 + h * H, 5.0 * (1.2 + np.sin(2 * np.pi * h / 24)) * rng.lognormal(
        0, 0.2, n
    )


def edge_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ts, v = series(24 * 40)
    rng = np.random.default_rng(1)
    shuffled = rng.permutation(v.shape[0])
    repeated = np.repeat(ts[:300], 2)
    gap = np.concatenate([ts[:200], ts[200:400] + 400 * 24 * H])
    nat = ts.copy()
    nat[[0, 5, 50]] = np.datetime64("NaT")
    odd_inf = np.where(np.arange(v.shape[0]) % 11 == 0, np.inf, 1.0)
    return {
        "empty": (ts[:0], v[:0]),
        "one point": (ts[:1], v[:1]),
        "two points": (ts[:2], v[:2]),
        "constant": (ts, np.full(v.shape[0], 3.0)),
        "all zeros": (ts, np.zeros(v.shape[0])),
        "all NaN": (ts, np.full(v.shape[0], np.nan)),
        "some NaN and inf": (
            ts,
            np.where(np.arange(v.shape[0]) % 7 == 0, np.nan, v) * odd_inf,
        ),
        "negative (refunds)": (ts, v - 6.0),
        "all negative": (ts, -v),
        "shuffled": (ts[shuffled], v[shuffled]),
        "reversed": (ts[::-1], v[::-1]),
        "repeated timestamps": (repeated, np.repeat(v[:300], 2)),
        "same timestamp": (np.full(100, T0), v[:100]),
        "a gap of a year": (gap, v[:400]),
        "NaT": (nat, v),
        "tiny values": (ts, v * 1e-12),
        "huge values": (ts, v * 1e12),
        "daily": (T0.astype("datetime64[D]") + np.arange(400), v[:400]),
        "five-minute": (
            T0 + np.arange(3000) * np.timedelta64(5, "m"),
            np.resize(v, 3000),
        ),
        "very long": series(24 * 365 * 3)[0:2],
        # 40 days of 5-minute points (the busy-stretch channel reads them) with holes, repeats
        # and a wild value
        "five-minute, untidy": (
            np.repeat(T0 + np.arange(5760) * np.timedelta64(10, "m"), 2),
            np.where(np.arange(11520) % 13 == 0, np.nan, np.resize(v, 11520)) * np.where(
                np.arange(11520) == 9000, 1e9, 1.0
            ),
        ),
    }


@pytest.mark.parametrize("name", list(edge_cases()))
def test_contract_on_edge_cases(name):
    ts, v = edge_cases()[name]
    s = check_scores(ts, v)
    if v.shape[0] > 40:
        assert np.allclose(check_scores(ts[:40], v[:40]), s[:40])
    check_forecast(v[-500:])
    assert contract.forecast(v[-500:], 0).mean.shape == (0,)


def test_a_point_arriving_late_scores_at_the_newest_time_and_changes_nothing_before():
    ts, v = series(24 * 30)
    late = np.insert(ts, 600, ts[100])
    vals = np.insert(v, 600, v[100])
    s = check_scores(late, vals)
    assert np.allclose(s[:600], check_scores(ts[:600], v[:600]))


def test_a_jump_is_still_caught_after_repeats_and_disorder():
    ts, v = series(24 * 40, seed=3)
    v[24 * 35 + 4] *= 20
    mixed_ts = ts.copy()
    mixed_ts[500], mixed_ts[501] = ts[501], ts[500]  # two points out of order
    mixed_ts = np.insert(mixed_ts, 300, ts[300])  # a repeated hour
    mixed_v = np.insert(v, 300, v[300])
    s = check_scores(mixed_ts, mixed_v)
    assert s[24 * 35 + 5] >= 0.5
