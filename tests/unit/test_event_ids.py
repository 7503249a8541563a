"""The event id index's keys: every id's index item and old-style marker fall in its bucket's range,
and no other bucket's; items hold exactly the fingerprints written."""

from __future__ import annotations

import pytest

from chalicelib.store import event_ids


def test_each_id_is_found_in_its_own_bucket_only():
    ids = [f"evt-{i}" for i in range(400)]
    fps = [event_ids.fingerprint(i) for i in ids]
    buckets = {event_ids.bucket(fp) for fp in fps}
    assert buckets == {"0", "8"}
    for eid, fp in zip(ids, fps, strict=True):
        (sk, packed), = event_ids.index_items([fp]).items()
        for name in buckets:
            low, high = event_ids.bucket_range(name)
            inside = (name == event_ids.bucket(fp))
            assert (low <= sk <= high) is inside
            assert (low <= event_ids.legacy_marker(eid) <= high) is inside
        assert event_ids.stored_fingerprints(event_ids.legacy_marker(eid), None) == {fp}
        assert event_ids.stored_fingerprints(sk, packed) == {fp}


def test_index_items_pack_a_batch_per_bucket():
    fps = [event_ids.fingerprint(f"span-{i}") for i in range(1000)]
    items = event_ids.index_items(fps + fps[:10])  # repeats are stored once
    assert len(items) == event_ids.BUCKETS
    assert set().union(*(event_ids.stored_fingerprints(sk, h) for sk, h in items.items())) == set(fps)
    assert sum(len(h) for h in items.values()) == 1000 * event_ids.FINGERPRINT_BYTES


@pytest.mark.parametrize("sk, packed", [("eid#0#abc", b"short"), ("eid#12", None), ("quota#2026-12", None)])
def test_corrupt_or_foreign_items_are_refused(sk, packed):
    with pytest.raises(ValueError):
        event_ids.stored_fingerprints(sk, packed)
