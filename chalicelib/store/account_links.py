"""Single-use links sent by email (verify an address, reset a password, join a workspace).

The link carries a random secret; the table keeps only its SHA-256 (``link_hash``), so a read of
the table yields no working link. TTL removes expired items; readers check ``expires_at`` too
(TTL deletes lazily). Invitations are listed per workspace through ``by-workspace``.
"""

from __future__ import annotations

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, table_meta, utcnow


class LinksByWorkspaceIndex(GlobalSecondaryIndex["AccountLink"]):
    class Meta:
        index_name = "by-workspace"
        projection = AllProjection()

    workspace_id = UnicodeAttribute(hash_key=True)
    link_hash = UnicodeAttribute(range_key=True)


class AccountLink(BaseModel):
    Meta = table_meta("account-links")
    link_hash = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # verify-email | reset-password | invitation
    email = UnicodeAttribute()  # normalised
    created_at = UTCDateTimeAttribute(default=utcnow)
    expires_at = TTLAttribute()
    # invitations only
    workspace_id = UnicodeAttribute(null=True)
    invitation_id = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    invited_by = UnicodeAttribute(null=True)  # the inviter's email
    by_workspace = LinksByWorkspaceIndex()
