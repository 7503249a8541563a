"""Ingest keys: bearer keys (stored as SHA-256 hashes) and HMAC signing secrets (sealed under KMS)
that let a team's own code push usage into one workspace."""

from __future__ import annotations

from pynamodb.attributes import BinaryAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, table_meta, utcnow


class KeysByWorkspace(GlobalSecondaryIndex["IngestKey"]):
    class Meta:
        index_name = "by-workspace"
        projection = AllProjection()

    workspace_id = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute(range_key=True)


class KeysBySigningKid(GlobalSecondaryIndex["IngestKey"]):
    class Meta:
        index_name = "by-signing-kid"
        projection = AllProjection()

    signing_kid = UnicodeAttribute(hash_key=True)


class IngestKey(BaseModel):
    """Keyed by the bearer key's public prefix, so a presented key is found with one read."""

    Meta = table_meta("ingest-keys")
    key_id = UnicodeAttribute(hash_key=True)  # public prefix of the bearer key (cpk_live_xxxxxxx)
    workspace_id = UnicodeAttribute()
    name = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    signing_kid = UnicodeAttribute()  # public prefix of the signing secret (cpsig_xxxxxxxxxx)
    signing_secret = BinaryAttribute(legacy_encoding=False)  # AWS Encryption SDK message
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=utcnow)
    last_used_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    by_workspace = KeysByWorkspace()
    by_signing_kid = KeysBySigningKid()
