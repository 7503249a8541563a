"""The workspace's daily SMS cap (``config.sms_daily_cap``, verification codes included): one counter
item per UTC day, an atomic ADD under a condition, so concurrent sends never pass the cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import config
from chalicelib.errors import TooManyAttempts
from chalicelib.store.base import cancelled_by_condition, transaction
from chalicelib.store.sms import SmsItem, day_marker

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite


def _seconds_to_midnight(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


def day_counter_update(t: TransactWrite, workspace_id: str, now: datetime) -> None:
    item = SmsItem(workspace_id, day_marker(now.date().isoformat()))
    t.update(item, actions=[SmsItem.count.add(1),
                            SmsItem.expires_at.set(now + timedelta(days=3))],
             condition=SmsItem.count.does_not_exist() | (SmsItem.count < config.sms_daily_cap()))


def take_daily_slot(workspace_id: str) -> None:
    """One SMS of the workspace's daily cap (verification codes); TooManyAttempts when none is left."""
    now = datetime.now(UTC)
    try:
        with transaction() as t:
            day_counter_update(t, workspace_id, now)
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)):
            raise TooManyAttempts("the workspace's SMS limit for today is reached",
                                  retry_after=_seconds_to_midnight(now)) from None
        raise


def sent_today(workspace_id: str, now: datetime | None = None) -> int:
    day = (now or datetime.now(UTC)).date().isoformat()
    try:
        return int(SmsItem.get(workspace_id, day_marker(day), consistent_read=True).count)
    except DoesNotExist:
        return 0
