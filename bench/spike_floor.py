"""What the spike alert's floor (a rule's ``min_excess``) costs and buys, on series the engine was
not tuned on.

The engine (``bench.spike_bench``) scores every rise; the spike rule fires only once a spike's spend
above its expected level since it began reaches the rule's ``min_excess``
(:func:`chalicelib.services.spike_rule.alert_point`). Printed here, per floor:

- sparse series, spent in a few requests an hour (Poisson counts with a daily shape, each request
  lognormal around a price; no events): alerts per month. The cost of no floor;
- the synthetic spend family of ``bench.spend_hourly`` (levels from cents to hundreds of dollars an
  hour), reporting split: runaway loops and leaked keys alerted within 1 h of their onset and within
  12 h (while they last), and alerts per clean series-month. The cost of a floor: on a series of
  cents an hour a loop's first hour adds less than a dollar.

Counts alerts from the engine's spikes (``spikes.detect``, threshold 0.5), so its 1-hour figure
differs a little from ``bench.spike_bench``'s, which counts scores over 0.5 in the first two hours.

    .venv/bin/python -m bench.spike_floor [--series N]
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from multiprocessing import Pool

import numpy as np

from bench import splits
from bench.spike_bench import FAMILIES, THRESHOLD
from chalicelib.engines import spikes
from chalicelib.services.spike_rule import alert_point

FLOORS = (Decimal(0), Decimal("0.25"), Decimal("0.5"), Decimal(1))
#: (requests per hour on average, price per request): a side project's usage.
SPARSE = ((0.5, 0.01), (0.5, 0.05), (1.6, 0.01), (3.0, 0.02))
SPARSE_SEEDS = 20
SPARSE_DAYS = 60
#: Hours at the start that are not scored (as in bench.spike_bench's false-alarm count).
WARM_HOURS = 24 * 14


def alerts(timestamps: np.ndarray, values: np.ndarray, floor: Decimal) -> np.ndarray:
    """Hours an alert goes out at, under ``floor``; (n,) bool."""
    out = np.zeros(values.shape[0], dtype=bool)
    for spike in spikes.detect(timestamps, values, threshold=THRESHOLD):
        at = alert_point(spike, values, floor)
        if at is not None:
            out[at] = True
    return out


def _sparse(args: tuple[float, float, int]) -> list[int]:
    rate, price, seed = args
    n = 24 * SPARSE_DAYS
    ts = np.datetime64("2026-01-01T00") + np.arange(n).astype("timedelta64[h]")
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate * (1 + 0.5 * np.sin(2 * np.pi * (np.arange(n) % 24) / 24)))
    values = np.array([rng.lognormal(0.0, 0.2, c).sum() for c in counts]) * price
    return [int(alerts(ts, values, f)[WARM_HOURS:].sum()) for f in FLOORS]


def _family(seed: int) -> list[float]:
    make, _ = FAMILIES["spend"]
    s = make(seed)
    v = np.asarray(s.values, dtype=float)
    out: list[float] = []
    for f in FLOORS:
        det = alerts(s.timestamps, v, f)
        hour = twelve = total = 0
        for ev in s.events:
            if ev.anomaly:
                total += 1
                hour += bool(det[ev.start : ev.start + 2].any())
                twelve += bool(det[ev.start : min(ev.start + 12, ev.end + 1)].any())
        clean = s.clean_mask & (np.arange(det.shape[0]) >= WARM_HOURS)
        out += [hour, twelve, total, float((det & clean).sum()), float(clean.sum()) / 720]
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", type=int, default=600, help="synthetic spend series on the reporting split")
    args = p.parse_args(argv)
    heads = "".join(f"{'$' + str(f):>9}" for f in FLOORS)
    with Pool(2) as pool:
        sparse = pool.map(_sparse, [(r, c, s) for r, c in SPARSE for s in range(SPARSE_SEEDS)])
        fam = np.array(pool.map(_family, splits.seeds("reporting", args.series, FAMILIES["spend"][1]), chunksize=10))
    months = SPARSE_SEEDS * (SPARSE_DAYS - WARM_HOURS / 24) / 30
    print(f"sparse series, alerts per month ({SPARSE_SEEDS} series of {SPARSE_DAYS} days each), by min_excess:")
    print(f"  {'requests/h at price':<24}{heads}")
    for i, (rate, price) in enumerate(SPARSE):
        rows = np.array(sparse[i * SPARSE_SEEDS : (i + 1) * SPARSE_SEEDS]).sum(axis=0)
        print(f"  {f'{rate:g} at ${price:g}':<24}" + "".join(f"{r / months:>9.2f}" for r in rows))
    print(f"synthetic spend family, reporting split ({args.series} series), by min_excess:")
    print(f"  {'':<24}{heads}")
    totals = fam.sum(axis=0).reshape(len(FLOORS), 5)
    for label, col in (("alerted within 1 h", 0), ("alerted within 12 h", 1)):
        print(f"  {label:<24}" + "".join(f"{t[col] / t[2]:>9.3f}" for t in totals))
    print(f"  {'alerts per clean month':<24}" + "".join(f"{t[3] / t[4]:>9.2f}" for t in totals))


if __name__ == "__main__":
    main()
