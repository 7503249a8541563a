"""A request that reaches no route answers 404 in our error shape and never reflects a header, as
the deployed API's gateway responses do (infra/template.py declares them; the local gateway serves
the same)."""

from __future__ import annotations

import pytest

from infra import template

SECRET = "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl-never-echoed"


@pytest.mark.parametrize("method,path", [
    ("GET", "/nope"), ("GET", "/api/nope"), ("POST", "/api/auth/nope"), ("GET", "/api/workspaces/ws_1/nope/deeper"),
    ("DELETE", "/api/unknown/1/2/3/4"), ("GET", "/.env"), ("OPTIONS", "/api/nope"), ("PUT", "/wp-admin/x"),
])
def test_unknown_routes_are_a_404_in_our_shape_and_echo_nothing(api, method, path):
    r = api.call(method, path, headers={"Authorization": SECRET, "X-Forwarded-For": "10.0.0.1"})
    assert r.status == 404, (path, r.status, r.body)
    assert r.json == template.UNKNOWN_ROUTE
    assert "eyJ" not in r.text and "10.0.0.1" not in r.text
    assert r.headers["content-type"] == "application/json" and r.headers["cache-control"] == "no-store"


def test_known_routes_still_answer_and_a_wrong_method_is_405(api, user):
    assert api.get("/api/me", token=user.token).status == 200
    r = api.call("PUT", "/api/me", token=user.token, json_body={})
    assert r.status == 405 and r.json["error"]["code"] == "method_not_allowed"


def test_the_deployed_template_declares_the_same_gateway_responses():
    merged = template.merge_declarations()
    merged["Resources"]["RestAPI"] = {"Type": "AWS::Serverless::Api", "Properties": {}}  # as Chalice emits it
    wired = template.wire(merged, "prod")
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in wired["Resources"].values()
                 if r["Type"] == "AWS::ApiGateway::GatewayResponse"}
    assert set(responses) == {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"}
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == "404" and missing["RestApiId"] == {"Ref": "RestAPI"}
    for props in responses.values():  # a fixed body: never $context.error.messageString (it quotes the request)
        assert "$" not in props["ResponseTemplates"]["application/json"]
