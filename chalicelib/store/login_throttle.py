"""Login attempt counters, one item per (kind, digest, window) key; TTL removes old windows."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.store.base import BaseModel, table_meta


class LoginAttempts(BaseModel):
    Meta = table_meta("login-throttle")
    key = UnicodeAttribute(hash_key=True)
    attempts = NumberAttribute(default=0)
    expires_at = TTLAttribute()
