"""The costpilot CLI against the app (chalice's test client as its HTTP transport): login stores a
personal API token 0600, push reports per-event results, spend prints right-aligned exact money,
CSV and JSON; status exits 2 while a spike is open."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import UTC, datetime

import httpx
import pytest
from costpilot import cli

from tests.app import moment
from tests.sdk.fakes import ChaliceTransport

URL = "http://costpilot.local"
WHEN = datetime.min.replace(tzinfo=UTC)  # placeholders: _moment sets both for each test
DAY = ""


@pytest.fixture(autouse=True)
def _moment(monkeypatch):
    moment.pin(monkeypatch, globals(), "WHEN", "DAY", minutes_back=10)


def run(argv, env, transport):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, env=env, out=out, err=err, transport=transport)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def logged_in(api, user, tmp_path):
    token = api.post("/api/me/tokens", {"name": "cli", "scope": "read"}, token=user.token).json["token"]
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    transport = ChaliceTransport(api.client)
    code, out, _ = run(["login", "--url", URL, "--token", token], env, transport)
    assert code == 0 and user.email in out
    return env, transport, token


def test_login_stores_the_token_for_the_owner_only(logged_in, user, tmp_path):
    _, _, token = logged_in
    path = tmp_path / "costpilot" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"url": URL, "token": token, "workspace_id": user.workspace_id}


def test_login_with_a_bad_token_fails_cleanly(api, tmp_path):
    code, _, err = run(["login", "--url", URL, "--token", "cpat_" + "x" * 43], {"XDG_CONFIG_HOME": str(tmp_path)},
                       ChaliceTransport(api.client))
    assert code == 1 and "401" in err and not (tmp_path / "costpilot" / "config.json").exists()


def test_push_then_spend_table_csv_json(api, user, logged_in, tmp_path):
    env, transport, _ = logged_in
    key = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "cli"}, token=user.token).json["key"]
    ts = WHEN.isoformat().replace("+00:00", "Z")
    events = [
        {"id": "e1", "timestamp": ts, "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10,
         "output_tokens": 1, "cost": "1234.5", "feature": "search"},
        {"id": "e2", "timestamp": ts, "provider": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 10,
         "output_tokens": 1, "cost": "0.0021", "feature": "chat"},
        {"id": "e3", "timestamp": ts, "provider": "openai", "input_tokens": -1},
    ]
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(json.dumps(e) for e in events) + "\n{not json\n\n")
    code, out, _ = run(["push", str(file), "--ingest-key", key, "--url", URL], env, transport)
    assert code == 1  # some events were rejected
    assert out.splitlines()[2].split() == ["2", "0", "2"]
    assert "line 3: input_tokens" in out and "line 4: not valid JSON" in out
    code, out, _ = run(["push", str(file), "--url", URL, "--json"], {**env, "COSTPILOT_INGEST_KEY": key}, transport)
    assert json.loads(out)["summary"] == {"accepted": 0, "duplicate": 2, "rejected": 2}

    code, out, _ = run(["spend", "--from", DAY, "--to", DAY, "--group-by", "feature"], env, transport)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["period", "feature", "spend", "currency"]
    spend_end = lines[0].index("spend") + len("spend")
    amounts = {"total" if line.startswith("total") else line.split()[1]: line for line in lines[2:]}
    assert "1,234.50" in amounts["search"] and "0.0021" in amounts["chat"] and "1,234.5021" in amounts["total"]
    points = {line.index(".", line.index(" ", 12)) for line in lines[2:]}  # right-aligned on the decimal point
    assert len(points) == 1 and max(len(line[:spend_end].rstrip()) for line in lines[2:]) == spend_end

    code, out, _ = run(["spend", "--from", DAY, "--to", DAY, "--group-by", "feature", "--format", "csv"], env,
                       transport)
    rows = sorted((r["feature"], r["spend"]) for r in csv.DictReader(io.StringIO(out)))
    assert rows == [("chat", "0.0021"), ("search", "1234.5")]
    code, out, _ = run(["spend", "--from", DAY, "--to", DAY, "--json"], env, transport)
    assert json.loads(out)["totals"][0]["spend"] == "1234.5021"


def test_forecast_alerts_and_status_read_with_a_read_token(logged_in):
    env, transport, _ = logged_in
    code, out, _ = run(["forecast"], env, transport)
    assert code == 0 and "3 days" in out  # a new workspace has no history to forecast yet
    code, out, _ = run(["alerts", "list"], env, transport)
    assert code == 0 and out.split()[:5] == ["name", "kind", "status", "amount", "id"]
    code, out, _ = run(["status"], env, transport)
    assert code == 0 and "No open spikes" in out


def test_status_exits_2_while_a_spike_is_open(tmp_path):
    firing = {"firing_id": "f1", "alert_id": "a1", "alert_name": "Runaway", "kind": "spike", "period": "2026-11-30",
              "level": 0, "levels": [], "fired_at": "2026-11-30T12:00:00+00:00", "status": "open", "test": False,
              "headline": "OpenAI spend is 8x its usual rate", "figure": "41.2", "threshold": None,
              "currency": "USD", "acknowledged_by": None, "acknowledged_at": None, "deliveries": []}

    def history(request):
        assert request.url.path == "/api/workspaces/ws_1/alerts/history"
        return httpx.Response(200, json={"firings": [firing, {**firing, "firing_id": "f2", "status": "acknowledged"},
                                                     {**firing, "firing_id": "f3", "test": True}],
                                         "next_before": None})

    env = {"COSTPILOT_TOKEN": "cpat_x", "COSTPILOT_WORKSPACE": "ws_1", "XDG_CONFIG_HOME": str(tmp_path)}
    code, out, _ = run(["status", "--url", URL], env, httpx.MockTransport(history))
    assert code == 2 and "1 open spike" in out and "41.20" in out
    code, out, _ = run(["status", "--url", URL, "--json"], env, httpx.MockTransport(history))
    assert code == 2 and [f["firing_id"] for f in json.loads(out)["open_spikes"]] == ["f1"]


def test_not_logged_in(tmp_path):
    code, _, err = run(["spend"], {"XDG_CONFIG_HOME": str(tmp_path)}, None)
    assert code == 1 and "costpilot login" in err
