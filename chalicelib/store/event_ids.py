"""The pushed-event id index: which ids a workspace has stored, whatever the events' days (pure).

Layout, in the ``usage-records`` table (``pk`` = workspace id):

``eid#<b>#<digest>``
    The fingerprints of the ids one transaction stored that fall in bucket ``b`` (``BUCKETS``
    buckets named by the first hex digit they cover: 0 and 8), packed in the binary attribute
    ``h`` (``FINGERPRINT_BYTES`` each, sorted). Written once, under ``attribute_not_exists``, in
    the transaction that writes the events: a batch of 1,000 ids costs 2 items of 5 KB (24 write
    units in a transaction) instead of 1,000 marker items (2,000). Write units are per KB of each
    item, rounded up, so more buckets only add rounding (4 buckets: 24 for 1,000 ids, 16 instead
    of 12 for an OTLP export of 512), and a batch of hundreds of ids touches every bucket anyway,
    so they would not make its check read less.
``eid#<32 hex>``
    An id marker as written before the index (one item per id). Its hex is the same digest, so
    a bucket's sort-key range (``bucket_range``) returns both kinds: old ids stay duplicates
    without a migration.
``eidv``
    ``v``, the index version: every transaction that stores ids adds 1 under ``v = <read>``.
    A writer reads ``v`` before the buckets, so a writer whose buckets changed since it read them
    fails its condition, reads again and finds the ids now stored (concurrent repeats count once).

The duplicate check reads the buckets a batch touches, strongly consistent: about 10 bytes per id
ever stored (2.5 RCU per 1,000 stored ids, per batch). That is cheaper than reading one marker
per id (1 RCU each) until a workspace has stored about 400 ids per id in the batch (400,000 for
batches of 1,000): reads grow with the ids stored, the price of writes that do not.

A fingerprint is the first 10 bytes (80 bits) of the id's SHA-256: two different ids share one
with odds of about n^2 / 2^81 (10^-10 at 10 million ids in one workspace).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

FINGERPRINT_BYTES = 10
BUCKETS = 2
VERSION_KEY = "eidv"
_HEX_PER_BUCKET = 16 // BUCKETS
_PREFIX = "eid#"
_LEGACY_HEX = 32


def fingerprint(idempotency_id: str) -> bytes:
    return hashlib.sha256(idempotency_id.encode()).digest()[:FINGERPRINT_BYTES]


def bucket(fp: bytes) -> str:
    """The bucket of a fingerprint: the first hex digit of its range (0 or 8)."""
    return format(fp[0] >> 4 & ~(_HEX_PER_BUCKET - 1), "x")


def bucket_range(name: str) -> tuple[str, str]:
    """The inclusive sort-key range of a bucket's items (index items and old markers alike)."""
    last = format(int(name, 16) + _HEX_PER_BUCKET - 1, "x")
    return _PREFIX + name, _PREFIX + last + "~"


def index_items(fingerprints: Iterable[bytes]) -> dict[str, bytes]:
    """Sort key -> packed ``h`` for the index items that store these fingerprints."""
    per_bucket: dict[str, list[bytes]] = {}
    for fp in fingerprints:
        per_bucket.setdefault(bucket(fp), []).append(fp)
    items = {}
    for name, fps in sorted(per_bucket.items()):
        packed = b"".join(sorted(set(fps)))
        items[f"{_PREFIX}{name}#{hashlib.sha256(packed).hexdigest()[:20]}"] = packed
    return items


def stored_fingerprints(sort_key: str, packed: bytes | None) -> set[bytes]:
    """The fingerprints one item of a bucket holds: an index item's ``h``, or an old marker's key."""
    rest = sort_key[len(_PREFIX):]
    if len(rest) > 1 and rest[1] == "#":
        if not packed or len(packed) % FINGERPRINT_BYTES:
            raise ValueError(f"corrupt event id index item {sort_key!r}")
        return {packed[i:i + FINGERPRINT_BYTES] for i in range(0, len(packed), FINGERPRINT_BYTES)}
    if len(rest) == _LEGACY_HEX:
        return {bytes.fromhex(rest)[:FINGERPRINT_BYTES]}
    raise ValueError(f"not an event id item: {sort_key!r}")


def legacy_marker(idempotency_id: str) -> str:
    """The sort key an id's marker had before the index (still read; written by old code only)."""
    return _PREFIX + hashlib.sha256(idempotency_id.encode()).hexdigest()[:_LEGACY_HEX]
