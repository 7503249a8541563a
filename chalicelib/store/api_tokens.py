"""Personal API tokens: a user's named bearer tokens for the API, stored as SHA-256 hashes."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, table_meta, utcnow


class TokensByUser(GlobalSecondaryIndex["ApiToken"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    token_id = UnicodeAttribute(range_key=True)


class ApiToken(BaseModel):
    """Keyed by the token's public prefix, so a presented token is found with one read."""

    Meta = table_meta("api-tokens")
    token_id = UnicodeAttribute(hash_key=True)  # public prefix (cpat_ + 11 random characters)
    user_id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    scope = UnicodeAttribute()  # read | read_write
    token_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=utcnow)
    expires_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    by_user = TokensByUser()
