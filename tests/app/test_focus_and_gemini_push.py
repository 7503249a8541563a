"""Gemini usage pushed from code is priced from the catalogue, and the usage downloads as FOCUS 1.2."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib.domain import focus_export
from chalicelib.domain.pricing import estimate_cost
from tests.app import moment

AT = datetime.min.replace(tzinfo=UTC)  # placeholders: _moment sets both for each test
TODAY = ""


@pytest.fixture(autouse=True)
def _moment(monkeypatch):
    moment.pin(monkeypatch, globals(), "AT", "TODAY", minutes_back=5)


# usageMetadata of a generateContent response, mapped as the README says
META = {"promptTokenCount": 12_480, "cachedContentTokenCount": 8_192, "candidatesTokenCount": 911,
        "thoughtsTokenCount": 1_304}


@pytest.fixture
def key(api, user):
    return api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "backend"}, token=user.token).json


def push(api, key, events):
    return api.call("POST", "/api/webhooks/provider-usage", body=json.dumps({"events": events}),
                    headers={"Authorization": f"Bearer {key['key']}"})


def gemini_event(i, model="gemini-2.5-flash", provider="google"):
    return {"id": f"gem-{i}", "timestamp": AT.isoformat(), "provider": provider, "model": model,
            "input_tokens": META["promptTokenCount"] - META["cachedContentTokenCount"],
            "cached_input_tokens": META["cachedContentTokenCount"],
            "output_tokens": META["candidatesTokenCount"] + META["thoughtsTokenCount"],
            "feature": "summarise", "customer": "acme", "project": "web-app"}


def test_pushed_gemini_usage_is_priced_from_the_catalogue(api, user, key):
    r = push(api, key, [gemini_event(1), gemini_event(2, model="models/gemini-2.5-flash", provider="gemini")])
    assert r.status == 200 and r.json["summary"]["accepted"] == 2, r.body
    one = estimate_cost("google", "gemini-2.5-flash", input_tokens=4_288, cached_input_tokens=8_192,
                        output_tokens=2_215, at=AT)
    assert one == Decimal("0.00706966")
    body = api.get(f"/api/workspaces/{user.workspace_id}/usage?from={TODAY}&to={TODAY}", token=user.token).json
    assert Decimal(body["totals"][0]["spend"]) == 2 * one


def test_usage_downloads_as_focus_1_2(api, user, key):
    openai = {"id": "oai-1", "timestamp": AT.isoformat(), "provider": "openai", "model": "gpt-4o-mini",
              "input_tokens": 1200, "output_tokens": 300, "cost": "0.0021", "feature": "search", "customer": "globex"}
    assert push(api, key, [gemini_event(1), openai]).json["summary"]["accepted"] == 2
    r = api.get(f"/api/workspaces/{user.workspace_id}/usage"
                f"?from={TODAY}&to={TODAY}&group_by=project,feature&format=focus", token=user.token)
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="focus-1.2-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert tuple(rows[0]) == focus_export.COLUMNS  # the mandatory ones: tests/unit/test_focus_export.py
    by_service = {row["ServiceName"]: row for row in rows}
    assert set(by_service) == {"gemini-2.5-flash", "gpt-4o-mini"}
    gemini = by_service["gemini-2.5-flash"]
    assert gemini["ProviderName"] == "Google" and gemini["BillingCurrency"] == "USD"
    assert gemini["BilledCost"] == "0.00706966" and gemini["x_CostBasis"] == "events"
    assert json.loads(gemini["Tags"]) == {"feature": "summarise"} and gemini["SubAccountId"] == "web-app"
    assert by_service["gpt-4o-mini"]["BilledCost"] == "0.0021"
    assert gemini["ChargePeriodStart"] == f"{TODAY}T00:00:00Z" and gemini["BillingAccountId"] == user.workspace_id
    bad = api.get(f"/api/workspaces/{user.workspace_id}/usage?format=focus&group_by=colour", token=user.token)
    assert bad.status == 400 and bad.json["error"]["field"] == "group_by"
