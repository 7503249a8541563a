"""The audit of provider API key actions (disable, enable, delete), one item per request.

Range key ``<connection_id>#<requested_at ISO>#<action_id>``: a connection's actions are one
contiguous, time-ordered range. An automatic action's id is derived from its firing, so recording
it twice (two evaluators) writes one item.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from chalicelib.store.base import BaseModel, table_meta, utcnow


class KeyAction(BaseModel):
    Meta = table_meta("key-actions")
    workspace_id = UnicodeAttribute(hash_key=True)
    action_key = UnicodeAttribute(range_key=True)
    action_id = UnicodeAttribute()
    connection_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    action = UnicodeAttribute()  # disable | enable | delete
    api_key_id = UnicodeAttribute()
    project_id = UnicodeAttribute(null=True)  # OpenAI: the key's project
    status = UnicodeAttribute(default="pending")  # pending | running | done | failed
    actor = UnicodeAttribute()  # the member's email, or "automatic"
    actor_user_id = UnicodeAttribute(null=True)
    firing_id = UnicodeAttribute(null=True)  # why: the alert firing that named the key
    reason = UnicodeAttribute(default="")
    requested_at = UTCDateTimeAttribute(default=utcnow)
    finished_at = UTCDateTimeAttribute(null=True)
    claim_until = NumberAttribute(default=0)  # unix seconds; a crashed worker's claim lapses
    key_status = UnicodeAttribute(null=True)  # what the provider says the key is now
    error = UnicodeAttribute(null=True)


def action_key(connection_id: str, requested_iso: str, action_id: str) -> str:
    return f"{connection_id}#{requested_iso}#{action_id}"
