"""The exactly-once primitives against moto: a firing's key is recorded once however many writers
race, and a delivery's send is claimed by one worker at a time."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from chalicelib.domain.alert_messages import Notification
from chalicelib.services import alert_delivery
from chalicelib.store.alerts import Delivery, Firing, firing_id


def _firing(ws: str, key: str, level: str = "100") -> Firing:
    n = Notification(ws, "al_1", "x", "threshold", key, headline="h")
    return Firing(ws, key, alert_id="al_1", kind="threshold", period_key="w1", level=level, message=n.to_json(),
                  fired_at=datetime.now(UTC), fired_sort=f"{datetime.now(UTC).isoformat()}#{key}")


CHANNELS = [{"channel_id": "ch_a", "type": "email"}, {"channel_id": "ch_b", "type": "webhook"}]


def test_racing_writers_record_a_key_once(aws):
    ws = "ws_" + uuid.uuid4().hex[:10]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: alert_delivery.record(_firing(ws, "al_1:w1:100"), [], CHANNELS), range(16)))
    assert results.count(True) == 1
    assert [d.channel_id for d in Delivery.query(firing_id(ws, "al_1:w1:100"))] == ["ch_a", "ch_b"]


def test_merged_levels_are_all_or_nothing(aws):
    ws = "ws_" + uuid.uuid4().hex[:10]
    assert alert_delivery.record(_firing(ws, "al_1:w1:50", "50"), [], CHANNELS)
    # 80 with 50 merged into it: 50 exists, so nothing of this attempt is written
    merged = _firing(ws, "al_1:w1:50", "50")
    assert not alert_delivery.record(_firing(ws, "al_1:w1:80", "80"), [merged], CHANNELS)
    assert Firing.count(ws, Firing.firing_key.startswith("al_1:w1:80")) == 0
    assert alert_delivery.record(_firing(ws, "al_1:w1:80", "80"), [], CHANNELS)


def test_one_claim_at_a_time(aws):
    ws = "ws_" + uuid.uuid4().hex[:10]
    alert_delivery.record(_firing(ws, "al_1:w1:100"), [], CHANNELS[:1])
    [d] = Delivery.query(firing_id(ws, "al_1:w1:100"))
    now = int(datetime.now(UTC).timestamp())
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda _: alert_delivery._claim(Delivery.get(d.firing_id, d.channel_id), now, False),
                               range(8)))
    assert sum(t is not None for t in tokens) == 1
    assert alert_delivery._claim(Delivery.get(d.firing_id, d.channel_id), now + alert_delivery.LEASE_SECONDS + 1,
                                 False) is not None  # the lease lapsed: taken over
