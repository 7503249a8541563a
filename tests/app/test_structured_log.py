"""Logging: one JSON object per line through Powertools Logger, each with the request id and (when
the path or message names one) the workspace id; never a body, a header or a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest

from devstack.fakes import FakeOpenAI, serve
from tests.helpers import PASSWORD, deliver_queue, purge_queue


@pytest.fixture
def lines(api):
    from chalicelib import structured_log

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structured_log.logger().registered_formatter)
    root = logging.getLogger(structured_log.SERVICE)
    root.addHandler(handler)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield read
    root.removeHandler(handler)


def test_request_lines_carry_request_and_workspace_ids_and_no_secret(api, lines, monkeypatch):
    openai = FakeOpenAI(seed=3, history_days=5)
    served = serve(openai)
    monkeypatch.setenv("COSTPILOT_PROVIDER_URL_OPENAI", served.base_url)
    purge_queue("sync")
    try:
        user = api.new_user("logs")
        r = api.post(f"/api/workspaces/{user.workspace_id}/connections",
                     {"provider": "openai", "label": "main", "credentials": {"admin_key": openai.admin_key}},
                     token=user.token)
        assert r.status == 201, r.body
        assert api.post("/api/auth/login", {"email": user.email, "password": "wrong " + PASSWORD}).status == 401
        deliver_queue(api.client, "sync_worker", "sync")
    finally:
        served.stop()
    logged = lines()
    assert logged
    requests = [x for x in logged if x["message"] == "request"]
    assert {x["path"] for x in requests} >= {"/api/auth/login", "/api/workspaces/{workspace_id}/connections"}
    assert all(x.get("request_id") for x in requests)
    assert len({x["request_id"] for x in requests}) == len(requests)
    assert all(x["workspace_id"] == user.workspace_id for x in requests if "{workspace_id}" in x["path"])
    assert not any("workspace_id" in x for x in requests if x["path"].startswith("/api/auth/"))
    added = [x for x in logged if x["message"].startswith("connection ")]
    assert added and added[0]["workspace_id"] == user.workspace_id and added[0].get("request_id")
    syncs = [x for x in logged if x["message"].startswith("sync ")]
    assert syncs and all(x["workspace_id"] == user.workspace_id and x.get("request_id") for x in syncs)
    text = "\n".join(json.dumps(x) for x in logged)
    for secret in (PASSWORD, user.token, openai.admin_key, "Bearer", "authorization", "credentials"):
        assert secret.lower() not in text.lower()
