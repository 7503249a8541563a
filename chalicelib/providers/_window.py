"""Sync windows: whole UTC days, never reaching past the current day's bucket."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

DAY = timedelta(days=1)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("sync window bounds must be timezone-aware")
    return moment.astimezone(UTC)


def day_floor(moment: datetime) -> datetime:
    """00:00Z of the UTC day containing ``moment``."""
    return datetime.combine(_utc(moment).date(), time(0), tzinfo=UTC)


def day_ceil(moment: datetime) -> datetime:
    """The first 00:00Z at or after ``moment``."""
    floor = day_floor(moment)
    return floor if floor == _utc(moment) else floor + DAY


def day_window(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime] | None:
    """``[start, end)`` aligned to whole UTC days and clamped to the end of today.

    ``None`` when nothing is left to fetch.
    """
    aligned_start = day_floor(start)
    aligned_end = min(day_ceil(end), day_floor(now) + DAY)
    if aligned_end <= aligned_start:
        return None
    return aligned_start, aligned_end


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def to_unix(moment: datetime) -> int:
    return int(_utc(moment).timestamp())
