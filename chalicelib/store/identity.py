"""Tables for accounts and tenancy: users, sessions, workspaces, memberships."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, table_meta, utcnow


class UserByIdIndex(GlobalSecondaryIndex["User"]):
    class Meta:
        index_name = "by-user-id"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)


class User(BaseModel):
    """Keyed by normalised email so that a conditional put enforces uniqueness."""

    Meta = table_meta("users")
    email = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=utcnow)
    # False from sign-up until the address is verified (services.email_verification); accounts from
    # before verification existed have no value and count as verified.
    email_verified = BooleanAttribute(null=True)
    by_user_id = UserByIdIndex()


class SessionsByUserIndex(GlobalSecondaryIndex["Session"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    session_id = UnicodeAttribute(range_key=True)


class Session(BaseModel):
    """One per login; a token is valid only while its session exists (logout deletes it)."""

    Meta = table_meta("sessions")
    session_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=utcnow)
    expires_at = TTLAttribute()
    # services.sessions_list: what the account page shows of each session
    user_agent = UnicodeAttribute(null=True)
    last_seen_at = UTCDateTimeAttribute(null=True)
    # the account's creation time (it never changes), so GET /api/me need not read the user item
    user_created_at = UTCDateTimeAttribute(null=True)
    by_user = SessionsByUserIndex()


class Workspace(BaseModel):
    Meta = table_meta("workspaces")
    workspace_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=utcnow)
    created_by = UnicodeAttribute()
    # Maintained in the same transaction as owner memberships; a condition on it keeps >= 1 owner.
    owner_count = NumberAttribute(default=1)
    # Counted plan limits (services.counters): changed in the transaction that creates or removes
    # what they count, under a condition; missing means "not counted yet" (rebuilt on first use).
    member_count = NumberAttribute(null=True)
    connection_count = NumberAttribute(null=True)
    active_alert_rule_count = NumberAttribute(null=True)
    live_ingest_key_count = NumberAttribute(null=True)
    # Set when the workspace is deleted; its data is purged (services.workspace_purge), then the item.
    deleted_at = NumberAttribute(null=True)


class MembershipByUserIndex(GlobalSecondaryIndex["Membership"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    workspace_id = UnicodeAttribute(range_key=True)


class Membership(BaseModel):
    Meta = table_meta("members")
    workspace_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    role = UnicodeAttribute()
    email = UnicodeAttribute()
    joined_at = UTCDateTimeAttribute(default=utcnow)
    by_user = MembershipByUserIndex()
