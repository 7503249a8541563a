"""GcpBillingClient against the fake BigQuery (and its token endpoint) and documented JSON fixtures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from chalicelib.domain.usage import RecordKind
from chalicelib.providers import registry
from chalicelib.providers.errors import (
    AuthError,
    MalformedResponse,
    MissingResource,
    TransientError,
)
from chalicelib.providers.gcp import MAX_POLLS, GcpBillingClient, model_name
from devstack.fakes import FakeBigQuery
from devstack.fakes.bigquery import BILLING_ACCOUNT, service_account_key_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
TODAY = NOW.date()
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture
def fake(clock):
    return FakeBigQuery(seed=5, now=clock, history_days=100)


def credentials(fake, **overrides):
    return {"service_account_key": service_account_key_json(), "project": fake.project, "dataset": fake.dataset,
            **overrides}


def make_client(fake, clock, sleep, **options):
    creds = credentials(fake, **options.pop("creds", {}))
    return GcpBillingClient(**creds, base_url="http://bigquery.test", transport=httpx.WSGITransport(app=fake),
                            sleep=sleep, now=clock, **options)


def fetch(client, start=START, end=END):
    return client.fetch("ws1", "conn1", start, end)


def total(records):
    return sum((r.billed_cost for r in records), Decimal(0))


def query_paths(fake):
    return [r for r in fake.requests if "/queries" in r.path]


# -- money -------------------------------------------------------------------------------------


def test_cost_net_of_credits_equals_the_export_exactly(fake, clock, sleep):
    records = fetch(make_client(fake, clock, sleep))
    assert total(records) == fake.net_total(START.date(), END.date())
    assert all(r.kind is RecordKind.COST and r.provider == "gcp" and r.currency == "USD" for r in records)
    compute = next(r for r in records if r.model == "Compute Engine")
    gross, credits = Decimal(compute.metadata["gross_cost"]), Decimal(compute.metadata["credits"])
    assert credits < 0 and compute.billed_cost == gross + credits  # sustained use discount nets off
    assert all(isinstance(r.billed_cost, Decimal) for r in records)


def test_export_currency_is_kept(clock, sleep):
    fake = FakeBigQuery(seed=2, now=clock, currency="EUR")
    records = fetch(make_client(fake, clock, sleep), datetime(2026, 11, 1, tzinfo=UTC))
    assert records and {r.currency for r in records} == {"EUR"}


@pytest.mark.parametrize(("service", "sku", "model"), [
    ("Vertex AI", "Gemini 2.5 Flash Input Text Tokens", "gemini-2.5-flash"),
    ("Vertex AI", "Gemini 2.5 Flash-Lite Output Text Tokens - Predictions", "gemini-2.5-flash-lite"),
    ("Vertex AI", "Gemini 1.5 Pro Input Characters (Long context)", "gemini-1.5-pro"),
    ("Gemini API", "Gemini 2.0 Flash Input Token Count", "gemini-2.0-flash"),
    ("Vertex AI", "Imagen 3 Image Generation", "imagen-3"),
    ("Vertex AI", "Custom Training n1-standard-4", "Vertex AI"),
    ("Compute Engine", "N1 Predefined Instance Core running in Americas", "Compute Engine"),
    ("Cloud Storage", "Standard Storage Gemini-named bucket", "Cloud Storage"),
])
def test_models_named_where_the_sku_says_so(service, sku, model):
    assert model_name(service, sku) == model


# -- tables, jobs, pages -----------------------------------------------------------------------


def test_detailed_export_is_preferred_over_the_standard_one(fake, clock, sleep):
    fetch(make_client(fake, clock, sleep))
    assert f"gcp_billing_export_resource_v1_{BILLING_ACCOUNT}`" in fake.queries[-1]["query"]


def test_standard_export_is_used_when_alone(clock, sleep):
    fake = FakeBigQuery(seed=5, now=clock, detailed=False)
    records = fetch(make_client(fake, clock, sleep))
    assert f"gcp_billing_export_v1_{BILLING_ACCOUNT}`" in fake.queries[-1]["query"]
    assert total(records) == fake.net_total(START.date(), END.date())


def test_a_job_not_done_is_polled_and_rows_are_paged(fake, clock, sleep):
    whole = fetch(make_client(fake, clock, sleep))
    fake.slow_next(3)
    before = len(query_paths(fake))
    paged = fetch(make_client(fake, clock, sleep, page_size=40))
    assert sorted(r.record_key() for r in paged) == sorted(r.record_key() for r in whole)
    assert total(paged) == total(whole)
    calls = query_paths(fake)[before:]
    pages = -(-len(whole) // 40)
    assert len(calls) == 1 + 3 + (pages - 1)  # the POST, three polls, then one GET per further page
    assert all(c.args.get("location") == "US" for c in calls[1:])
    assert [c.args.get("pageToken") is not None for c in calls[-(pages - 1):]] == [True] * (pages - 1)


def test_a_job_that_never_finishes_is_a_transient_error(fake, clock, sleep):
    fake.slow_next(MAX_POLLS + 5)
    with pytest.raises(TransientError, match="not done"):
        fetch(make_client(fake, clock, sleep))


def test_a_retried_query_post_joins_the_same_job(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    client.export_tables()  # token and table list first, so the next request is the query POST
    fake.fail_next(503)
    records = fetch(client)
    posts = list(fake.queries)
    assert len(fake.jobs) == 1 and sleep.calls  # one job although the POST was sent twice
    assert len({q["requestId"] for q in posts}) == 1
    assert total(records) == fake.net_total(START.date(), END.date())


# -- what it costs to scan ---------------------------------------------------------------------


def test_queries_prune_partitions_so_a_daily_sync_scans_a_few_days(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    fetch(client, START - timedelta(days=40), END)  # 90-day backfill
    backfill = fake.jobs[max(fake.jobs)].bytes_processed
    fetch(client, datetime(2026, 11, 18, tzinfo=UTC), END)  # the restatement window: 3 days
    daily = fake.jobs[max(fake.jobs)].bytes_processed
    params = {p["name"]: p["parameterValue"]["value"] for p in fake.queries[-1]["queryParameters"]}
    assert params == {"partition_start": "2026-11-17", "start": "2026-11-18", "end": "2026-11-21"}
    assert "_PARTITIONTIME >= TIMESTAMP(@partition_start)" in fake.queries[-1]["query"]
    assert 0 < daily * 15 < backfill


def test_verify_is_a_free_dry_run(fake, clock, sleep):
    make_client(fake, clock, sleep).verify()
    assert [q["dryRun"] for q in fake.queries] == [True] and not fake.jobs
    params = {p["name"]: p["parameterValue"]["value"] for p in fake.queries[0]["queryParameters"]}
    assert params["start"] == (TODAY - timedelta(days=1)).isoformat() and params["end"] == TODAY.isoformat()


# -- corrections and invoice months ------------------------------------------------------------


def test_a_late_correction_replaces_the_days_figure(fake, clock, sleep):
    day = date(2026, 11, 10)
    window = (datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))
    first = {r.record_key(): r for r in fetch(make_client(fake, clock, sleep), *window)}
    compute = next(r for r in first.values() if r.model == "Compute Engine")
    fake.correct(day, "2E27-4F75-95CD", -1.25)  # exported today, into today's partition
    clock.advance(hours=2)
    second = {r.record_key(): r for r in fetch(make_client(fake, clock, sleep), *window)}
    assert second.keys() == first.keys()  # same facts, replaced: never added as new rows
    corrected = sum((r.billed_cost for r in second.values() if r.metadata["sku_id"] == "2E27-4F75-95CD"), Decimal(0))
    before = sum((r.billed_cost for r in first.values() if r.metadata["sku_id"] == "2E27-4F75-95CD"), Decimal(0))
    assert corrected == before - Decimal("1.25")
    assert total(second.values()) == fake.net_total(day, day + timedelta(days=1))
    assert compute.record_key() in second


def test_a_row_on_the_next_invoice_is_its_own_line(fake, clock, sleep):
    fake.correct(date(2026, 10, 31), "2E27-4F75-95CD", 2.5, invoice_month="202611")
    records = fetch(make_client(fake, clock, sleep), datetime(2026, 10, 31, tzinfo=UTC),
                    datetime(2026, 11, 1, tzinfo=UTC))
    late = [r for r in records if r.metadata["invoice_month"] == "202611"]
    assert len(late) == 1 and late[0].billed_cost == Decimal("2.5")
    assert late[0].line_item.endswith("(invoice 202611)") and late[0].day == "2026-10-31"


# -- credentials and errors --------------------------------------------------------------------


def test_token_is_fetched_once_and_renewed_when_revoked(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    client.verify()
    fetch(client)
    assert len([r for r in fake.requests if r.path == "/token"]) == 1
    bearer = next(r for r in fake.requests if r.path.endswith("/tables")).headers["Authorization"]
    assert bearer.startswith("Bearer ya29.")
    fake.tokens.clear()  # revoked: the next call gets 401, renews the token once and goes on
    fetch(client)
    assert len([r for r in fake.requests if r.path == "/token"]) == 2


def test_token_expiry_renews_before_it_lapses(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    client.verify()
    clock.advance(minutes=56)
    client.verify()
    assert len([r for r in fake.requests if r.path == "/token"]) == 2


def test_a_key_the_token_endpoint_does_not_know_is_rejected(fake, clock, sleep):
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = service_account_key_json(private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(AuthError, match="Invalid JWT Signature"):
        make_client(fake, clock, sleep, creds={"service_account_key": other}).verify()


def test_missing_permission_is_an_auth_error(fake, clock, sleep):
    fake.deny("bigquery.jobs.create")
    with pytest.raises(AuthError, match=r"bigquery\.jobs\.create") as caught:
        make_client(fake, clock, sleep).verify()
    assert caught.value.status == 403 and not isinstance(caught.value, MissingResource)
    assert not sleep.calls  # never retried


def test_missing_dataset_is_a_missing_resource(fake, clock, sleep):
    client = make_client(fake, clock, sleep, creds={"dataset": "billing_exprot"})
    with pytest.raises(MissingResource, match="billing_exprot"):
        client.verify()
    with pytest.raises(MissingResource):
        fetch(client)


def test_dataset_without_an_export_table_is_a_missing_resource(fake, clock, sleep):
    fake.tables = ["cloud_pricing_export"]
    with pytest.raises(MissingResource, match="no Cloud Billing export table"):
        make_client(fake, clock, sleep).verify()


def test_malformed_results_raise(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    client.export_tables()
    fake.malformed_next()
    with pytest.raises(MalformedResponse):
        fetch(client)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("service_account_key", "not json", "not JSON"),
    ("service_account_key", json.dumps({"type": "authorized_user", "client_id": "x"}), "service account key"),
    ("service_account_key", "TOKEN_URI", "token_uri"),
    ("service_account_key", "NO_PEM", "PEM private_key"),
    ("project", "Acme Billing!", "project"),
    ("dataset", "billing-export; DROP", "dataset"),
])
def test_credential_shapes_are_checked_before_any_call(fake, field, value, message):
    key = json.loads(service_account_key_json())
    if value == "TOKEN_URI":
        value = json.dumps({**key, "token_uri": "https://evil.example/token"})
    elif value == "NO_PEM":
        value = json.dumps({**key, "private_key": "abc"})
    creds = credentials(fake, **{field: value})
    with pytest.raises(registry.InvalidCredentials, match=message) as caught:
        registry.check_credentials("gcp", creds)
    assert "PRIVATE KEY" not in str(caught.value) and "evil" not in str(caught.value)


def test_key_hint_is_the_key_id_and_repr_hides_the_key(fake, clock, sleep):
    assert registry.key_hint(credentials(fake)) == "3d2e"
    client = make_client(fake, clock, sleep)
    assert "PRIVATE" not in repr(client) and "3d2e" in repr(client)


# -- documented payloads -----------------------------------------------------------------------


def _fixture(name):
    return json.loads((FIXTURES / name).read_text())


def _fixture_transport(seen):
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/token":
            return httpx.Response(200, json=_fixture("gcp_oauth_token.json"))
        if request.url.path.endswith("/tables"):
            return httpx.Response(200, json=_fixture("gcp_bigquery_tables_list.json"))
        if request.method == "POST":
            if "0F9E8D" in json.loads(request.content)["query"]:  # the second account: nothing yet
                body = _fixture("gcp_bigquery_get_query_results_page2.json")
                return httpx.Response(200, json={**body, "kind": "bigquery#queryResponse", "rows": [],
                                                 "totalRows": "0", "jobReference": {**body["jobReference"],
                                                                                    "jobId": "job_empty"}})
            return httpx.Response(200, json=_fixture("gcp_bigquery_query_pending.json"))
        if "pageToken" in request.url.params:
            return httpx.Response(200, json=_fixture("gcp_bigquery_get_query_results_page2.json"))
        return httpx.Response(200, json=_fixture("gcp_bigquery_get_query_results_page1.json"))

    return httpx.MockTransport(handler)


def test_documented_payloads_parse_exactly():
    seen: list[httpx.Request] = []
    client = GcpBillingClient(service_account_key_json(), "acme-billing-prod", "billing_export",
                              transport=_fixture_transport(seen), now=lambda: NOW)
    records = fetch(client, datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    by_sku = {r.metadata["sku_id"]: r for r in records}
    compute = by_sku["2E27-4F75-95CD"]
    assert compute.billed_cost == Decimal("32.966814") and compute.currency == "EUR"
    assert compute.units == Decimal(744) and compute.unit_type == "hour" and compute.project == "acme-web-prod"
    assert compute.metadata["last_export_time"] == "2026-11-01T15:00:00+00:00"
    gemini = by_sku["9A1F-3C2B-77D1"]
    assert gemini.model == "gemini-2.5-flash" and gemini.billed_cost == Decimal("0.000000001")
    assert gemini.line_item.endswith("(invoice 202611)") and gemini.day == "2026-10-31"
    free = by_sku["6C2D-8E0F-1A93"]
    assert free.billed_cost == 0 and free.project is None and free.unit_type is None and free.units == 0
    assert seen[0].url.host == "oauth2.googleapis.com" and seen[1].url.host == "bigquery.googleapis.com"
    polls = [r for r in seen if r.method == "GET" and "/queries/" in r.url.path]
    assert {r.url.params["location"] for r in polls} == {"EU"}
    assert all(r.headers["Authorization"] == "Bearer " + _fixture("gcp_oauth_token.json")["access_token"]
               for r in seen[1:])
