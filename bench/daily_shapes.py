"""Daily series of shapes that are not API spend, for the forecast benchmark's "shapes" group.

The spend generator (:mod:`bench.synthetic`) and the real files all have a weekly pattern and
flat-ish levels; real daily series measured elsewhere also drift like a random walk, follow a slow
yearly cycle, or wander around a trend. A forecast tuned only on weekly spend lost to AutoETS
on those (our own ETS alone did not), so four kinds are generated here, by seed:

- 0: a random walk with drift in logs (2% a day), no weekly pattern;
- 1: a slow trend with AR(1) log noise (0.8) and a weak weekly wave;
- 2: a yearly cycle (+-30%) with 5% noise, no weekly pattern;
- 3: a yearly cycle with a business weekly pattern and 8% noise.

Seeds follow :mod:`bench.splits` (tuning below ``REPORT_SEED_BASE``). Shape (n,), positive.
"""

from __future__ import annotations

import numpy as np

KINDS = ("random walk", "AR trend", "yearly cycle", "yearly + weekly")
WEEK = np.array([1.2, 1.1, 1.1, 1.0, 1.0, 0.5, 0.4])


def shape_series(seed: int, n: int = 395) -> np.ndarray:
    """The series of ``seed``; its kind is ``seed % 4`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    kind = seed % len(KINDS)
    level = np.exp(rng.uniform(np.log(10), np.log(1000)))
    if kind == 0:
        return level * np.exp(np.cumsum(rng.normal(0.002, 0.02, n)))
    if kind == 1:
        shocks = rng.normal(0.0, 0.05, n)
        ar = np.zeros(n)
        for i in range(1, n):
            ar[i] = 0.8 * ar[i - 1] + shocks[i]
        return level * np.exp(0.001 * t + ar) * (1 + 0.05 * np.sin(2 * np.pi * t / 7))
    cycle = 1 + 0.3 * np.sin(2 * np.pi * (t + rng.integers(365)) / 365.25)
    if kind == 2:
        return level * cycle * rng.lognormal(0.0, 0.05, n)
    week = WEEK[(t + rng.integers(7)) % 7]
    return level * week * cycle * rng.lognormal(0.0, 0.08, n)
