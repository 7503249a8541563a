"""The demo's story holds together: the fake providers bill what the demo's pushed events cost
plus traffic nothing pushes, so no final day is over-attributed, the rest of each bill is
unattributed, and today is provisional (its bill fills in with a lag)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from devstack.fakes import FakeAnthropic, FakeOpenAI, serve
from devstack.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from tests.helpers import deliver_queue, purge_queue


def test_demo_bills_cover_its_events_and_today_is_provisional(api, monkeypatch):
    monkeypatch.setenv("COSTPILOT_BACKFILL_DAYS", "7")
    fakes = {"openai": FakeOpenAI(seed=11, history_days=120, billing_lag=timedelta(minutes=30),
                                  background_per_second=Decimal("0.0001")),
             "anthropic": FakeAnthropic(seed=12, history_days=120, billing_lag=timedelta(minutes=5),
                                        background_per_second=Decimal("0.00005"))}
    served = {name: serve(fake) for name, fake in fakes.items()}
    try:
        for name, s in served.items():
            monkeypatch.setenv(f"COSTPILOT_PROVIDER_URL_{name.upper()}", s.base_url)
        purge_queue("sync")
        seed_demo({name: fake.admin_key for name, fake in fakes.items()}, days=5, bill_to=fakes)
        assert fakes["openai"].calls and fakes["anthropic"].calls
        deliver_queue(api.client, "sync_worker", "sync")
    finally:
        for s in served.values():
            s.stop()
    token = api.post("/api/auth/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}).json["token"]
    ws = api.get("/api/me", token=token).json["workspaces"][0]["workspace_id"]
    today = datetime.now(UTC).date()
    q = f"from={today - timedelta(days=5)}&to={today}&group_by=provider,feature"
    body = api.get(f"/api/workspaces/{ws}/usage?{q}", token=token).json
    assert body["over_attributed"] == []
    remainder = [p for p in body["series"] if p["unattributed"]]
    assert remainder and all(Decimal(p["spend"]) >= 0 for p in remainder)
    states = {(p["period"], p["group"]["provider"]): p["state"] for p in body["series"]}
    assert states[(str(today), "openai")] == "provisional"
    assert {s for (day, _), s in states.items() if day <= str(today - timedelta(days=3))} == {"final"}
    # on a final day the bill is the fake's own traffic plus what the demo's events cost (each
    # rounded up to a millionth): the remainder is exactly the fake's own traffic, to that rounding
    own = {"openai": FakeOpenAI(seed=11, history_days=120, background_per_second=Decimal("0.0001")),
           "anthropic": FakeAnthropic(seed=12, history_days=120, background_per_second=Decimal("0.00005"))}
    per_dollar = {"openai": Decimal(1), "anthropic": Decimal(100)}  # Anthropic's amounts are cents
    checked = 0
    for p in body["series"]:
        day = datetime.fromisoformat(p["period"]).date()
        if p["unattributed"] and day <= today - timedelta(days=3):
            provider = p["group"]["provider"]
            traffic = sum((r["amount"] for r in own[provider].cost_rows(day)), Decimal(0)) / per_dollar[provider]
            assert Decimal(0) <= Decimal(p["spend"]) - traffic < Decimal("0.001"), (p, traffic)
            checked += 1
    assert checked >= 4
