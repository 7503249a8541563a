"""Rolling-origin benchmark of the spend forecast against seasonal naive, AutoETS and AutoTheta.

Run from the repository root (baselines need the bench venv, see requirements-bench.txt)::

    .venv-bench/bin/python -m bench.forecast_bench [--quick] [--data ../shared/data]

Data sets:
- wikipedia: ``example_wp_log_R*.csv`` (y is log: exp taken; rows sorted; missing days are
  reindexed then linearly interpolated in the *inputs* so that every method sees the same gap-free
  history; days missing in the actuals are not scored). For the ``_outliers`` files the models are
  trained on the corrupted history and scored against the clean series.
- exchange: the 69-day NAB ad-exchange daily means: too short for 365 days of history, so
  35-55 days of history and a 14-day horizon.
- synthetic: seeded API-spend series from :mod:`bench.synthetic`.

Prints per method: median and mean MASE (m=7), sMAPE, 80% interval coverage, mean scaled
interval score (Gneiting-Raftery for 80%, divided by the MASE scale) and ms per call.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench import contract
from bench.synthetic import daily_series
from chalicelib.engines.forecast import mase_scale

LEVEL = 0.8
Method = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


def load_wikipedia(path: Path) -> np.ndarray:
    """Daily values of a prophet example file: sorted, exp(y), missing days as NaN; shape (days,)."""
    rows = [
        line.strip().split(",")
        for line in path.read_text().splitlines()[1:]
        if line.strip()
    ]
    days = np.array([r[0].strip('"') for r in rows], dtype="datetime64[D]")
    y = np.exp(np.array([float(r[1]) for r in rows]))
    order = np.argsort(days)
    days, y = days[order], y[order]
    full = np.full(int((days[-1] - days[0]).astype(int)) + 1, np.nan)
    full[(days - days[0]).astype(int)] = y
    return full


def load_exchange(path: Path) -> np.ndarray:
    rows = [
        line.split(",") for line in path.read_text().splitlines()[1:] if line.strip()
    ]
    return np.array([float(r[1]) for r in rows])


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


def tasks(
    data: Path, quick: bool
) -> list[tuple[str, str, np.ndarray, np.ndarray, int, int]]:
    """(group, name, train series, actual series, origin, history length) rolling-origin tasks."""
    out = []
    horizon = 30
    step = 61 if quick else 19
    daily = data / "daily"
    clean = load_wikipedia(daily / "example_wp_log_R.csv")
    for name in (
        "example_wp_log_R.csv",
        "example_wp_log_R_outliers1.csv",
        "example_wp_log_R_outliers2.csv",
    ):
        series = load_wikipedia(daily / name)
        n = min(series.shape[0], clean.shape[0])
        for origin in range(365, n - horizon + 1, step):
            out.append(("wikipedia", name, series[:n], clean[:n], origin, 365))
    for path in sorted(daily.glob("exchange-*_daily_mean.csv")):
        series = load_exchange(path)
        for origin in (35, 42, 49, 55):
            out.append(("exchange", path.name, series, series, origin, origin))
    n_synth = 12 if quick else 40
    for seed in range(n_synth):
        s = daily_series(seed, n_days=365 + 120, runaway_days=2).values
        for origin in range(365, s.shape[0] - horizon + 1, 45 if quick else 30):
            out.append(("synthetic", f"synthetic-{seed}", s, s, origin, 365))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer origins and synthetic series"
    )
    parser.add_argument("--data", type=Path, default=_ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--only-ours", action="store_true", help="skip the statsforecast baselines"
    )
    args = parser.parse_args(argv)

    methods: dict[str, Method] = {"ours": ours}
    if not args.only_ours:
        methods.update(statsforecast_methods())
    warm = np.abs(np.sin(np.arange(120))) + 1
    for run in methods.values():  # JIT compile / first-call costs are not timed
        run(warm, 30)

    results: dict[tuple[str, str], list[dict]] = defaultdict(list)
    timings: dict[str, list[float]] = defaultdict(list)
    all_tasks = tasks(args.data, args.quick)
    print(f"{len(all_tasks)} forecasts per method (quick={args.quick})")
    print(
        "wikipedia: 365-day history, 30-day horizon; NaN days interpolated in inputs; outlier files "
        "scored against the clean series"
    )
    print(
        "exchange: only 69 days: 35-55 day history, 14-day horizon (4 origins per series)"
    )
    for group, _name, train, actual, origin, hist_len in all_tasks:
        horizon = 14 if group == "exchange" else 30
        history = fill(train[origin - hist_len : origin])
        target = actual[origin : origin + horizon]
        scale = mase_scale(history)
        for label, run in methods.items():
            t0 = time.perf_counter()
            mean, lo, hi = run(history, horizon)
            timings[f"{label}/{hist_len >= 365}"].append(
                1000 * (time.perf_counter() - t0)
            )
            results[(group, label)].append(
                score(target, np.asarray(mean), np.asarray(lo), np.asarray(hi), scale)
            )

    groups = ["wikipedia", "synthetic", "exchange"]
    header = f"{'group':<10} {'method':<10} {'n':>4} {'MASE med':>9} {'MASE mean':>9} {'sMAPE':>7} {'cov80':>6} {'MSIS':>7} {'ms/call':>8}"
    print(header)
    summary: dict[tuple[str, str], float] = {}
    for group in groups + ["all"]:
        for label in methods:
            rows = (
                [r for g in groups for r in results[(g, label)]]
                if group == "all"
                else results[(group, label)]
            )
            if not rows:
                continue
            m = np.array([r["mase"] for r in rows])
            ms = (
                np.median(timings[f"{label}/True"])
                if group != "exchange"
                else np.median(timings[f"{label}/False"])
            )
            summary[(group, label)] = float(np.median(m))
            print(
                f"{group:<10} {label:<10} {len(rows):>4} {np.median(m):>9.3f} {np.mean(m):>9.3f} "
                f"{np.mean([r['smape'] for r in rows]):>7.2f} {np.mean([r['coverage'] for r in rows]):>6.3f} "
                f"{np.mean([r['msis'] for r in rows]):>7.2f} {ms:>8.2f}"
            )
    print("aims (365-day series: wikipedia + synthetic):")
    long_rows = [r for g in ("wikipedia", "synthetic") for r in results[(g, "ours")]]
    ours_med = float(np.median([r["mase"] for r in long_rows]))
    cov = float(np.mean([r["coverage"] for r in long_rows]))
    for base, factor in (("AutoETS", 0.95), ("AutoTheta", 1.0)):
        if base in methods:
            base_med = float(
                np.median(
                    [
                        r["mase"]
                        for g in ("wikipedia", "synthetic")
                        for r in results[(g, base)]
                    ]
                )
            )
            ok = ours_med <= factor * base_med
            print(
                f"  median MASE ours {ours_med:.3f} <= {factor} x {base} {base_med:.3f}: {'MET' if ok else 'NOT MET'}"
            )
    print(
        f"  80% coverage {cov:.3f} in [0.75, 0.85]: {'MET' if 0.75 <= cov <= 0.85 else 'NOT MET'}"
    )
    ms = float(np.median(timings["ours/True"]))
    print(f"  ms per call on 365 days {ms:.2f} < 5: {'MET' if ms < 5 else 'NOT MET'}")


if __name__ == "__main__":
    main()
