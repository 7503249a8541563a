"""Spike detector benchmark: NAB scoring on ../shared/data/nab plus synthetic hourly spend.

Run from the repository root::

    .venv/bin/python -m bench.spike_bench [--quick] [--data ../shared/data]

Every figure is printed for the tuning and the reporting split of :mod:`bench.splits`; only the
reporting column is evidence about data the detector was not tuned on.

NAB part: scores come from ``bench.contract.spike_scores`` (jumps and drops) at the product's fixed
threshold 0.5, per profile; beside them, for reference only, the score at the threshold that is
best on the tuning split. Also at 0.5: window recall, false alarms per series-month (scored part)
and the median delay from the labelled anomaly.

Synthetic part (:mod:`bench.synthetic`, ``hourly_series``): share of runaway loops and leaked keys
caught within one hour of onset (an alarm on the onset point or the next), false alarms per clean
series-month (alarms in hours outside every labelled event, after the first two weeks), and the
share of benign events that alarm: recurring jobs (weekly, monthly; from their second run) during
their own hours, launch steps during their first day. Printed overall, for monthly jobs and
launches alone (the events of issue 16), and per kind. Then the kind of event ``spikes.detect``
names at each event's first alarm, read a day after it (what an alert's kind says once the day
is seen; at the alarm itself a launch and a leaked key still look like a loop). All of it again for
a second family (:mod:`bench.spend_hourly_ramps`), written after the constants were chosen and
apart from the first: no constant was chosen on it (three rules tried on its tuning seeds were
not taken) except the held multiple's (``spike_held.HELD_UP_*``, chosen with its tuning seeds in
view), so its reporting split says how the detector does on series unlike its own. Beside the
1-hour figure, the share caught at any hour while the event lasts. Last, the ceiling of both
families: an oracle told each hour's usual spend, with the detector's floors
(:mod:`bench.spike_oracle`).

Speed: microseconds per point of ``spike_scores`` on a 10,000-point hourly series and on a
10,000-point 5-minute one (only the latter runs the busy-stretch channel of spike_windows).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench import contract, nab, splits
from bench.spend_hourly_ramps import RAMPS_SEED_OFFSET, ramps_series
from bench.spike_oracle import oracle_part
from bench.synthetic import BENIGN_TARGET_KINDS, five_minute_counts, hourly_series
from chalicelib.engines import spikes

#: Standard-profile scores published or measured by others (the full NAB corpus for the first
#: three; HTM and ARTime as measured on the product's own held-out real categories, issue 16).
PUBLISHED = {
    "Numenta HTM (held-out)": 66.0,
    "ARTime (held-out)": 63.0,
    "Twitter ADVec (full corpus)": 47.1,
    "windowed Gaussian (full corpus)": 39.6,
}
THRESHOLD = 0.5
#: This repository's previous detector (commit b7b9071, NAB-fitted rules), standard profile at 0.5,
#: measured with this script: (tuning, reporting).
PREVIOUS = {"standard at 0.5": (63.7, 46.5)}
#: The detector before the level-shift channel (main at 334d18e), with this script: (tuning, reporting).
BEFORE_SHIFT = {"standard at 0.5": (63.6, 49.2)}
#: The detector before the busy-stretch channel (main at 3b4d472), with this script: (tuning, reporting).
BEFORE_STRETCH = {"standard at 0.5": (65.4, 52.7)}
#: Synthetic figures of main at 7e5bbb6 (before the fourth pass of issue 16), with this script and
#: 600 series per split, on the generator with month-start jobs: (tuning, reporting). 150 series
#: per split swung the reporting recall by about 3 points between samples (98.0% on 150 series,
#: 94.4% on 600, same detector).
BEFORE_SYNTHETIC = {
    "spend": {
        "recall_1h": (0.960, 0.940),
        "fa_per_month": (0.41, 0.36),
        "benign_share": (0.030, 0.029),
        "jobs_launches_share": (0.106, 0.094),
    },
}
#: Synthetic families: the one the constants were chosen on (its tuning seeds), and one written
#: apart from it (bench.spend_hourly_ramps: autocorrelated noise, ramping loops) that no choice
#: was made on, in either split: (generator, seed offset).
FAMILIES = {"spend": (hourly_series, 0), "ramps": (ramps_series, RAMPS_SEED_OFFSET)}
#: Series per split in the synthetic part (``--quick``: QUICK_SERIES).
SYNTHETIC_SERIES = 600
QUICK_SERIES = 40


def load_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = [
        line.split(",") for line in path.read_text().splitlines()[1:] if line.strip()
    ]
    ts = np.array([r[0].replace(" ", "T") for r in rows], dtype="datetime64[s]")
    return ts, np.array([float(r[1]) for r in rows])


def nab_corpus(
    data: Path, keys: tuple[str, ...] | None = None
) -> list[tuple[str, np.ndarray, np.ndarray, list, list]]:
    """(name, timestamps, values, windows, labels) of each NAB file present, in file order."""
    windows = json.loads(
        (data / "nab" / "labels" / "combined_windows.json").read_text()
    )
    labels = json.loads((data / "nab" / "labels" / "combined_labels.json").read_text())
    out = []
    for key in sorted(windows) if keys is None else keys:
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


def _score(files, scores, p, thr) -> float:
    null, perfect = nab.null_and_perfect(files, p)
    total = sum(nab.raw_score(f, s >= thr, p)[0] for f, s in zip(files, scores, strict=True))
    return nab.normalised(total, null, perfect)


def _operational(corpus, files, scores, p) -> str:
    found = total = fps = 0
    months = 0.0
    delays = []
    for (_, ts, _, w, lab), f, s in zip(corpus, files, scores, strict=True):
        det = (s >= THRESHOLD) & f.scored
        _, k, fp = nab.raw_score(f, det, p)
        found, total, fps = found + k, total + f.n_windows, fps + fp
        months += float((ts[-1] - ts[0]) / np.timedelta64(1, "D")) * 0.85 / 30.0
        for lo, hi in w:
            rows = np.nonzero(det & (ts >= lo) & (ts <= hi))[0]
            inside = [x for x in lab if lo <= x <= hi]
            if rows.size and inside:
                delays.append(float((ts[rows[0]] - inside[0]) / np.timedelta64(1, "h")))
    delay = np.median(delays) if delays else float("nan")
    return (
        f"window recall {found}/{total}, false alarms {fps / months:.2f} per series-month, "
        f"median delay {delay:.1f} h"
    )


def nab_part(data: Path) -> dict[str, float]:
    profiles = nab.load_profiles(data / "nab" / "profiles.json")
    standard = next(p for p in profiles if p.name == "standard")
    prepared = {}
    for split, keys in splits.SPLITS.items():
        corpus = nab_corpus(data, keys)
        t0 = time.perf_counter()
        scores = [contract.spike_scores(ts, v) for _, ts, v, _, _ in corpus]
        elapsed = time.perf_counter() - t0
        files = [nab.prepare_file(k, ts, w) for k, ts, _, w, _ in corpus]
        n_rows = sum(s.shape[0] for s in scores)
        print(
            f"[NAB {split}] {len(files)} files, {n_rows} rows, {1e6 * elapsed / n_rows:.1f} us per point"
        )
        prepared[split] = (corpus, files, scores)
    candidates = np.linspace(0.05, 0.99, 95)
    out = {}
    for p in profiles:
        tuned_thr, _ = nab.best_threshold(
            prepared["tuning"][1], prepared["tuning"][2], p, candidates
        )
        cells = []
        for split, (_, files, scores) in prepared.items():
            at_fixed = _score(files, scores, p, THRESHOLD)
            at_tuned = _score(files, scores, p, tuned_thr)
            cells.append(
                f"{split} {at_fixed:6.1f} ({at_tuned:5.1f} at {tuned_thr:.2f})"
            )
            if p.name == "standard":
                out[split] = at_fixed
        print(f"  {p.name:<20} at 0.5: " + " | ".join(cells))
    for split, (corpus, files, scores) in prepared.items():
        print(f"  {split} at 0.5: {_operational(corpus, files, scores, standard)}")
        cats = sorted({c[0].split("/")[0] for c in corpus})
        per_cat = []
        for cat in cats:
            idx = [i for i, c in enumerate(corpus) if c[0].startswith(cat)]
            if any(files[i].n_windows for i in idx):
                sub = _score(
                    [files[i] for i in idx],
                    [scores[i] for i in idx],
                    standard,
                    THRESHOLD,
                )
                per_cat.append(f"{cat} {sub:.1f}")
            else:
                fa = sum(
                    int((scores[i] >= THRESHOLD)[files[i].scored].sum()) for i in idx
                )
                per_cat.append(f"{cat} {fa} false alarms")
        print(f"    per category (standard): {', '.join(per_cat)}")
    print(
        "  baselines (standard): " + ", ".join(f"{k} {v}" for k, v in PUBLISHED.items())
    )
    t, r = PREVIOUS["standard at 0.5"]
    print(f"  previous detector (b7b9071, NAB-fitted rules), standard at 0.5: tuning {t}, reporting {r}")
    t, r = BEFORE_SHIFT["standard at 0.5"]
    print(f"  before the level-shift channel (334d18e), standard at 0.5: tuning {t}, reporting {r}")
    t, r = BEFORE_STRETCH["standard at 0.5"]
    print(f"  before the busy-stretch channel (3b4d472), standard at 0.5: tuning {t}, reporting {r}")
    return out


#: The kind an alert should name, per labelled event (spike_kinds.EventKind values).
RIGHT_KIND = {
    "runaway loop": "runaway loop",
    "leaked key": "leaked key",
    "launch": "new baseline",
    "monthly job": "recurring job",
    "weekly job": "recurring job",
}


def _kinds_line(named: dict[str, Counter]) -> str:
    """How often the first alarm of each kind of event named the right kind, a day after it."""
    cells = []
    for kind, right in RIGHT_KIND.items():
        c = named.get(kind, Counter())
        if c:
            cells.append(f"{kind} as {right} {c[right]}/{sum(c.values())}")
    return "  kind named a day after the first alarm (spikes.detect): " + ", ".join(cells)


def synthetic_part(
    n_series: int,
    scorer=contract.spike_scores,
    which=("tuning", "reporting"),
    kinds: bool = True,
    family: str = "spend",
) -> dict[str, dict[str, float]]:
    """Synthetic figures per split: recall within 1 h, false alarms per clean month, benign share;
    with ``kinds``, also how often :func:`spikes.detect` names the right kind of event. ``family``:
    a key of FAMILIES."""
    make, offset = FAMILIES[family]
    out = {}
    for split in which:
        caught = caught_any = total = 0
        benign_alarm = benign = 0
        by_kind: dict[str, list[int]] = {}
        named: dict[str, Counter] = {}
        alarms = months = 0.0
        for seed in splits.seeds(split, n_series, offset):
            s = make(seed)
            det = scorer(s.timestamps, s.values) >= THRESHOLD
            spike_kind = (
                {x.index: x.kind for x in spikes.detect(s.timestamps, s.values, THRESHOLD, "both")}
                if kinds
                else {}
            )
            for ev in s.events:
                first = np.nonzero(det[ev.start : ev.end + 1])[0]
                if first.size and ev.start + int(first[0]) in spike_kind:
                    named.setdefault(ev.kind, Counter())[spike_kind[ev.start + int(first[0])]] += 1
                hit = bool(det[ev.start : min(ev.start + 2, det.shape[0])].any())
                if ev.anomaly:
                    total += 1
                    caught += int(hit)
                    caught_any += int(det[ev.start : ev.end + 1].any())
                    by_kind.setdefault(ev.kind, [0, 0])
                    by_kind[ev.kind][0] += int(hit)
                    by_kind[ev.kind][1] += 1
                else:  # a job's own hours; a launch's first day (its event spans it)
                    day = bool(det[ev.start : ev.end + 1].any())
                    by_kind.setdefault(ev.kind, [0, 0])
                    by_kind[ev.kind][0] += int(day)
                    by_kind[ev.kind][1] += 1
                    if ev.kind in BENIGN_TARGET_KINDS:
                        benign += 1
                        benign_alarm += int(day)
            clean = s.clean_mask & (np.arange(det.shape[0]) >= 24 * 14)
            alarms += float((det & clean).sum())
            months += float(clean.sum()) / (24 * 30.0)
        issue_kinds = [by_kind.get(k, [0, 0]) for k in ("monthly job", "launch")]
        out[split] = {
            "recall_1h": caught / max(total, 1),
            "recall_any": caught_any / max(total, 1),
            "fa_per_month": alarms / max(months, 1e-9),
            "benign_share": benign_alarm / max(benign, 1),
            "jobs_launches_share": sum(a for a, _ in issue_kinds)
            / max(sum(b for _, b in issue_kinds), 1),
        }
        kinds_seen = ", ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(by_kind.items()))
        print(
            f"[synthetic {family} {split}, {n_series} series] anomalies caught within 1 h: {caught}/{total} = "
            f"{out[split]['recall_1h']:.3f} (at any hour while it lasts: {caught_any}/{total} = "
            f"{out[split]['recall_any']:.3f}); false alarms per clean series-month: "
            f"{out[split]['fa_per_month']:.2f}; benign events alarming within a day: "
            f"{benign_alarm}/{benign} = {out[split]['benign_share']:.3f}; monthly jobs and launches "
            f"alone: {out[split]['jobs_launches_share']:.3f} ({kinds_seen})"
        )
        if kinds:
            print(_kinds_line(named))
    before = BEFORE_SYNTHETIC.get(family)
    if before:
        print(
            "  before this pass (7e5bbb6, 600 series), tuning / reporting: "
            + ", ".join(f"{k} {t} / {r}" for k, (t, r) in before.items())
        )
    return out


def speed() -> float:
    """Microseconds per point of ``spike_scores`` on 10,000 hourly and 10,000 5-minute points
    (best of three); the slower of the two is the figure held against the aim."""
    hourly = hourly_series(splits.REPORT_SEED_BASE, n_hours=10_000)
    worst = 0.0
    for grain, (ts, v) in (
        ("hourly", (hourly.timestamps, hourly.values)),
        ("5-minute", five_minute_counts(10_000, splits.REPORT_SEED_BASE)),
    ):
        contract.spike_scores(ts, v)
        best = cpu = np.inf
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            contract.spike_scores(ts, v)
            best = min(best, time.perf_counter() - t0)
            cpu = min(cpu, time.process_time() - c0)
        us = 1e6 * best / 10_000
        worst = max(worst, us)
        print(
            f"[speed] spike_scores on 10,000 {grain} points: {us:.1f} us per point wall, "
            f"{1e6 * cpu / 10_000:.1f} us CPU (aim <= 50)"
        )
    return worst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer synthetic series")
    parser.add_argument("--no-nab", action="store_true", help="skip the NAB part")
    parser.add_argument("--data", type=Path, default=_ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    nab_scores = {} if args.no_nab else nab_part(args.data)
    n_series = QUICK_SERIES if args.quick else SYNTHETIC_SERIES
    syn = synthetic_part(n_series)
    synthetic_part(n_series, family="ramps")
    for family, (make, offset) in FAMILIES.items():
        oracle_part(make, offset, n_series, family)
    us = speed()
    print("targets on the reporting split (issue 16):")
    r = syn["reporting"]
    checks = [
        (
            "NAB standard at 0.5 > 60",
            nab_scores.get("reporting", float("nan")),
            lambda x: x > 60,
        ),
        ("anomalies caught within 1 h >= 98%", r["recall_1h"], lambda x: x >= 0.98),
        (
            "false alarms per clean series-month <= 1",
            r["fa_per_month"],
            lambda x: x <= 1,
        ),
        ("benign events alarming < 10%", r["benign_share"], lambda x: x < 0.10),
        (
            "monthly jobs and launches alone alarming < 10%",
            r["jobs_launches_share"],
            lambda x: x < 0.10,
        ),
        ("us per point <= 50", us, lambda x: x <= 50),
    ]
    for name, value, ok in checks:
        print(f"  {name}: {value:.3f} -> {'MET' if ok(value) else 'NOT MET'}")


if __name__ == "__main__":
    main()
