"""Demo data for the local stack: a user and workspace (credentials printed on start), OpenAI and
Anthropic connections pointed at the fake provider APIs (so the scheduled sync runs end to end),
an ingest key, and three months of usage pushed from "the team's code" tagged by feature and
customer (with a costly feature launched ten days ago), through the same ingestion path a client
uses. Then the alerts a team would have: a monthly budget a little above where the month is heading
(so the first screen shows a real chance of passing it), a spike alert that is firing now (a support
bot stuck in a loop on gpt-4o this morning) and a daily Anthropic threshold that fired yesterday (a
batch job re-ran) and was acknowledged, so the alert history has a settled firing.

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
    from chalicelib.domain.alerts import provider_title
    from chalicelib.services import accounts, connections, email_verification, ingestion
    from chalicelib.store.identity import Membership

    created = accounts.signup(DEMO_EMAIL, DEMO_PASSWORD, "Demo workspace")
    email_verification.mark_verified(DEMO_EMAIL)  # the demo's alert emails reach the outbox
    owner = Membership.get(created["workspace_id"], created["user_id"])
    for provider, key in (provider_keys or {}).items():
        connections.create(owner, provider, f"{provider_title(provider)} (demo org)", {"admin_key": key})
    if provider_credentials:
        _connect_in_second_workspace(owner, provider_credentials)
    key = ingestion.create_key(owner, "demo backend")
    now = datetime.now(UTC)
    events = _history(days, now) + _incidents(now)
    _push(key["key"], events)
    for provider, fake in (bill_to or {}).items():
        fake.bill_calls(billed_calls(events, provider))
    _seed_alerts(owner, now)
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "ingest_key": key["key"], **created}


def _seed_alerts(owner, now: datetime) -> None:
    """The demo's alerts and their firings, evaluated against the spend as the providers bill it (the
    connections are synced first, so the budget sits near the forecast the first screen shows)."""
    from chalicelib.services import alert_eval, alerts, forecasting, sync
    from chalicelib.store.connections import Connection

    ws = owner.workspace_id
    for c in Connection.query(ws):
        sync.sync_one(ws, c.connection_id, now=now)
    email = [{"type": "email"}]
    yesterday = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(minutes=1)
    alerts.create(owner, {"name": "Anthropic over $25 a day", "kind": "threshold", "amount": "25",
                                  "period": {"kind": "daily"}, "scope": {"dimension": "provider", "value": "anthropic"},
                                  "channels": email})
    for fired in alert_eval.evaluate_workspace(ws, yesterday):
        alerts.acknowledge(owner, fired)
    projected = forecasting.forecast(ws, 31, {}, None, "month")
    mean = Decimal(projected["period_end"]["projected"]) if projected["status"] == "ok" else Decimal(450)
    budget = (mean * Decimal("1.08") / 50).to_integral_value(rounding=ROUND_CEILING) * 50
    alerts.create(owner, {"name": "Monthly AI budget", "kind": "budget", "amount": str(budget),
                          "period": {"kind": "monthly"}, "levels": [80, 100], "channels": email})
    alerts.create(owner, {"name": "Unusual daily spend", "kind": "spike", "sensitivity": 0.5, "channels": email})
    alert_eval.evaluate_workspace(ws, now)


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


def _incidents(now: datetime) -> list[dict]:
    """Yesterday a batch job re-ran on Claude; this morning a support bot looped on gpt-4o (the
    open spike). Both before ``now``, so whatever the hour the stack starts, both days show them."""
    rng = random.Random(7)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    events = []
    for i in range(40):  # the batch: about $30 of claude-3-5-haiku in the evening
        at = midnight - timedelta(hours=4) + timedelta(seconds=rng.randrange(3 * 3600))
        events.append({"id": f"demo-batch-{at.date()}-{i}", "timestamp": at.isoformat(), "provider": "anthropic",
                       "model": "claude-3-5-haiku", "input_tokens": rng.randint(600_000, 800_000),
                       "output_tokens": rng.randint(20_000, 30_000), "feature": "summarise",
                       "customer": "globex", "project": "batch-jobs"})
    for i in range(240):  # the loop: about $600 of gpt-4o in the last hour before now (a month of daily
        # history is noisy: the detector needs a clear multiple of the usual day to call it a spike)
        at = max(midnight + timedelta(seconds=1), now - timedelta(minutes=2) - timedelta(seconds=rng.randrange(3600)))
        events.append({"id": f"demo-loop-{now.date()}-{i}", "timestamp": at.isoformat(), "provider": "openai",
                       "model": "gpt-4o", "input_tokens": rng.randint(700_000, 900_000),
                       "output_tokens": rng.randint(20_000, 40_000), "feature": "support-bot",
                       "customer": "initech", "project": "web-app"})
    return events


def _push(ingest_key: str, events: list[dict]) -> None:
    from chalicelib.services import ingestion

    headers = {"authorization": f"Bearer {ingest_key}"}
    for start in range(0, len(events), 1000):
        ingestion.ingest_batch(headers, json.dumps({"events": events[start:start + 1000]}).encode())


def _history(days: int, now: datetime) -> list[dict]:
    rng = random.Random(42)
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
    return events
