"""Rolling-origin benchmark of the spend forecast against seasonal naive, AutoETS and AutoTheta.

Run from the repository root (baselines need the bench venv, see requirements-bench.txt)::

    .venv-bench/bin/python -m bench.forecast_bench [--quick] [--data ../shared/data]

Data sets:
- wikipedia: ``example_wp_log_R*.csv`` (y is log: exp taken; rows sorted; missing days are
  reindexed then linearly interpolated in the *inputs* so that every method sees the same gap-free
  history; days missing in the actuals are not scored). For the ``_outliers`` files the models are
  trained on the corrupted history and scored against the clean series.
- short real series (:mod:`bench.daily_real`): the 69-day NAB ad-exchange daily means and the NAB
  realTweets (56-57 days) and travel-time (52, 70 days) files aggregated to daily means: a new
  workspace's case. Forecast from 28, 35, 42, ... days of history to the end of the data (at most
  30 days, at least 7), as the product forecasts to the period's end.
- synthetic: seeded API-spend series from :mod:`bench.synthetic`.
- shapes: series that are not spend (:mod:`bench.daily_shapes`: random walks, AR trends, yearly
  cycles), 365 days and 28-63 days of history, 30-day horizon.
- wandering (:mod:`bench.daily_wandering`): a log level that wanders like a random walk (some with
  drift), an optional weekly shape and noise; $1-1000 a day, 42-400 days of history, 7-30 day
  horizon (ad prices, finance, spend whose level drifts).
- wiki-short, synth-short: 28-63 days of history (and a 7-30 day horizon) cut from the Wikipedia
  files and from the synthetic series: more short histories, from series already seen above.

Every figure is printed for the tuning and the reporting split of :mod:`bench.splits` (the clean
Wikipedia file, the cpc exchange series, the aggregates of NAB tuning files and tuning seeds; the
corrupted Wikipedia files, the cpm series, the aggregates of NAB reporting files and reporting
seeds). The statsforecast baselines' scores are cached in ``build/`` (``--no-cache`` redoes them).
Prints per method: median and mean MASE (m=7), sMAPE, 80% interval coverage, mean scaled interval
score (Gneiting-Raftery for 80%, divided by the MASE scale) and ms per call; then the aims of
issue 16 against AutoETS (median MASE ratio, paired geometric mean) per subset of series, and the
same two ratios per group of short series (exchange, tweets, traffic, wiki-short, synth-short: few
series each, so a change is judged on every group, not on the pooled median alone), and for the
wandering group per band of history length (42-99, 100-199, 200-400 days) and per kind (a drifting
level; a weekly shape and no drift; neither).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench import contract, daily_real, splits
from bench.daily_shapes import shape_series
from bench.daily_wandering import KINDS, wandering_kind, wandering_series
from bench.synthetic import daily_series
from chalicelib.engines.forecast import mase_scale

LEVEL = 0.8
MAX_HORIZON = 30
#: Shortest history a short series is forecast from (the engine's CONFIDENT_DAYS).
SHORT_MIN_HISTORY = 28
GROUPS = (
    "wikipedia", "synthetic", "exchange", "tweets", "traffic", "wiki-short", "synth-short", "shapes", "wandering",
)
#: Seed family of the shapes group (:func:`bench.splits.seeds` offset), apart from the spend seeds.
SHAPES_OFFSET = 100_000
#: Seed family of the wandering group, and its series per split.
WANDERING_OFFSET = 200_000
WANDERING_SERIES = 240
#: History lengths the wandering group is also reported by (its losses differ by length).
WANDERING_BANDS = ((42, 99), (100, 199), (200, 400))
LONG = ("wikipedia", "synthetic")
SHORT_REAL = ("exchange", "tweets", "traffic")
SHORT = (*SHORT_REAL, "wiki-short", "synth-short")
GROUPS_BY_PREFIX = {"exchange-": "exchange", "nab:realTweets/": "tweets", "nab:realTraffic/": "traffic"}
SUBSETS = (
    ("365-day series (wikipedia + synthetic)", LONG),
    ("short real series, 28-63 days of history (exchange + tweets + traffic)", SHORT_REAL),
    ("every short history (+ 28-63 day windows of wikipedia and synthetic)", SHORT),
    ("real series (wikipedia + exchange + tweets + traffic)", ("wikipedia", *SHORT_REAL)),
    ("shapes that are not spend (random walk, AR trend, yearly cycles; 365 and 28-63 days)", ("shapes",)),
    ("wandering level (log random walk + weekly shape + noise; 42-400 days)", ("wandering",)),
    ("every series", GROUPS),
)
Method = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


def fill(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    idx = np.arange(x.shape[0])
    return np.interp(idx, idx[ok], x[ok])


def ours(
    history: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = contract.forecast(history, horizon, LEVEL)
    return f.mean, f.lower, f.upper


def statsforecast_methods() -> dict[str, Method]:
    """AutoETS, AutoTheta and SeasonalNaive from statsforecast, or only our seasonal naive."""
    try:
        from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive
    except ImportError:
        print(
            "statsforecast not installed: baselines skipped (use the .venv-bench venv)"
        )
        return {}

    def wrap(make: Callable[[], object]) -> Method:
        def run(
            history: np.ndarray, horizon: int
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = make().forecast(y=history.astype(float), h=horizon, level=[80])
            return out["mean"], out["lo-80"], out["hi-80"]

        return run

    return {
        "snaive": wrap(lambda: SeasonalNaive(season_length=7)),
        "AutoETS": wrap(lambda: AutoETS(season_length=7)),
        "AutoTheta": wrap(lambda: AutoTheta(season_length=7)),
    }


def score(
    actual: np.ndarray, mean: np.ndarray, lo: np.ndarray, hi: np.ndarray, scale: float
) -> dict:
    ok = np.isfinite(actual)
    a, m, lo, hi = actual[ok], mean[ok], lo[ok], hi[ok]
    alpha = 1 - LEVEL
    denom = np.abs(a) + np.abs(m)
    smape = np.where(
        denom > 0, 200 * np.abs(a - m) / np.where(denom > 0, denom, 1), 0.0
    )
    interval = (
        (hi - lo)
        + (2 / alpha) * (lo - a) * (a < lo)
        + (2 / alpha) * (a - hi) * (a > hi)
    )
    return {
        "mase": float(np.mean(np.abs(a - m)) / scale),
        "smape": float(np.mean(smape)),
        "coverage": float(np.mean((a >= lo) & (a <= hi))),
        "msis": float(np.mean(interval) / scale),
    }


@dataclass(frozen=True)
class Task:
    """One forecast to make and score: ``history`` (gap-free) and what followed, ``target``."""

    split: str
    group: str
    name: str
    origin: int
    history: np.ndarray
    target: np.ndarray  # (horizon,), NaN where not observed (not scored)
    lines: tuple[str, ...] = ()  # per-group lines it also counts in (wandering: length band, kind)

    @property
    def horizon(self) -> int:
        return self.target.shape[0]

    @property
    def long(self) -> bool:
        return self.history.shape[0] >= 365

    @property
    def key(self) -> str:
        return f"{self.name}@{self.origin}+{self.horizon}/{self.history.shape[0]}"


def short_origins(n: int) -> list[tuple[int, int]]:
    """(origin, horizon) for a short series of ``n`` days: a month's forecast for a new workspace.

    Origins after 28, 35, 42, ... days of history while at least 7 days follow; the horizon runs
    to the end of the data, at most 30 days (the product forecasts to the period's end).
    """
    return [(o, min(MAX_HORIZON, n - o)) for o in range(SHORT_MIN_HISTORY, n - 6, 7)]


def short_window(k: int) -> tuple[int, int]:
    """(history days, horizon) of the ``k``-th short window cut from a long series: 28-63 days of
    history and a 7-30 day horizon, cycling so that every length and horizon is represented."""
    return SHORT_MIN_HISTORY + 7 * (k % 6), 7 + (11 * k) % 24


def tasks(data: Path, quick: bool) -> list[Task]:
    """Every forecast of the benchmark, both splits."""
    out = []
    step = 61 if quick else 19
    clean = daily_real.load_wikipedia(data / "daily" / "example_wp_log_R.csv")
    for split, names in splits.DAILY_SPLITS.items():
        for name in names:
            try:
                series = daily_real.load(data, name)
            except FileNotFoundError:
                continue
            if name.startswith("example_wp_log_R"):
                n = min(series.shape[0], clean.shape[0])
                for origin in range(365, n - MAX_HORIZON + 1, step):
                    history = fill(series[origin - 365 : origin])
                    target = clean[origin : origin + MAX_HORIZON]
                    out.append(Task(split, "wikipedia", name, origin, history, target))
                for k, origin in enumerate(range(400, n - MAX_HORIZON + 1, 3 * step)):
                    days, horizon = short_window(k)
                    history = fill(series[origin - days : origin])
                    target = clean[origin : origin + horizon]
                    out.append(Task(split, "wiki-short", name, origin, history, target))
                continue
            group = GROUPS_BY_PREFIX[next(p for p in GROUPS_BY_PREFIX if name.startswith(p))]
            for origin, horizon in short_origins(series.shape[0]):
                history = fill(series[:origin])
                target = series[origin : origin + horizon]
                out.append(Task(split, group, name, origin, history, target))
        n_synth = 12 if quick else 40
        for seed in splits.seeds(split, n_synth):
            s = daily_series(seed, n_days=365 + 120, runaway_days=2).values
            for origin in range(365, s.shape[0] - MAX_HORIZON + 1, 45 if quick else 30):
                history, target = s[origin - 365 : origin], s[origin : origin + MAX_HORIZON]
                out.append(Task(split, "synthetic", f"synthetic-{seed}", origin, history, target))
            days, horizon = short_window(seed)
            history, target = s[:days], s[days : days + horizon]
            out.append(Task(split, "synth-short", f"synthetic-{seed}", 0, history, target))
        for seed in splits.seeds(split, 24 if quick else 60, offset=SHAPES_OFFSET):
            s = shape_series(seed)
            target = s[365 : 365 + MAX_HORIZON]
            out.append(Task(split, "shapes", f"shapes-{seed}", 365, s[:365], target))
            days, _ = short_window(seed)
            out.append(Task(split, "shapes", f"shapes-{seed}", 365, s[365 - days : 365], target))
        for seed in splits.seeds(split, 24 if quick else WANDERING_SERIES, offset=WANDERING_OFFSET):
            history, target = wandering_series(seed)
            lines = (wandering_band(history.shape[0]), f"wand {wandering_kind(seed)}")
            out.append(Task(split, "wandering", f"wandering-{seed}", history.shape[0], history, target, lines))
    return out


def wandering_band(days: int) -> str:
    """The per-length line a wandering forecast from ``days`` of history also counts in."""
    lo, hi = next(b for b in WANDERING_BANDS if b[0] <= days <= b[1])
    return f"wand {lo}-{hi}"


def _paired(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Geometric mean of the per-forecast MASE ratios (ours over theirs)."""
    return float(np.exp(np.mean(np.log(np.maximum(ours, 1e-9) / np.maximum(theirs, 1e-9)))))


def _ratios(ours: np.ndarray, theirs: np.ndarray) -> str:
    """Median MASE ratio and paired geometric mean ratio, e.g. ``0.939x (0.979x)``."""
    return f"{np.median(ours) / np.median(theirs):.3f}x ({_paired(ours, theirs):.3f}x)"


def _ratio_line(ours: np.ndarray, theirs: np.ndarray, base: str, factor: float) -> str:
    ok = np.median(ours) <= factor * np.median(theirs)
    ratio = _paired(ours, theirs)
    wins = float(np.mean(ours < theirs))
    return (
        f"    median MASE ours {np.median(ours):.3f} vs {base} {np.median(theirs):.3f} = "
        f"{np.median(ours) / np.median(theirs):.3f}x (aim <= {factor}x): "
        f"{'MET' if ok else 'NOT MET'}; paired geometric mean {ratio:.3f}x; ours better in "
        f"{100 * wins:.0f}%"
    )


def report(split: str, methods, results, timings) -> None:
    """The table and the aims for one split."""
    print(f"== {split} split ==")
    header = (f"{'group':<10} {'method':<10} {'n':>4} {'MASE med':>9} {'MASE mean':>9} {'sMAPE':>7} {'cov80':>6} "
              f"{'MSIS':>7} {'ms/call':>8}")
    print(header)
    for group in [*GROUPS, "all"]:
        for label in methods:
            rows = (
                [r for g in GROUPS for r in results[(split, g, label)]]
                if group == "all"
                else results[(split, group, label)]
            )
            if not rows:
                continue
            m = np.array([r["mase"] for r in rows])
            ms = np.median(timings[f"{label}/{group in LONG}"] or [np.nan])
            print(
                f"{group:<10} {label:<10} {len(rows):>4} {np.median(m):>9.3f} {np.mean(m):>9.3f} "
                f"{np.mean([r['smape'] for r in rows]):>7.2f} {np.mean([r['coverage'] for r in rows]):>6.3f} "
                f"{np.mean([r['msis'] for r in rows]):>7.2f} {ms:>8.2f}"
            )
    print(f"aims on the {split} split:")
    for title, subset in SUBSETS:
        rows = [r for g in subset for r in results[(split, g, "ours")]]
        if not rows:
            continue
        ours = np.array([r["mase"] for r in rows])
        cov = float(np.mean([r["coverage"] for r in rows]))
        print(f"  {title} ({len(rows)} forecasts):")
        for base, factor in (("AutoETS", 0.95), ("AutoTheta", 1.0)):
            if base in methods:
                theirs = np.array([r["mase"] for g in subset for r in results[(split, g, base)]])
                print(_ratio_line(ours, theirs, base, factor))
        print(f"    80% coverage {cov:.3f} in [0.75, 0.85]: "
              f"{'MET' if 0.75 <= cov <= 0.85 else 'NOT MET'}")
    if "AutoETS" in methods:
        print(f"  per group on the {split} split, vs AutoETS (median ratio, paired geometric mean, coverage):")
        bands = (wandering_band(lo) for lo, _ in WANDERING_BANDS)
        kinds = (f"wand {kind}" for kind in KINDS)
        for group in (*LONG, *SHORT, "shapes", "wandering", *bands, *kinds):
            ours = np.array([r["mase"] for r in results[(split, group, "ours")]])
            theirs = np.array([r["mase"] for r in results[(split, group, "AutoETS")]])
            if ours.size:
                print(f"    {group:<12} {ours.size:>3} forecasts: {_ratios(ours, theirs)}, coverage "
                      f"{np.mean([r['coverage'] for r in results[(split, group, 'ours')]]):.3f}")
    ms = float(np.median(timings["ours/True"] or [np.nan]))
    cpu = float(np.median(timings["ours/cpu/True"] or [np.nan]))
    print(
        f"  ms per call on 365 days: wall {ms:.2f}, CPU {cpu:.2f} (the wall time includes waiting "
        f"for a busy machine's cores) < 5: {'MET' if cpu < 5 else 'NOT MET'} on CPU time, "
        f"{'MET' if ms < 5 else 'NOT MET'} on wall time"
    )


class BaselineCache:
    """Scores of the statsforecast baselines per task, kept in a JSON file between runs.

    The baselines do not change while the engine is tuned, and AutoETS takes about half a second
    a call; ``--no-cache`` recomputes them. The file is keyed by method and task and lives under
    ``build/`` (not committed).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rows: dict[str, dict] = {}
        if path is not None and path.exists():
            self.rows = json.loads(path.read_text())

    def get(self, key: str) -> dict | None:
        return self.rows.get(key)

    def put(self, key: str, row: dict) -> None:
        self.rows[key] = row

    def save(self) -> None:
        if self.path is not None:  # merged with what another run saved meanwhile
            self.path.parent.mkdir(parents=True, exist_ok=True)
            saved = json.loads(self.path.read_text()) if self.path.exists() else {}
            self.path.write_text(json.dumps({**saved, **self.rows}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer origins and synthetic series"
    )
    parser.add_argument("--data", type=Path, default=_ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--only-ours", action="store_true", help="skip the statsforecast baselines"
    )
    parser.add_argument(
        "--split", choices=("tuning", "reporting", "both"), default="both"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="recompute the baselines (else build/ keeps them)"
    )
    args = parser.parse_args(argv)

    methods: dict[str, Method] = {"ours": ours}
    if not args.only_ours:
        methods.update(statsforecast_methods())
    warm = np.abs(np.sin(np.arange(120))) + 1
    for run in methods.values():  # JIT compile / first-call costs are not timed
        run(warm, 30)
    cache = BaselineCache(None if args.no_cache else _ROOT / "build" / "forecast_bench_baselines.json")

    results: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    timings: dict[str, list[float]] = defaultdict(list)
    wanted = ("tuning", "reporting") if args.split == "both" else (args.split,)
    all_tasks = [t for t in tasks(args.data, args.quick) if t.split in wanted]
    print(f"{len(all_tasks)} forecasts per method (quick={args.quick})")
    print(
        "wikipedia: 365-day history, 30-day horizon; NaN days interpolated in inputs; outlier files "
        "scored against the clean series; synthetic: 365-day history, 30-day horizon"
    )
    print(
        f"short real series (exchange 69 days, tweets 56-57, traffic 52-70): histories of "
        f"{SHORT_MIN_HISTORY}, {SHORT_MIN_HISTORY + 7}, ... days, horizon to the end of the data, "
        f"7-{MAX_HORIZON} days"
    )
    for t in all_tasks:
        scale = mase_scale(t.history)
        for label, run in methods.items():
            key = f"{label}|{t.key}"
            cached = cache.get(key) if label != "ours" else None
            if cached is not None:
                row, wall, cpu = cached["row"], cached["wall"], cached["cpu"]
            else:
                t0, c0 = time.perf_counter(), time.process_time()
                mean, lo, hi = run(t.history, t.horizon)
                wall = 1000 * (time.perf_counter() - t0)
                cpu = 1000 * (time.process_time() - c0)
                row = score(t.target, np.asarray(mean), np.asarray(lo), np.asarray(hi), scale)
                if label != "ours":
                    cache.put(key, {"row": row, "wall": wall, "cpu": cpu})
            timings[f"{label}/{t.long}"].append(wall)
            timings[f"{label}/cpu/{t.long}"].append(cpu)
            results[(t.split, t.group, label)].append(row)
            for line in t.lines:
                results[(t.split, line, label)].append(row)
    cache.save()
    for split in wanted:
        report(split, methods, results, timings)


if __name__ == "__main__":
    main()
