"""The Python SDK against the real app (chalice's test client as its HTTP transport): events it
records, directly and through an instrumented OpenAI client, appear in GET .../usage to the cent,
and resending a batch changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import costpilot
import httpx2
import openai
import pytest

from tests.app import moment
from tests.sdk.fakes import ChaliceTransport
from tests.sdk.provider_fakes import PROMPT, ProviderFake

WHEN = datetime.min.replace(tzinfo=UTC)  # placeholders: _moment sets both for each test
DAY = ""


@pytest.fixture(autouse=True)
def _moment(monkeypatch):
    moment.pin(monkeypatch, globals(), "WHEN", "DAY", minutes_back=10)


def test_sdk_events_become_spend_to_the_cent_and_a_resent_batch_counts_once(api, user):
    key = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "sdk"}, token=user.token).json
    sent = []
    cp = costpilot.Client(key["key"], "http://costpilot.local", flush_interval=3600,
                          transport=ChaliceTransport(api.client, on_request=sent.append))
    with costpilot.tags(feature="search", customer="acme"):
        cp.record("openai", "gpt-4o-mini", input_tokens=1200, output_tokens=300, cost=Decimal("0.0021"),
                  timestamp=WHEN)
        cp.record("openai", "gpt-4o-mini", input_tokens=10, output_tokens=3, cost="1.25", timestamp=WHEN)
    cp.record("anthropic", "claude-haiku-4-5", input_tokens=5, output_tokens=5, cost="0.0100",
              feature="chat", timestamp=WHEN)
    client = costpilot.instrument_openai(openai.OpenAI(
        api_key="sk-test", base_url="http://openai.test/v1",
        http_client=httpx2.Client(transport=ProviderFake().transport())), costpilot_client=cp)
    with costpilot.tags(feature="summaries"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    cp.flush()
    assert cp.stats["accepted"] == 4 and cp.stats["rejected"] == 0, list(cp.last_errors)

    def spend():
        r = api.get(f"/api/workspaces/{user.workspace_id}/usage?from={DAY}&to={datetime.now(UTC).date()}"
                    "&group_by=feature&granularity=month", token=user.token)
        assert r.status == 200, r.body
        return {p["group"]["feature"]: Decimal(p["spend"]) for p in r.json["series"]}, r.json["totals"]

    by_feature, totals = spend()
    # the instrumented call: 1,000 uncached + 200 cached input and 300 output tokens of gpt-4o-mini,
    # priced from the catalogue as the server does for any event without a cost
    assert by_feature == {"search": Decimal("1.2521"), "chat": Decimal("0.01"), "summaries": Decimal("0.000345")}
    assert Decimal(totals[0]["spend"]) == Decimal("1.262445")

    # the same batch again (a retry after a lost answer): the server reports duplicates, spend is unchanged
    replay = api.call("POST", "/api/webhooks/provider-usage", body=sent[0].content,
                      headers={"Authorization": f"Bearer {key['key']}"})
    assert replay.json["summary"] == {"accepted": 0, "duplicate": 4, "rejected": 0}
    assert spend() == (by_feature, totals)
    cp.close()
