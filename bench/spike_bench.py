"""Spike detector benchmark: NAB scoring on ../shared/data/nab plus injected runaway loops.

Run from the repository root::

    .venv/bin/python -m bench.spike_bench [--quick] [--data ../shared/data]

NAB part: scores come from ``bench.contract.spike_scores`` (jumps and drops); the threshold
is optimised per profile on the whole corpus (as NAB does) and reported; the realAdExchange subset
is scored at the corpus threshold (and, for reference, at its own best threshold). Also printed at
the standard-profile threshold: window recall, false alarms per series-month, detection delay
(from the labelled anomaly; negative means before it).

Synthetic part: hourly spend series from :mod:`bench.synthetic` with injected runaway loops
(3-50x for 1-12 hours) scored by ``bench.contract.spike_scores`` at the default threshold (0.5): share caught on the first
anomalous hour, and false alarms per series-month on clean series (no loops; half of them have
month-start batch jobs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench import contract, nab
from bench.synthetic import daily_series, hourly_series
from chalicelib.engines import spikes

PUBLISHED = {"windowed Gaussian": 39.6, "Twitter ADVec": 47.1, "Numenta HTM": 70.0}
DEFAULT_THRESHOLD = 0.5


def load_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = [
        line.split(",") for line in path.read_text().splitlines()[1:] if line.strip()
    ]
    ts = np.array([r[0].replace(" ", "T") for r in rows], dtype="datetime64[s]")
    return ts, np.array([float(r[1]) for r in rows])


def nab_corpus(data: Path) -> list[tuple[str, np.ndarray, np.ndarray, list, list]]:
    windows = json.loads(
        (data / "nab" / "labels" / "combined_windows.json").read_text()
    )
    labels = json.loads((data / "nab" / "labels" / "combined_labels.json").read_text())
    out = []
    for key in sorted(windows):
        path = data / "nab" / "data" / key
        if not path.exists():
            continue
        ts, v = load_csv(path)
        w = [
            (
                np.datetime64(a.replace(" ", "T")[:19]),
                np.datetime64(b.replace(" ", "T")[:19]),
            )
            for a, b in windows[key]
        ]
        lab = [np.datetime64(x.replace(" ", "T")[:19]) for x in labels.get(key, [])]
        out.append((key, ts, v, w, lab))
    return out


def nab_part(data: Path, scorer, label: str) -> float:
    corpus = nab_corpus(data)
    profiles = nab.load_profiles(data / "nab" / "profiles.json")
    files, scores = [], []
    t0 = time.perf_counter()
    for key, ts, v, w, _ in corpus:
        files.append(nab.prepare_file(key, ts, w))
        scores.append(scorer(ts, v))
    elapsed = time.perf_counter() - t0
    n_rows = sum(s.shape[0] for s in scores)
    print(
        f"[{label}] {len(files)} files, {n_rows} rows, {1e6 * elapsed / n_rows:.1f} us per point"
    )
    candidates = np.unique(
        np.concatenate([np.linspace(0.05, 0.99, 95), np.linspace(0.99, 0.9999, 20)])
    )
    ad = [i for i, f in enumerate(files) if f.name.startswith("realAdExchange")]
    standard_thr = DEFAULT_THRESHOLD
    standard_score = 0.0
    for p in profiles:
        thr, value = nab.best_threshold(files, scores, p, candidates)
        sub_files = [files[i] for i in ad]
        sub_scores = [scores[i] for i in ad]
        null, perfect = nab.null_and_perfect(sub_files, p)
        total = sum(
            nab.raw_score(f, s >= thr, p)[0] for f, s in zip(sub_files, sub_scores)
        )
        sub_at_corpus = nab.normalised(total, null, perfect)
        sub_thr, sub_best = nab.best_threshold(sub_files, sub_scores, p, candidates)
        print(
            f"  {p.name:<20} corpus {value:6.1f} (threshold {thr:.4f}) | realAdExchange {sub_at_corpus:6.1f} "
            f"at corpus threshold, {sub_best:6.1f} at its own ({sub_thr:.4f})"
        )
        if p.name == "standard":
            standard_thr, standard_score = thr, value
    # Operational figures at the standard threshold.
    windows_total = windows_found = fps = 0
    months = 0.0
    delays = []
    for (key, ts, v, w, lab), f, s in zip(corpus, files, scores):
        det = (s >= standard_thr) & f.scored
        _, found, fp = nab.raw_score(
            f, det, nab.load_profiles(data / "nab" / "profiles.json")[0]
        )
        windows_total += f.n_windows
        windows_found += found
        fps += fp
        months += float((ts[-1] - ts[0]) / np.timedelta64(1, "D")) * (1 - 0.15) / 30.0
        for k, (lo, hi) in enumerate(w):
            rows = np.nonzero(det & (ts >= lo) & (ts <= hi))[0]
            inside = [x for x in lab if lo <= x <= hi]
            if rows.size and inside:
                delays.append(float((ts[rows[0]] - inside[0]) / np.timedelta64(1, "h")))
    print(
        f"  at standard threshold: window recall {windows_found}/{windows_total} = {windows_found / windows_total:.2f}, "
        f"false alarms {fps} = {fps / months:.2f} per series-month (scored part), "
        f"median delay from label {np.median(delays) if delays else float('nan'):.1f} h"
    )
    return standard_score


def synthetic_part(n_series: int) -> None:
    caught_first = caught_2 = total = 0
    delays = []
    for seed in range(n_series):
        s = hourly_series(1000 + seed, n_runaways=2)
        sc = contract.spike_scores(s.timestamps, s.values)
        det = sc >= DEFAULT_THRESHOLD
        for a, b in s.runaways:
            total += 1
            hit = np.nonzero(det[a : b + 1])[0]
            if hit.size:
                delays.append(int(hit[0]))
                caught_first += int(hit[0] == 0)
                caught_2 += int(hit[0] <= 1)
    print(
        f"[synthetic hourly, {n_series} series x 2 loops, threshold {DEFAULT_THRESHOLD}] runaway loops caught on the "
        f"first anomalous hour: {caught_first}/{total} = {caught_first / total:.3f}; within 2 points: "
        f"{caught_2 / total:.3f}; ever: {len(delays) / total:.3f}"
    )
    alarms = months = 0.0
    alarms_ms = months_ms = 0.0
    for seed in range(n_series):
        s = hourly_series(5000 + seed, n_runaways=0)
        sc = contract.spike_scores(s.timestamps, s.values)
        n_alarm = float(np.sum(sc >= DEFAULT_THRESHOLD))
        m = s.values.shape[0] / (24 * 30.0)
        alarms += n_alarm
        months += m
        if s.month_start_job:
            alarms_ms += n_alarm
            months_ms += m
    print(
        f"[synthetic hourly clean, {n_series} series of 90 days] false alarms per series-month: {alarms / months:.3f} "
        f"(series with month-start jobs: {alarms_ms / max(months_ms, 1e-9):.3f})"
    )
    caught = total = fa = 0
    for seed in range(n_series):
        s = daily_series(3000 + seed, n_days=365, runaway_days=2)
        sc = contract.spike_scores(s.timestamps, s.values)
        det = sc >= DEFAULT_THRESHOLD
        runaway_days = {a for a, _ in s.runaways}
        for a, _ in s.runaways:
            total += 1
            caught += int(det[a])
        fa += sum(1 for i in np.nonzero(det)[0] if i not in runaway_days)
    print(
        f"[synthetic daily, {n_series} series x 365 days x 2 runaway days] caught on the day: {caught}/{total} = "
        f"{caught / total:.3f}; other alarms (launches, outages, month-start jobs, noise): "
        f"{fa / (n_series * 12):.3f} per series-month"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer synthetic series")
    parser.add_argument("--data", type=Path, default=_ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    score = nab_part(
        args.data,
        contract.spike_scores,
        "NAB, bench.contract.spike_scores (direction=both)",
    )
    nab_part(
        args.data,
        lambda t, v: spikes.spike_scores(t, v, direction="up"),
        "NAB, direction=up (jumps only, reference)",
    )
    print(
        "  published full-corpus standard scores: "
        + ", ".join(f"{k} {v}" for k, v in PUBLISHED.items())
    )
    print(
        f"  aim: beat windowed Gaussian 39.6 and Twitter ADVec 47.1 by a wide margin: standard {score:.1f} -> "
        f"{'MET' if score >= 57.1 else 'NOT MET'} (taking 'wide' as +10)"
    )
    synthetic_part(30 if args.quick else 100)


if __name__ == "__main__":
    main()
