"""Streaming spike scores for hourly and daily spend: catch a runaway loop on its first point.

Why this design: a retry storm or an agent stuck in a loop multiplies spend 3-50x from one hour to
the next; the alert is only worth something if it fires on the first such point, and only if it
does not also fire every weekend, every Monday morning, on slow growth or on the month-start
batch job. So each point is compared with what this series usually does *at that time*:

Points come as they come (:mod:`chalicelib.engines.spike_grid`: repeats, disorder, gaps, NaN,
zeros and negative values) and are placed on a regular grid in arrival order. Then:

1. values go to a signed log scale (``asinh(v / 2c)``, ``c`` a tenth of the early typical level),
   so a 3x jump is the same size whether the team spends $1 or $1000 an hour;
2. the seasonal baseline is the median of the same time of week over the last four weeks (or of
   the same time of day over the last week while there is less history), each lag widened by one
   neighbouring point; a level term (median of recent residuals) follows growth and launches,
   and a point is only as unusual as it is against the nearer of the two expectations;
3. the residual is divided by a robust scale (MAD of recent residuals, with a floor so that a very
   smooth series does not alarm on a 10% wiggle, and raised for bursty series so that a burst as
   large as a typical day's largest rise is barely news: rises only, so that empty hours --
   missing data billed as zero -- do not hide a loop); a rise is also judged against a floor of
   UP_RATIO (a 1.5-3x launch step is a new baseline, not a runaway loop), and, held for two
   points in a row, against the lower floor PAIR_RATIO and a lower z (two windows: one point and
   a pair);
   and whatever the noise, a record -- RECORD_RATIO times the largest point of the last five
   weeks -- scores 0.5 (a young workspace's erratic month does not hide a runaway day);
4. recurring-calendar awareness (:mod:`chalicelib.engines.spike_calendar`): a rise that the same
   time a calendar month earlier, or the same slot 1-3 weeks earlier, also had (a monthly or
   weekly job: a short rise, not a loop's or a leaked key's hours) is discounted by that earlier
   rise as a ratio (log units), with a margin for a job that grew;
5. a drop counts only when it holds for DROP_POINTS points (one empty hour is not an outage);
   a rise that has held HOLD_POINTS points, or two points at HOLD_PAIR_RATIO or more, is the
   baseline for the next one (a level shift);
6. the series' own bar (an anomaly likelihood in the spirit of HTM's, without the Gaussian): the
   strength must also beat the BAR_RANK-th largest strength of the last four weeks, so bursty
   series raise their own bar while smooth ones keep it low; then squashed to a score in [0, 1];
7. an episode fires once: for at least half a day and while it lasts, points score only for
   escalation beyond its peak (:mod:`chalicelib.engines.spike_episodes`), so a ten-hour loop
   is one alert, not ten, while a loop that starts just after a noisy hour has fired still alarms;
8. with ``direction="both"``, a level shift that has held (:mod:`chalicelib.engines.spike_shift`)
   also scores once, in a channel of its own, judged against the seasonal expectation (which
   :func:`detect` then reports as expected); with ``direction="up"`` a launch never alarms;
9. with ``direction="both"`` and data finer than hourly, a stretch of three to twelve hours busier
   than any of its length in five weeks (:mod:`chalicelib.engines.spike_windows`) scores once a
   day, in the same channel: a burst of 5-minute points that each look ordinary.

Which kind of event a spike looks like (runaway loop, leaked key, recurring job, new baseline)
is :func:`chalicelib.engines.spike_kinds.classify`; :func:`detect` names it on each spike.

Every quantity at a point uses only points before it (and the point itself), so scores are
causal in arrival order: appending data never changes an earlier score. The grid has the series'
own step, so gaps in the data do not shift the seasonal lags.

Works in ``float`` (statistics); money stays ``Decimal`` outside the engines. Shapes: timestamps
and values are (n,); scores are (n,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chalicelib.engines.robust import MAD_TO_SD, nanmedian_rows
from chalicelib.engines.spike_calendar import recurring_discount
from chalicelib.engines.spike_episodes import CALM_POINTS, Z_MID, episodes
from chalicelib.engines.spike_grid import DAY, Grid, build, inverse, warmup
from chalicelib.engines.spike_held import held_up
from chalicelib.engines.spike_kinds import LOOK_POINTS, classify
from chalicelib.engines.spike_lags import lag_median, lagged, rows_per_block, trailing_min, widen
from chalicelib.engines.spike_record import above_record
from chalicelib.engines.spike_shift import HELD_POINTS, held_shift
from chalicelib.engines.spike_windows import stretch_strength

#: Smallest robust scale in log units: below ~8% noise, deviations are judged against 8%.
MIN_SCALE = 0.08
#: A deviation as large as a typical day's largest one scores a robust z of at most TAIL_Z.
#: (For Gaussian noise a day's largest deviation is 2-3 sd, so this only bites on heavy tails.)
TAIL_Z = 4.0
TAIL_DAYS = 14
#: A rise scores 0.5 at the earliest at this multiple of the expected spend, however smooth the
#: series: a launch steps spend up 1.5-3x and is a new baseline, not a runaway loop.
UP_RATIO = 3.3
#: Two windows: a rise held by two points in a row scores 0.5 from PAIR_RATIO times the
#: expected spend (noise rarely lifts two points at once; a loop lasts hours).
PAIR_RATIO = 2.7
#: ... and needs PAIR_SD times the robust z of a single point: two independent noisy hours rarely
#: rise together, so on a noisy series a pair at 4x is news where one hour at 4x is not.
PAIR_SD = 0.75
#: A record (:mod:`chalicelib.engines.spike_record`): a point at RECORD_RATIO times the largest
#: of the last five weeks scores 0.5, however noisy the series.
RECORD_RATIO = 3.3
#: A drop scores by the smallest of its last DROP_POINTS points: one empty hour is not news.
DROP_POINTS = 3
#: Level-shift handling: a rise that has held HOLD_POINTS points is the new baseline for the
#: next point (a launch step is judged once, at its onset, not again at every busier hour).
HOLD_POINTS = 3
#: ... and so is a step of at least this ratio that has held two points (a launch's third hour is
#: judged against its first two; a loop has fired on its first two points by then).
HOLD_PAIR_RATIO = 1.5
#: An episode (one alarm) lasts at least this share of a day, and until CALM_POINTS calm points.
EPISODE_DAYS = 0.5
#: The series' own bar: a point must also beat the BAR_RANK-th largest strength of the last
#: BAR_DAYS days (less Z_MID) -- the likelihood of a strength under the series' own history,
#: which keeps bursty series (tweets, traffic) from alarming on every burst.
BAR_RANK = 13
BAR_DAYS = 28


@dataclass(frozen=True)
class Spike:
    """A point whose score crossed the threshold (the first point of an episode).

    ``kind`` is what the event looks like from the points up to the end of the series
    (:class:`chalicelib.engines.spike_kinds.EventKind` value), with a ``reason`` in words, read
    from ``read_points`` points from the spike on (at most ``spike_kinds.LOOK_POINTS``: a day of
    hours), which together came to ``read_observed`` against a usual ``read_expected``.
    """

    index: int
    timestamp: np.datetime64
    expected: float
    observed: float
    score: float
    kind: str = ""
    reason: str = ""
    read_points: int = 1
    read_observed: float = 0.0
    read_expected: float = 0.0

    @property
    def settled(self) -> bool:
        """The kind was read from all the points it reads (a day of hours): later points do not change it."""
        return self.read_points >= LOOK_POINTS


def _baseline(g: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal and level-following expected log values at every slot from earlier slots only;
    both (g,). The level-following one's residuals measure the noise scale."""
    z = g.z
    if g.per_day:
        week = 7 * g.per_day
        spread = 1 if g.per_day <= 48 else max(1, g.per_day // 96)
        weekly, n_w = lag_median(z, widen(week * np.arange(1, 5), spread))
        daily, n_d = lag_median(z, widen(g.per_day * np.arange(1, 8), spread))
        recent, _ = lag_median(z, np.arange(1, 7))
        use_weekly = n_w >= 2 * (2 * spread + 1)
        seasonal = np.where(use_weekly, weekly, np.where(n_d >= 3, daily, recent))
        level_window = min(g.per_day, 48)
    else:
        weekly, n_w = lag_median(
            z, 7 * np.arange(1, 5) if g.step >= DAY else np.arange(1, 2)
        )
        recent, _ = lag_median(z, np.arange(1, 8))
        use_weekly = (n_w >= 2) & (g.step >= DAY)
        seasonal = np.where(use_weekly, weekly, recent)
        level_window = 7
    first = z - seasonal
    level, n_l = lag_median(first, np.arange(1, level_window + 1))
    level = np.where(n_l > 0, level, 0.0)
    return seasonal, seasonal + level


def _residual(
    z: np.ndarray, *expectations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Residual of ``z`` against the range of several expectations, and the nearest one.

    The seasonal expectation, and the seasonal one moved by the recent level (which follows
    growth and launches, but would carry a quiet weekend into Monday morning). A point is only as
    unusual as its distance to the nearest, and not at all between them.
    """
    stack = np.vstack(expectations)
    lo, hi = stack.min(axis=0), stack.max(axis=0)
    expected = np.where(z > hi, hi, np.where(z < lo, lo, z))
    expected = np.where(np.isnan(z), expectations[0], expected)
    return z - expected, expected


def _scale(resid: np.ndarray, g: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Robust standard deviation of the residuals before each slot (MAD over ~two weeks), raised on
    bursty series by the typical day's largest deviation; (for rises, for drops), each (g,).

    The scale for rises is raised by the largest rise only, so that empty hours -- missing data
    billed as zero -- do not hide a loop; the scale for drops by the largest deviation either way."""
    window = min(14 * g.per_day, 500) if g.per_day else 56
    lags = np.arange(1, window + 1)
    mad = np.full(resid.shape[0], np.nan)
    count = np.zeros(resid.shape[0], dtype=np.int64)
    rows = rows_per_block(window)
    for lo in range(0, resid.shape[0], rows):
        vals = lagged(resid, lags, lo, min(lo + rows, resid.shape[0]))
        centre = nanmedian_rows(vals)
        mad[lo : lo + vals.shape[0]] = nanmedian_rows(np.abs(vals - centre[:, None]))
        count[lo : lo + vals.shape[0]] = np.isfinite(vals).sum(axis=1)
    sd = MAD_TO_SD * np.nan_to_num(mad, nan=0.0)
    # With few residuals seen, the scale itself is uncertain: be more tolerant.
    base = np.maximum(sd, np.where(count >= 10, MIN_SCALE, 2 * MIN_SCALE))
    rises = np.maximum(base, _daily_extreme(np.maximum(resid, 0.0), g) / TAIL_Z)
    either = np.maximum(base, _daily_extreme(resid, g) / TAIL_Z)
    return rises, either


def _daily_extreme(resid: np.ndarray, g: Grid) -> np.ndarray:
    """Median over the last 14 complete days of each day's largest |residual|, per slot; (g,).

    Bursty and intermittent series (a batch every few hours, spend only when a job runs) have a
    large deviation most days; a runaway loop is a large deviation on one day. The median of daily
    maxima tells the two apart where a quantile of points would not. Zero for daily data.
    """
    if g.per_day < 2:
        return np.zeros(resid.shape[0])
    n_blocks = -(-resid.shape[0] // g.per_day)
    padded = np.full(n_blocks * g.per_day, np.nan)
    padded[: resid.shape[0]] = np.abs(resid)
    blocks = padded.reshape(n_blocks, g.per_day)
    seen = np.isfinite(blocks).any(axis=1)
    block_max = np.where(
        seen, np.nanmax(np.where(np.isfinite(blocks), blocks, -np.inf), axis=1), np.nan
    )
    typical, count = lag_median(block_max, np.arange(1, TAIL_DAYS + 1))
    typical = np.where(count >= 2, typical, 0.0)
    return typical[np.arange(resid.shape[0]) // g.per_day]


@dataclass(frozen=True)
class _Details:
    scores: np.ndarray  # (n,)
    expected: np.ndarray  # (n,) expected value in the series' units
    usual: np.ndarray  # (n,) the seasonal expectation (does not follow a step within a day)
    shift: np.ndarray | None = None  # (n,) bool: the score is the level-shift channel's


def _details(timestamps: np.ndarray, values: np.ndarray, direction: str) -> _Details:
    if direction not in ("up", "both"):
        raise ValueError("direction must be 'up' or 'both'")
    v = np.asarray(values, dtype=float).ravel()
    n = v.shape[0]
    if n == 0:
        return _Details(np.zeros(0), np.zeros(0), np.zeros(0))
    g = build(timestamps, v)
    seasonal, levelled = _baseline(g)
    slot_resid, _ = _residual(g.z, seasonal, levelled)
    scale, drop_scale = _scale(g.z - levelled, g)
    resid, expected_z = _residual(g.point_z, seasonal[g.slot], levelled[g.slot])
    resid = np.nan_to_num(resid, nan=0.0)
    sd = scale[g.slot]
    # A job seen at this time before: discounted by its earlier rise (spike_calendar).
    recurring = recurring_discount(slot_resid, scale, g, np.log(UP_RATIO))
    rise = resid - recurring
    if HOLD_POINTS:
        # A step that has held HOLD_POINTS points is the new baseline for what comes next.
        held = np.concatenate([np.zeros(1), trailing_min(rise, HOLD_POINTS)[:-1]])
        # ... and so is a step of HOLD_PAIR_RATIO or more that has held two points: a launch's
        # third hour is judged against its first two (a loop has fired on its first two by then).
        pair_held = np.concatenate([np.zeros(1), trailing_min(rise, 2)[:-1]])
        held = np.maximum(held, np.where(pair_held >= np.log(HOLD_PAIR_RATIO), pair_held, 0.0))
        rise = rise - np.maximum(held, 0.0)
    up = np.maximum(rise, 0.0) / np.maximum(sd, np.log(UP_RATIO) / Z_MID)
    pair = np.maximum(trailing_min(rise, 2), 0.0)
    # The pair confirms a rise (up to a score of about 0.8); escalation is the single point's.
    pair_up = np.minimum(pair / np.maximum(PAIR_SD * sd, np.log(PAIR_RATIO) / Z_MID), Z_MID + 1.0)
    up = np.maximum(up, pair_up)
    up = np.maximum(up, above_record(g) * (Z_MID / np.log(RECORD_RATIO)))
    strength = up
    if direction == "both":
        drop = np.maximum(-resid, 0.0) / drop_scale[g.slot]
        strength = np.maximum(up, trailing_min(drop, DROP_POINTS))
    # Against the seasonal usual (which, unlike the level term, does not follow a rise that holds).
    seasonal_resid = np.nan_to_num(g.point_z - seasonal[g.slot], nan=0.0) - recurring
    bar = np.maximum(_bar(strength, g) - Z_MID, 0.0) if g.per_day else 0.0
    held_multiple = held_up(seasonal_resid, sd, g.per_day, np.log(UP_RATIO) / Z_MID, Z_MID)
    strength = np.maximum(strength, held_multiple) - bar
    scores = episodes(strength, max(CALM_POINTS, round(g.per_day * EPISODE_DAYS)))
    expected = np.nan_to_num(inverse(expected_z, g.scale), nan=0.0)
    usual = np.nan_to_num(inverse(seasonal[g.slot], g.scale), nan=0.0)
    if direction == "up":
        scores[: warmup(g.per_day)] = 0.0
        return _Details(scores, expected, usual)
    # A held shift: its own episodes, so that it never hides a spike on top of it.
    held = held_shift(g.point_z - seasonal[g.slot], _scale(g.z - seasonal, g)[1][g.slot], Z_MID)
    shift_scores = episodes(held, max(HELD_POINTS, g.per_day))
    # A busy stretch of a fine-grained series (spike_windows): its own episodes, once a day.
    stretch = stretch_strength(seasonal_resid, g.per_day, Z_MID)
    if stretch.any():  # never on hourly or daily series: their scores stay exactly as they were
        shift_scores = np.maximum(shift_scores, episodes(stretch, g.per_day))
    is_shift = shift_scores > scores
    scores = np.maximum(scores, shift_scores)
    scores[: warmup(g.per_day)] = 0.0
    return _Details(scores, expected, usual, is_shift)


def _bar(strength: np.ndarray, g: Grid) -> np.ndarray:
    """The BAR_RANK-th largest strength over the last BAR_DAYS days of points, per point (0
    until half of that is seen).

    Recomputed every few points from the points before the block (causal), so its cost is small.
    """
    n = strength.shape[0]
    window = BAR_DAYS * g.per_day
    k = BAR_RANK
    stride = max(1, g.per_day // 8)
    out = np.zeros(n)
    for lo in range(0, n, stride):
        past = strength[max(0, lo - window) : lo]
        if past.shape[0] >= max(k, window // 2):
            out[lo : lo + stride] = np.partition(past, past.shape[0] - k)[
                past.shape[0] - k
            ]
    return out


def spike_scores(
    timestamps: np.ndarray, values: np.ndarray, direction: str = "up"
) -> np.ndarray:
    """Causal anomaly score in [0, 1] for each point of a spend series; shape (n,).

    ``timestamps``: (n,) datetime64 (hourly, daily or any regular step; gaps, repeats and points
    out of order allowed: a late point counts at the newest time seen). ``values``: (n,) spend per
    step (NaN, zeros and negative values allowed). Never raises on data. ``direction="up"`` scores
    only jumps (what costs money); ``"both"`` also scores drops (an outage, a broken sync). A score
    of 0.5 is a robust z of about 3.5 against the seasonal baseline (and at least a 3.3x rise); the
    first 8 points (a day for sub-daily data) score 0 while the baseline forms.
    """
    return _details(timestamps, values, direction).scores


def detect(
    timestamps: np.ndarray,
    values: np.ndarray,
    threshold: float = 0.5,
    direction: str = "up",
) -> list[Spike]:
    """Points whose score reaches ``threshold``, with what was expected there."""
    d = _details(timestamps, values, direction)
    ts = np.asarray(timestamps)
    v = np.asarray(values, dtype=float)
    out = []
    for i in np.nonzero(d.scores >= threshold)[0]:
        # A held shift is judged against the seasonal expectation (the level term has followed it).
        shifted = d.shift is not None and bool(d.shift[i])
        expected = d.usual if shifted else d.expected
        # The points after the onset are judged against the usual spend at their time, which
        # does not follow the event (the level term would: a launch would look like a blip).
        e = np.concatenate([expected[: i + 1], d.usual[i + 1 :]])
        c = classify(ts, v, e, int(i))
        read = slice(int(i), min(int(i) + LOOK_POINTS, v.shape[0]))
        out.append(
            Spike(
                int(i),
                ts[i],
                float(expected[i]),
                float(v[i]),
                float(d.scores[i]),
                c.kind.value,
                c.reason,
                read.stop - read.start,
                float(np.nansum(v[read])),
                float(np.nansum(e[read])),
            )
        )
    return out


def explain(
    expected_by_dim: dict[str, float], observed_by_dim: dict[str, float]
) -> list[tuple[str, float]]:
    """Rank the dimension values (provider, model, project, ...) that drove a jump.

    Returns ``(value, observed - expected)`` for every value whose spend rose, largest rise first;
    a value missing on one side counts as zero there (a new model appearing is a rise).
    """
    keys = set(expected_by_dim) | set(observed_by_dim)
    rises = [
        (k, float(observed_by_dim.get(k, 0.0)) - float(expected_by_dim.get(k, 0.0)))
        for k in keys
    ]
    return sorted((r for r in rises if r[1] > 0), key=lambda r: (-r[1], r[0]))
