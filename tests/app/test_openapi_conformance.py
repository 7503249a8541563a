"""The OpenAPI document validates as 3.1, and a bounded schemathesis run against the app (through
chalice's test client, moto behind it) finds no 5xx, no response breaking its declared schema or
media type, and no status the document does not list. Deterministic (derandomized), a few examples
per operation, no network: outbound connections other than loopback are refused while it runs."""

from __future__ import annotations

import os
import socket
from urllib.parse import quote

import pytest

from devstack.fakes.stripe_api import FakeStripe, serve_in_thread
from tests.helpers import PASSWORD

EXAMPLES_PER_OPERATION = 4
SKIPPED = {"POST /api/auth/logout", "DELETE /api/auth/sessions", "DELETE /api/workspaces/{workspace_id}"}


def test_the_document_is_valid_openapi_3_1(api):
    from openapi_spec_validator import OpenAPIV31SpecValidator

    doc = api.get("/api/openapi.json").json
    assert doc["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(doc).validate()


def test_every_response_of_every_operation_declares_its_body(api):
    doc = api.get("/api/openapi.json").json
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if status == "204":
                    assert "content" not in response, (method, path)
                    continue
                assert response.get("content"), (method, path, status)
                assert all("schema" in media for media in response["content"].values()), (method, path, status)


def test_documented_statuses_include_what_routes_really_answer(api):
    doc = api.get("/api/openapi.json").json
    ops = {(m.upper(), p): op for p, methods in doc["paths"].items() for m, op in methods.items()}
    assert {"401", "429"} <= set(ops[("POST", "/api/auth/login")]["responses"])
    assert "409" in ops[("POST", "/api/auth/signup")]["responses"]
    assert {"402", "409"} <= set(ops[("POST", "/api/workspaces/{workspace_id}/alerts")]["responses"])
    assert {"402", "413", "415"} <= set(ops[("POST", "/api/webhooks/provider-usage")]["responses"])
    assert "204" in ops[("POST", "/api/auth/logout")]["responses"]
    assert "200" not in ops[("POST", "/api/auth/logout")]["responses"]
    assert "204" in ops[("DELETE", "/api/workspaces/{workspace_id}")]["responses"]
    assert {"502", "503"} <= set(ops[("POST", "/api/stripe/webhook")]["responses"])
    usage = ops[("GET", "/api/workspaces/{workspace_id}/usage")]["responses"]["200"]["content"]
    assert set(usage) == {"application/json", "text/csv"}


def _wsgi(client):
    """A WSGI face on chalice's test client (schemathesis drives WSGI apps in process)."""

    def app(environ, start_response):
        path = quote(environ.get("PATH_INFO", "/").encode("latin-1"), safe="/:@!$&'()*+,;=-._~")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        r = client.http.request(environ["REQUEST_METHOD"], path, headers=headers, body=body)
        start_response(f"{r.status_code} -", [(k, str(v)) for k, v in r.headers.items()])
        return [r.body or b""]

    return app


@pytest.fixture
def loopback_only(monkeypatch):
    """Generated channel URLs, provider keys and Stripe calls must reach nothing outside this machine."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else ""
        if not str(host).startswith(("127.", "::1")):
            raise ConnectionRefusedError("tests reach loopback only")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("localhost", "127.0.0.1", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, "tests resolve loopback only")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens (a provider key check fails cleanly)
    for provider in ("OPENAI", "ANTHROPIC", "TWILIO", "STRIPE"):
        monkeypatch.setenv(f"COSTPILOT_PROVIDER_URL_{provider}", closed)


@pytest.fixture
def stripe_fake(api, monkeypatch):
    """The fake Stripe on loopback, so checkout and portal answer as they would (not 503)."""
    fake = FakeStripe(os.environ["COSTPILOT_SECRET_STRIPE_SECRET_KEY"], webhook_url="http://testserver/api/stripe/webhook",
                      webhook_secret=os.environ["COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET"],
                      prices={"price_test_pro": 900, "price_test_team": 2900},
                      deliver=lambda url, payload, headers: 200)
    served = serve_in_thread(fake)
    monkeypatch.setenv("COSTPILOT_STRIPE_API_BASE", served.base_url)
    yield fake
    served.stop()


def _fuzz(operation, owner, token, checks, seen):
    """Valid and invalid requests for one operation (invalid ones must get a documented 4xx)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        if case.path_parameters and "workspace_id" in case.path_parameters:
            case.path_parameters["workspace_id"] = owner.workspace_id  # reach real data, not only 404s
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        seen.append((f"{operation.method.upper()} {operation.path}", response.status_code))
        case.validate_response(response, checks=checks)

    return run


def test_a_bounded_schemathesis_run_finds_no_5xx_schema_break_or_undocumented_status(api, loopback_only, stripe_fake):
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    owner = api.new_user("fuzz")
    token = api.post("/api/auth/login", {"email": owner.email, "password": PASSWORD}).json["token"]
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", _wsgi(api.client))
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: list[str] = []
    seen: list[tuple[str, int]] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    for operation in operations:
        if f"{operation.method.upper()} {operation.path}" in SKIPPED:
            continue  # would end the run's own session or workspace; both are exercised by their own tests

        try:
            _fuzz(operation, owner, token, checks, seen)()
        except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 - every operation runs; failures reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {type(e).__name__}: {str(e)[:1500]}")
    assert not failures, "\n\n".join(failures[:10])
    # the run reached every operation and real data, not only refusals
    assert {label for label, _ in seen} >= {f"{o.method.upper()} {o.path}" for o in operations} - SKIPPED
    assert sum(200 <= status < 300 for _, status in seen) >= 20, sorted(set(seen))
