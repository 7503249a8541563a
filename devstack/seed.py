"""Demo data for the local stack: a user and workspace (credentials printed on start), OpenAI and
Anthropic connections pointed at the fake provider APIs (so the scheduled sync runs end to end),
an ingest key, and three months of usage pushed from "the team's code" tagged by feature and
customer (with a costly feature launched ten days ago), through the same ingestion path a client
uses."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

DEMO_EMAIL = "demo@costpilot.local"
DEMO_PASSWORD = "demo-password-123"
FEATURES = ["search", "chat", "summarise", "support-bot"]
CUSTOMERS = ["acme", "globex", "initech", "umbrella", "hooli"]


def seed_demo(provider_keys: dict[str, str] | None = None, days: int = 90) -> dict:
    """Creates the demo account and data; returns what the banner prints."""
    from chalicelib.services import accounts, connections, ingestion
    from chalicelib.store.identity import Membership

    created = accounts.signup(DEMO_EMAIL, DEMO_PASSWORD, "Demo workspace")
    owner = Membership.get(created["workspace_id"], created["user_id"])
    for provider, key in (provider_keys or {}).items():
        connections.create(owner, provider, f"{provider.title()} (demo org)", {"admin_key": key})
    key = ingestion.create_key(owner, "demo backend")
    _push_history(key["key"], days)
    from chalicelib.services import alerts

    # a monthly budget near the forecast, so the first screen shows the chance of passing it
    alerts.create(owner, {"name": "Monthly AI budget", "kind": "budget", "amount": "450", "period": {"kind": "monthly"},
                          "levels": [80, 100], "channels": [{"type": "email"}]})
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "ingest_key": key["key"], **created}


def _push_history(ingest_key: str, days: int) -> None:
    from chalicelib.services import ingestion

    rng = random.Random(42)
    now = datetime.now(UTC)
    events = []
    for d in range(days, -1, -1):
        day = (now - timedelta(days=d)).replace(hour=0, minute=0, second=0, microsecond=0)
        weekend = day.weekday() >= 5
        growth = 1 + (days - d) / days  # spend doubles over the period
        for i in range(int(rng.randint(12, 20) * growth * (0.4 if weekend else 1))):
            at = min(day + timedelta(seconds=rng.randrange(86400)), now - timedelta(minutes=1))
            feature = rng.choice(FEATURES)
            model = "gpt-4o" if feature == "support-bot" else rng.choice(["gpt-4o-mini", "claude-3-5-haiku"])
            provider = "anthropic" if model.startswith("claude") else "openai"
            scale = 1
            if d < 10 and i % 3 == 0:  # a feature launched ten days ago: long agent runs on gpt-4o
                feature, model, provider, scale = "agent-beta", "gpt-4o", "openai", 12
            events.append({
                "id": f"demo-{day.date()}-{i}", "timestamp": at.isoformat(), "provider": provider, "model": model,
                "input_tokens": rng.randint(2_000, 40_000) * scale, "output_tokens": rng.randint(200, 4_000) * scale,
                "feature": feature, "customer": rng.choice(CUSTOMERS), "project": "web-app",
            })
    headers = {"authorization": f"Bearer {ingest_key}"}
    for start in range(0, len(events), 1000):
        ingestion.ingest_batch(headers, json.dumps({"events": events[start:start + 1000]}).encode())
