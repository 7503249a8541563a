"""Provider connections: which account, its sealed credentials and its sync state."""

from __future__ import annotations

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from chalicelib.store.base import BaseModel, table_meta, utcnow


class Connection(BaseModel):
    Meta = table_meta("connections")
    workspace_id = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)
    provider = UnicodeAttribute()
    label = UnicodeAttribute()
    status = UnicodeAttribute(default="active")  # active | paused | error
    key_hint = UnicodeAttribute(default="")
    credentials = BinaryAttribute(legacy_encoding=False)  # AWS Encryption SDK message
    sync_interval_minutes = NumberAttribute(default=15)
    created_at = UTCDateTimeAttribute(default=utcnow)
    # The sync cursor: every UTC day before it has been stored at least once.
    synced_through = UnicodeAttribute(null=True)  # YYYY-MM-DD (exclusive)
    next_sync_at = NumberAttribute(default=0)  # unix seconds; the scheduler claims by moving it
    last_sync_at = UTCDateTimeAttribute(null=True)
    last_success_at = UTCDateTimeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    failing_since = UTCDateTimeAttribute(null=True)
