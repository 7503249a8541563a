"""NAB scoring (Lavin & Ahmad 2015), re-implemented so the spike benchmark needs no NAB checkout.

Rules, as in numenta/NAB's sweeper:
- the first 15% of each file (at most 750 rows) is probationary: detections there are ignored;
- inside a window only the earliest detection counts, worth ``tp * scaled_sigmoid(position)``
  with position -1 at the window's left edge (about +1) and 0 at its right edge (0);
- a window with no detection costs ``-fn``;
- a detection outside every window costs ``fp * scaled_sigmoid(distance after the preceding
  window / its width)`` (about -1 far away; -1 if no window precedes it);
- normalised score = 100 * (S - S_null) / (S_perfect - S_null); the null detector never fires,
  the perfect one fires on each window's first row.
The threshold is chosen per profile to maximise the corpus score, as NAB's optimiser does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's weight of a detection at a relative position (window: -1..0; after it: > 0)."""
    p = np.asarray(position, dtype=float)
    return np.where(p > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * p)) - 1.0)


@dataclass(frozen=True)
class ScoredFile:
    """Per-row NAB weights of one file, independent of the detector's threshold."""

    name: str
    weight: np.ndarray  # (n,) unweighted sigmoid value of a detection at each row
    window_id: np.ndarray  # (n,) window index or -1 outside windows
    scored: np.ndarray  # (n,) bool: False in the probationary period
    n_windows: int
    window_starts: np.ndarray  # (k,) row index of each window's first row


def prepare_file(
    name: str,
    timestamps: np.ndarray,
    windows: list[tuple[np.datetime64, np.datetime64]],
) -> ScoredFile:
    """Row weights for one file (``timestamps`` (n,) datetime64 ascending)."""
    n = timestamps.shape[0]
    window_id = np.full(n, -1)
    weight = np.full(n, -1.0)
    starts = []
    prev_right = None
    prev_width = None
    bounds = []
    for k, (lo, hi) in enumerate(windows):
        rows = np.nonzero((timestamps >= lo) & (timestamps <= hi))[0]
        if rows.size == 0:
            continue
        bounds.append((k, rows[0], rows[-1]))
    for k, left, right in bounds:
        width = right - left + 1
        i = np.arange(left, right + 1)
        window_id[i] = k
        weight[i] = scaled_sigmoid(-(right - i + 1) / width)
        starts.append(left)
    # Rows outside windows: weight by distance after the preceding window.
    for i in range(n):
        if window_id[i] >= 0:
            continue
        before = [(left, right) for _, left, right in bounds if right < i]
        if before:
            left, right = before[-1]
            prev_right, prev_width = right, right - left + 1
            weight[i] = scaled_sigmoid(abs(prev_right - i) / max(prev_width - 1, 1))
    probation = min(int(np.floor(0.15 * n)), 750)
    scored = np.arange(n) >= probation
    return ScoredFile(
        name, weight, window_id, scored, len(bounds), np.array(starts, dtype=int)
    )


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fp: float
    fn: float


def load_profiles(path: Path) -> list[Profile]:
    raw = json.loads(path.read_text())
    return [
        Profile(
            name,
            c["CostMatrix"]["tpWeight"],
            c["CostMatrix"]["fpWeight"],
            c["CostMatrix"]["fnWeight"],
        )
        for name, c in raw.items()
    ]


def raw_score(
    f: ScoredFile, detections: np.ndarray, p: Profile
) -> tuple[float, int, int]:
    """(score, windows detected, false positives) for boolean ``detections`` (n,)."""
    det = detections & f.scored
    score = 0.0
    found = 0
    for k in np.unique(f.window_id[f.window_id >= 0]):
        rows = np.nonzero(det & (f.window_id == k))[0]
        if rows.size:
            score += p.tp * float(f.weight[rows[0]])
            found += 1
        else:
            score -= p.fn
    fps = det & (f.window_id < 0)
    score += p.fp * float(f.weight[fps].sum())
    return score, found, int(fps.sum())


def null_and_perfect(files: list[ScoredFile], p: Profile) -> tuple[float, float]:
    null = -p.fn * sum(f.n_windows for f in files)
    perfect = sum(p.tp * float(f.weight[s]) for f in files for s in f.window_starts)
    return null, perfect


def normalised(total: float, null: float, perfect: float) -> float:
    return 100.0 * (total - null) / (perfect - null)


def best_threshold(
    files: list[ScoredFile],
    scores: list[np.ndarray],
    p: Profile,
    candidates: np.ndarray,
) -> tuple[float, float]:
    """Threshold maximising the corpus score, and the normalised score it gives."""
    null, perfect = null_and_perfect(files, p)
    best = (1.1, normalised(null, null, perfect))
    for thr in candidates:
        total = sum(raw_score(f, s >= thr, p)[0] for f, s in zip(files, scores, strict=True))
        value = normalised(total, null, perfect)
        if value > best[1]:
            best = (float(thr), value)
    return best
