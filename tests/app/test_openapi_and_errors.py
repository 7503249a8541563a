"""The API description lists every registered route; errors are JSON with no stack traces."""

from __future__ import annotations

import json


def test_openapi_lists_every_route(api, app):
    r = api.get("/api/openapi.json")
    assert r.status == 200
    doc = r.json
    assert doc["openapi"].startswith("3.")
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    registered = {(p, m) for p, methods in app.routes.items() for m in methods
                  if not p.startswith(("/app", "/static/", "/s/")) and p != "/"}  # pages, SMS short links: not API
    assert registered == documented
    signup = doc["paths"]["/api/auth/signup"]["post"]
    ref = signup["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.split("/")[-1]]
    assert schema["additionalProperties"] is False and {"email", "password"} <= set(schema["properties"])


def test_root_page_links_to_the_api_description(api):
    r = api.get("/")
    assert r.status == 200 and "/api/openapi.json" in r.text


def test_malformed_json_and_oversized_bodies(api, user):
    r = api.call("POST", "/api/workspaces", body="{not json", token=user.token)
    assert (r.status, r.json["error"]["code"]) == (400, "validation_error")
    r = api.call("POST", "/api/workspaces", body=json.dumps({"name": "x" * 2_000_000}), token=user.token)
    assert (r.status, r.json["error"]["code"]) == (413, "payload_too_large")
    r = api.call("POST", "/api/workspaces", body=json.dumps([1, 2]), token=user.token)
    assert r.status == 400
    r = api.get("/api/workspaces?limit=5", token=user.token)
    assert (r.status, r.json["error"]["field"]) == (400, "query")


def test_method_not_allowed_and_media_type_use_the_error_shape(api, user):
    r = api.call("PUT", "/api/workspaces", token=user.token, json_body={})
    assert r.status == 405 and r.json["error"]["code"] == "method_not_allowed"
    r = api.call("POST", "/api/workspaces", token=user.token, body="name=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415 and r.json["error"]["code"] == "unsupported_media_type"


def test_unexpected_failures_are_a_plain_500(api, user, monkeypatch):
    from chalicelib.services import workspaces

    def boom(principal):
        raise RuntimeError("secret internals /srv/app.py line 12")

    monkeypatch.setattr(workspaces, "list_for_user", boom)
    r = api.get("/api/workspaces", token=user.token)
    assert r.status == 500
    assert r.json == {"error": {"code": "internal_error", "message": "An internal error occurred."}}
    assert "Traceback" not in r.text and "secret internals" not in r.text
