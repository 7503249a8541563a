"""SMS items, kept in the alert-markers table (workspace_id, marker) beside the evaluation markers:

- ``sms-number#<e164>``: a workspace's phone number, ``pending`` (a code was sent: its HMAC, expiry,
  wrong attempts, codes sent) or ``verified``. Deleted with the workspace like every marker.
- ``sms-day#<YYYY-MM-DD>``: SMS sent by the workspace that UTC day (``count``, atomic ADD under a
  condition), expiring after a few days.
- ``sms-once#<alert_id>#<period>#<channel_id>``: the delivery that holds the one SMS of an alert's
  period to that channel (create-only, or the same delivery again on a retry).
- Under the pseudo workspace ``sms-link``: ``<code>`` -> the dashboard path of a firing, for the
  short link in an SMS (expires with the firing's history window at the latest).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)

from chalicelib.store.base import BaseModel, table_meta, utcnow

LINKS = "sms-link"  # the short links' partition


class SmsItem(BaseModel):
    Meta = table_meta("alert-markers")
    workspace_id = UnicodeAttribute(hash_key=True)
    marker = UnicodeAttribute(range_key=True)
    # numbers
    number = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)  # pending | verified
    code_hash = UnicodeAttribute(null=True)
    code_expires = NumberAttribute(default=0)  # unix seconds
    attempts = NumberAttribute(default=0)  # wrong codes entered for the current code
    sends = NumberAttribute(default=0)  # codes sent while pending
    last_sent = NumberAttribute(default=0)
    created_by = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=utcnow)
    verified_at = UTCDateTimeAttribute(null=True)
    # daily counter
    count = NumberAttribute(default=0)
    # once-per-period holder
    delivery_id = UnicodeAttribute(null=True)
    counted = BooleanAttribute(default=False)
    # short links
    target = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


def number_marker(number: str) -> str:
    return f"sms-number#{number}"


def day_marker(day: str) -> str:
    return f"sms-day#{day}"


def once_marker(alert_id: str, period_key: str, channel_id: str) -> str:
    return f"sms-once#{alert_id}#{period_key}#{channel_id}"
