"""Demo data for the local stack: a user and workspace (credentials printed on start), OpenAI and
Anthropic connections pointed at the fake provider APIs (so the scheduled sync runs end to end),
an ingest key, and three months of usage pushed from "the team's code" tagged by feature and
customer (with a costly feature launched ten days ago), through the same ingestion path a client
uses.

The fake providers bill those calls too (``bill_to``): each at least what its pushed event costs
(the catalogue estimate, rounded up to a millionth of a dollar), under the dated model name a
provider puts on its bill, next to the fakes' own traffic that nothing pushes. So a final day is
never over-attributed, the rest of each bill shows as unattributed, and today, whose bill the
fakes fill in with a lag, reads as provisional spend until the provider's day is final."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

DEMO_EMAIL = "demo@costpilot.local"
DEMO_PASSWORD = "demo-password-123"
FEATURES = ["search", "chat", "summarise", "support-bot"]
CUSTOMERS = ["acme", "globex", "initech", "umbrella", "hooli"]
# the names the providers' bills use for the models the demo's code reports
BILLED_MODEL = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06",
                "claude-3-5-haiku": "claude-3-5-haiku-20241022"}
MILLIONTH = Decimal("0.000001")


def seed_demo(provider_keys: dict[str, str] | None = None, days: int = 90,
              provider_credentials: dict[str, dict[str, str]] | None = None,
              bill_to: Mapping[str, Any] | None = None) -> dict:
    """Creates the demo account and data; returns what the banner prints. ``provider_credentials``
    (Google Cloud's service account key, project, dataset) connect in a second demo workspace: the
    Free plan's two connections are the first one's OpenAI and Anthropic. ``bill_to``: fake
    providers (by name) that bill the demo's pushed calls."""
    from chalicelib.services import accounts, alerts, connections, email_verification, ingestion
    from chalicelib.store.identity import Membership

    created = accounts.signup(DEMO_EMAIL, DEMO_PASSWORD, "Demo workspace")
    email_verification.mark_verified(DEMO_EMAIL)  # the demo's alert emails reach the outbox
    owner = Membership.get(created["workspace_id"], created["user_id"])
    for provider, key in (provider_keys or {}).items():
        connections.create(owner, provider, f"{provider.title()} (demo org)", {"admin_key": key})
    if provider_credentials:
        _connect_in_second_workspace(owner, provider_credentials)
    key = ingestion.create_key(owner, "demo backend")
    events = _push_history(key["key"], days)
    for provider, fake in (bill_to or {}).items():
        fake.bill_calls(billed_calls(events, provider))
    # a monthly budget near the forecast, so the first screen shows the chance of passing it
    alerts.create(owner, {"name": "Monthly AI budget", "kind": "budget", "amount": "450", "period": {"kind": "monthly"},
                          "levels": [80, 100], "channels": [{"type": "email"}]})
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "ingest_key": key["key"], **created}


def _connect_in_second_workspace(owner, provider_credentials: dict[str, dict[str, str]]) -> None:
    from chalicelib.services import connections, workspaces
    from chalicelib.services.accounts import Principal
    from chalicelib.store.identity import Membership

    ws = workspaces.create(Principal(owner.user_id, DEMO_EMAIL, ""), "Demo: Google Cloud")
    member = Membership.get(ws["workspace_id"], owner.user_id)
    for provider, credentials in provider_credentials.items():
        connections.create(member, provider, "Google Cloud billing export (demo)", credentials)


def billed_calls(events: list[dict], provider: str) -> list:
    """What ``provider`` bills for the demo's pushed ``events``: per call at least its catalogue
    estimate (the figure ingestion stores), split into input and output lines."""
    from chalicelib.domain import pricing
    from devstack.fakes.base import BilledCall

    def up(amount: Decimal | None) -> Decimal:
        return (amount or Decimal(0)).quantize(MILLIONTH, rounding=ROUND_CEILING)

    calls = []
    for e in events:
        if e["provider"] != provider:
            continue
        at = datetime.fromisoformat(e["timestamp"])
        total = up(pricing.estimate_cost(provider, e["model"], input_tokens=e["input_tokens"],
                                         output_tokens=e["output_tokens"], at=at))
        input_cost = min(up(pricing.estimate_cost(provider, e["model"], input_tokens=e["input_tokens"], at=at)),
                         total)
        calls.append(BilledCall(at, BILLED_MODEL[e["model"]], input_cost, total - input_cost))
    return calls


def _push_history(ingest_key: str, days: int) -> list[dict]:
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
    return events
