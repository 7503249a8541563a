"""Real daily series for the forecast benchmark, made from the files in ``../shared/data``.

- Wikipedia (``daily/example_wp_log_R*.csv``): 8 years of daily page views (y is the log).
- Exchange (``daily/exchange-*_daily_mean.csv``): 69 days of daily means of the NAB ad-exchange
  cost-per-click / cost-per-mille series.
- NAB aggregates (``nab/data/realTweets/*``, ``nab/data/realTraffic/TravelTime_*``): the 5-minute
  tweet counts (56-57 days) and the road travel times (52 and 70 days) as daily means of the
  points seen that day. A day with fewer than half the file's median points per day (the partial
  first and last days, sensor outages) is missing (NaN); leading and trailing missing days are cut.
  The other realTraffic files cover 10-18 days, too few for a month's forecast, and are not used.

Which file is tuning and which reporting is :mod:`bench.splits`'s business; this module only loads.
Every loader returns daily values oldest first, shape (days,), NaN for a missing day.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

#: Prefix of a daily-split entry that names a NAB file aggregated to days.
NAB_PREFIX = "nab:"


def load_wikipedia(path: Path) -> np.ndarray:
    """A prophet example file: rows sorted by date, exp(y), missing days NaN."""
    rows = [line.strip().split(",") for line in path.read_text().splitlines()[1:] if line.strip()]
    days = np.array([r[0].strip('"') for r in rows], dtype="datetime64[D]")
    y = np.exp(np.array([float(r[1]) for r in rows]))
    order = np.argsort(days)
    days, y = days[order], y[order]
    full = np.full(int((days[-1] - days[0]).astype(int)) + 1, np.nan)
    full[(days - days[0]).astype(int)] = y
    return full


def load_exchange(path: Path) -> np.ndarray:
    """A ``daily/exchange-*_daily_mean.csv`` file (one row per day, in order): its means."""
    rows = [line.split(",") for line in path.read_text().splitlines()[1:] if line.strip()]
    return np.array([float(r[1]) for r in rows])


def load_nab_daily(path: Path) -> np.ndarray:
    """A NAB ``timestamp,value`` file (any order, repeats allowed) as daily means (UTC days)."""
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for line in path.read_text().splitlines()[1:]:
        if not line.strip():
            continue
        stamp, value = line.split(",")[:2]
        v = float(value)
        if np.isfinite(v):
            sums[stamp[:10]] += v
            counts[stamp[:10]] += 1
    names = sorted(counts)
    days = np.array(names, dtype="datetime64[D]")
    count = np.array([counts[d] for d in names], dtype=float)
    mean = np.array([sums[d] / counts[d] for d in names])
    full = np.full(int((days[-1] - days[0]).astype(int)) + 1, np.nan)
    enough = count >= 0.5 * np.median(count)
    idx = (days - days[0]).astype(int)
    full[idx[enough]] = mean[enough]
    seen = np.nonzero(np.isfinite(full))[0]
    return full[seen[0] : seen[-1] + 1]


def load(data: Path, name: str) -> np.ndarray:
    """The series a daily-split entry names (see :mod:`bench.splits`), from ``data`` (shared/data)."""
    if name.startswith(NAB_PREFIX):
        return load_nab_daily(data / "nab" / "data" / name[len(NAB_PREFIX) :])
    if name.startswith("example_wp_log_R"):
        return load_wikipedia(data / "daily" / name)
    return load_exchange(data / "daily" / name)
