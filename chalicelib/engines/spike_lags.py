"""Lag matrices over a regular grid: ``z[t - lag]`` for many lags at once, in bounded memory.

The spike detector's baselines are medians over the same slot some days or weeks earlier, and
its noise scale is a MAD over recent slots; both read a (slots, lags) matrix of earlier values,
built a block of rows at a time so that very long series stay within a fixed memory budget.
Shapes: ``z`` is (g,) with NaN for an empty slot; ``lags`` is (k,) of positive ints.
"""

from __future__ import annotations

import numpy as np

from chalicelib.engines.robust import nanmedian_rows

#: Cells of a lag matrix held in memory at once.
BLOCK_CELLS = 2_000_000


def lag_median(z: np.ndarray, lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median over ``z[t - lag]`` for each slot t (NaN before the start); also the count used."""
    med = np.full(z.shape[0], np.nan)
    count = np.zeros(z.shape[0], dtype=np.int64)
    for lo in range(0, z.shape[0], rows_per_block(lags.shape[0])):
        vals = lagged(
            z, lags, lo, min(lo + rows_per_block(lags.shape[0]), z.shape[0])
        )
        med[lo : lo + vals.shape[0]] = nanmedian_rows(vals)
        count[lo : lo + vals.shape[0]] = np.isfinite(vals).sum(axis=1)
    return med, count


def rows_per_block(width: int) -> int:
    """Rows of a lag matrix computed at once, so memory stays bounded on very long series."""
    return max(256, BLOCK_CELLS // max(width, 1))


def lagged(z: np.ndarray, lags: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``z[t - lag]`` for slots ``lo <= t < hi`` and each lag, NaN before the start; (hi-lo, k)."""
    idx = np.arange(lo, hi)[:, None] - lags[None, :]
    return np.where(idx >= 0, z[np.maximum(idx, 0)], np.nan)


def widen(lags: np.ndarray, spread: int) -> np.ndarray:
    """Each lag and its ``spread`` neighbours on either side (all >= 1)."""
    out = (lags[:, None] + np.arange(-spread, spread + 1)[None, :]).ravel()
    return out[out >= 1]


def trailing_min(x: np.ndarray, k: int) -> np.ndarray:
    """Minimum of each point and the ``k - 1`` before it (0 before the start); shape (n,)."""
    if k <= 1:
        return x
    padded = np.concatenate([np.zeros(k - 1), x])
    return np.lib.stride_tricks.sliding_window_view(padded, k).min(axis=1)
