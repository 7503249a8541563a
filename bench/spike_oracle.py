"""The ceiling of the synthetic spend families: an oracle told each hour's usual spend.

Why: the detector's 1-hour recall on :mod:`bench.spend_hourly` sits under issue 16's 98%, and
whether the gap is the generator's (loops too small to see in the noise) or the detector's (its
estimate of the usual spend) decides where work should go. The oracle is told the usual spend of
every hour (``HourlySeries.usual``: before noise and events) and which hours belong to benign
events (jobs, launches' first day, outage catch-ups: it never alarms there). It keeps the
detector's floors: an hour at ``spikes.UP_RATIO`` or more of the usual spend, or two hours in a
row at ``spikes.PAIR_RATIO`` or more, that is also ORACLE_Z robust sd of the series' own clean
hours above it (log scale; for the pair, the two excesses summed over sqrt 2). What the oracle
misses cannot be seen at those floors; what it catches and the detector does not is the price of
estimating the usual spend from the series' own past. Printed by :mod:`bench.spike_bench`.
"""

from __future__ import annotations

import numpy as np

from bench import splits
from bench.spend_hourly import HourlySeries
from chalicelib.engines.robust import mad_sd
from chalicelib.engines.spikes import PAIR_RATIO, UP_RATIO

#: Robust sd of the series' own clean hours a rise must also clear.
ORACLE_Z = 3.0
#: Hours at the start that are not scored (as in bench.spike_bench's false-alarm count).
WARM_HOURS = 24 * 14


def oracle_alarms(s: HourlySeries) -> np.ndarray:
    """Hours the oracle alarms on; (n,) bool."""
    off = 1e-3 * max(float(s.usual.mean()), 1e-12)
    excess = np.log(s.values + off) - np.log(s.usual + off)
    sd = max(mad_sd(excess[s.clean_mask]), 1e-6)
    z = excess / sd
    ratio = (s.values + off) / (s.usual + off)
    pair_ratio = np.minimum(ratio, np.concatenate([[0.0], ratio[:-1]]))
    pair_z = (z + np.concatenate([[0.0], z[:-1]])) / np.sqrt(2.0)
    alarm = ((ratio >= UP_RATIO) & (z >= ORACLE_Z)) | ((pair_ratio >= PAIR_RATIO) & (pair_z >= ORACLE_Z))
    for ev in s.events:
        if not ev.anomaly:
            alarm[ev.start : ev.end + 1] = False
    alarm[:WARM_HOURS] = False
    return alarm


def oracle_part(make, offset: int, n_series: int, family: str) -> dict[str, tuple[float, float]]:
    """Per split: (share of anomalies the oracle alarms on within 1 h, alarms per clean month)."""
    out = {}
    for split in ("tuning", "reporting"):
        caught = total = 0
        alarms = hours = 0.0
        for seed in splits.seeds(split, n_series, offset):
            s = make(seed)
            det = oracle_alarms(s)
            for ev in s.events:
                if ev.anomaly:
                    total += 1
                    caught += int(det[ev.start : ev.start + 2].any())
            clean = s.clean_mask & (np.arange(det.shape[0]) >= WARM_HOURS)
            alarms += float((det & clean).sum())
            hours += float(clean.sum())
        out[split] = (caught / max(total, 1), alarms / max(hours / (24 * 30.0), 1e-9))
    cells = " | ".join(f"{split} {r:.3f}, {fa:.2f}" for split, (r, fa) in out.items())
    print(
        f"  oracle told the usual spend ({family}, floors {UP_RATIO}x / {PAIR_RATIO}x, z {ORACLE_Z}): "
        f"caught within 1 h, false alarms per clean month: {cells}"
    )
    return out
