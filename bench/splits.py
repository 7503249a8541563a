"""Which benchmark data the engines may be tuned on, and which is only ever reported.

Every figure in the benchmark notes comes in two columns: the tuning split (files and seeds that
thresholds and constants were chosen on) and the reporting split (files and seeds that no choice
was made on). Only the reporting column says anything about data the engines have not seen.

NAB files: within each category of ``../shared/data/nab/data``, sorted by name, files alternate
tuning / reporting (the first is tuning). Daily forecast series: the clean Wikipedia file and the
cpc exchange series are tuning, the corrupted Wikipedia files and the cpm series are reporting; the
NAB realTweets and realTraffic travel-time files aggregated to days (:mod:`bench.daily_real`) follow
their NAB file's split (an aggregate of a NAB_TUNING file is tuning, of a NAB_REPORTING file is
reporting), so 5 tweet series and one travel-time series are on each side.
Synthetic series: tuning seeds are below ``REPORT_SEED_BASE``, reporting seeds start at it; a
benchmark takes reporting seeds as ``REPORT_SEED_BASE + k``.

How independent the reporting split is (checked by tests/unit/test_bench_splits.py): every NAB
category is in both splits, no file is in both, and the alternation rule above reproduces the
lists. Two caveats, stated rather than fixed (moving files now would flatter nobody but would
break the comparison with earlier figures): the reporting Wikipedia files are corrupted copies of
the tuning one (the same page views, scored against the same clean series), so the Wikipedia
reporting figures say how the forecast copes with outliers, not how it does on an unseen series;
and the cpc and cpm exchange series are two metrics of the same three ad exchanges. Likewise the
tweet series of both splits cover the same eight weeks of 2015 (other companies, same calendar).
"""

from __future__ import annotations

NAB_TUNING: tuple[str, ...] = (
    "artificialNoAnomaly/art_daily_no_noise.csv",
    "artificialNoAnomaly/art_daily_small_noise.csv",
    "artificialNoAnomaly/art_noisy.csv",
    "artificialWithAnomaly/art_daily_flatmiddle.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "artificialWithAnomaly/art_increase_spike_density.csv",
    "realAdExchange/exchange-2_cpc_results.csv",
    "realAdExchange/exchange-3_cpc_results.csv",
    "realAdExchange/exchange-4_cpc_results.csv",
    "realTraffic/TravelTime_387.csv",
    "realTraffic/occupancy_6005.csv",
    "realTraffic/speed_6005.csv",
    "realTraffic/speed_t4013.csv",
    "realTweets/Twitter_volume_AAPL.csv",
    "realTweets/Twitter_volume_CRM.csv",
    "realTweets/Twitter_volume_FB.csv",
    "realTweets/Twitter_volume_IBM.csv",
    "realTweets/Twitter_volume_PFE.csv",
)

NAB_REPORTING: tuple[str, ...] = (
    "artificialNoAnomaly/art_daily_perfect_square_wave.csv",
    "artificialNoAnomaly/art_flatline.csv",
    "artificialWithAnomaly/art_daily_jumpsdown.csv",
    "artificialWithAnomaly/art_daily_nojump.csv",
    "artificialWithAnomaly/art_load_balancer_spikes.csv",
    "realAdExchange/exchange-2_cpm_results.csv",
    "realAdExchange/exchange-3_cpm_results.csv",
    "realAdExchange/exchange-4_cpm_results.csv",
    "realTraffic/TravelTime_451.csv",
    "realTraffic/occupancy_t4013.csv",
    "realTraffic/speed_7578.csv",
    "realTweets/Twitter_volume_AMZN.csv",
    "realTweets/Twitter_volume_CVS.csv",
    "realTweets/Twitter_volume_GOOG.csv",
    "realTweets/Twitter_volume_KO.csv",
    "realTweets/Twitter_volume_UPS.csv",
)

#: NAB files long enough (35+ days) to be daily forecast series once aggregated to days; the other
#: realTraffic files cover 10-18 days. The exchange files are in ``daily/`` already, as daily means.
NAB_DAILY_SOURCES: tuple[str, ...] = ("realTweets/", "realTraffic/TravelTime_")


def _nab_daily(files: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"nab:{k}" for k in files if k.startswith(NAB_DAILY_SOURCES))


DAILY_TUNING: tuple[str, ...] = (
    "example_wp_log_R.csv",
    "exchange-2_cpc_daily_mean.csv",
    "exchange-3_cpc_daily_mean.csv",
    "exchange-4_cpc_daily_mean.csv",
    *_nab_daily(NAB_TUNING),
)

DAILY_REPORTING: tuple[str, ...] = (
    "example_wp_log_R_outliers1.csv",
    "example_wp_log_R_outliers2.csv",
    "exchange-2_cpm_daily_mean.csv",
    "exchange-3_cpm_daily_mean.csv",
    "exchange-4_cpm_daily_mean.csv",
    *_nab_daily(NAB_REPORTING),
)

#: Synthetic seeds: tuning uses ``0 .. REPORT_SEED_BASE - 1``, reporting ``REPORT_SEED_BASE ..``.
REPORT_SEED_BASE = 1_000_000

SPLITS: dict[str, tuple[str, ...]] = {"tuning": NAB_TUNING, "reporting": NAB_REPORTING}
DAILY_SPLITS: dict[str, tuple[str, ...]] = {
    "tuning": DAILY_TUNING,
    "reporting": DAILY_REPORTING,
}


def seeds(split: str, n: int, offset: int = 0) -> list[int]:
    """``n`` synthetic seeds of ``split`` ("tuning" or "reporting"); ``offset`` picks a family."""
    if offset >= REPORT_SEED_BASE // 2:
        raise ValueError("offset too large for the tuning seed range")
    base = REPORT_SEED_BASE if split == "reporting" else 0
    return [base + offset + k for k in range(n)]
