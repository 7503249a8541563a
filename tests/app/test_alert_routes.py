"""The alerts API: rules and their validation, plan limits, roles, secrets never shown, history,
acknowledge and snooze, digest settings."""

from __future__ import annotations

import pytest

SLACK = "https://hooks.slack.com/services/T000/B000/SuperSecretTokenZZZZa1b2"


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")


def base(user):
    return f"/api/workspaces/{user.workspace_id}/alerts"


def threshold(**kw):
    return {"name": "OpenAI this week", "kind": "threshold", "amount": "50", "period": {"kind": "weekly"},
            "scope": {"dimension": "provider", "value": "openai"}, "channels": [{"type": "email"}], **kw}


def test_create_list_get_update_pause_resume_delete(api, user):
    r = api.post(base(user), threshold(), token=user.token)
    assert r.status == 201, r.body
    alert = r.json
    assert alert["kind"] == "threshold" and alert["amount"] == "50" and alert["status"] == "active"
    assert alert["period"] == {"kind": "weekly"} and alert["scope"] == {"dimension": "provider", "value": "openai"}
    assert alert["channels"][0]["to"] == [user.email.lower()]
    url = f"{base(user)}/{alert['alert_id']}"
    assert api.get(base(user), token=user.token).json["alerts"][0]["alert_id"] == alert["alert_id"]
    assert api.get(url, token=user.token).json["name"] == "OpenAI this week"
    r = api.patch(url, {"amount": 75.5, "period": {"kind": "rolling", "days": 10}}, token=user.token)
    assert r.status == 200, r.body
    assert r.json["amount"] == "75.5" and r.json["period"] == {"kind": "rolling", "days": 10}
    assert r.json["scope"] == {"dimension": "provider", "value": "openai"}  # untouched fields stay
    assert api.patch(url, {"kind": "budget"}, token=user.token).json["error"]["field"] == "kind"
    assert api.post(url + "/pause", token=user.token).json["status"] == "paused"
    assert api.post(url + "/resume", token=user.token).json["status"] == "active"
    assert api.delete(url, token=user.token).status == 204
    assert api.get(url, token=user.token).status == 404


@pytest.mark.parametrize("change, field", [
    ({"amount": 0}, "amount"),
    ({"amount": None}, "amount"),
    ({"period": {"kind": "fortnightly"}}, "period.kind"),
    ({"scope": {"dimension": "region", "value": "x"}}, "scope.dimension"),  # customer is a scope now
    ({"channels": []}, "channels"),
    ({"channels": [{"type": "pager", "url": "https://x"}]}, "channels.0.type"),
    ({"channels": [{"type": "email", "to": ["stranger@example.com"]}]}, "channels.0.to"),
    ({"channels": [{"type": "webhook", "url": "ftp://example.com/x"}]}, "channels.0.url"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_alerts_are_refused(api, user, change, field):
    body = {k: v for k, v in {**threshold(), **change}.items() if v is not None}
    r = api.post(base(user), body, token=user.token)
    assert r.status == 400 and r.json["error"]["field"] == field, r.body


def test_kind_specific_validation(api, user):
    r = api.post(base(user), threshold(kind="forecast", period={"kind": "rolling", "days": 7}), token=user.token)
    assert r.status == 400 and r.json["error"]["field"] == "period"
    r = api.post(base(user), threshold(kind="budget", levels=[50, 2000]), token=user.token)
    assert r.status == 400 and r.json["error"]["field"].startswith("levels")
    r = api.post(base(user), threshold(kind="connection", connection_id="conn_nope"), token=user.token)
    assert r.status == 404


def test_every_stage_refuses_private_targets_by_default_and_urls_are_never_shown(api, user, monkeypatch):
    monkeypatch.delenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", raising=False)  # the test stage: strict, as every stage
    r = api.post(base(user), threshold(channels=[{"type": "webhook", "url": "https://169.254.169.254/x"}]),
                 token=user.token)
    assert r.status == 400 and r.json["error"]["field"] == "channels.0.url"
    r = api.post(base(user), threshold(channels=[{"type": "webhook", "url": "http://example.com/x"}]), token=user.token)
    assert r.status == 400 and "https" in r.json["error"]["message"]
    r = api.post(base(user), threshold(channels=[{"type": "slack", "url": SLACK},
                                                 {"type": "webhook", "url": "https://example.com/hook"}]),
                 token=user.token)
    assert r.status == 201, r.body
    slack, hook = r.json["channels"]
    assert slack == {"channel_id": slack["channel_id"], "type": "slack", "hint": "https://hooks.slack.com/…a1b2"}
    assert hook["signing_secret"].startswith("whsec_")  # shown once, at creation
    for reply in (api.get(base(user), token=user.token),
                  api.get(f"{base(user)}/{r.json['alert_id']}", token=user.token)):
        assert "SuperSecretToken" not in reply.text and "whsec_" not in reply.text


def test_members_read_admins_manage(api, user):
    member = api.new_user("member")
    api.post(f"/api/workspaces/{user.workspace_id}/members", {"email": member.email}, token=user.token)
    alert = api.post(base(user), threshold(), token=user.token).json
    assert api.get(base(user), token=member.token).status == 200
    assert api.post(base(user), threshold(), token=member.token).status == 403
    assert api.post(f"{base(user)}/{alert['alert_id']}/pause", token=member.token).status == 403
    # a member may be an email recipient
    r = api.post(base(user), threshold(channels=[{"type": "email", "to": [member.email]}]), token=user.token)
    assert r.status == 201 and r.json["channels"][0]["to"] == [member.email.lower()]


def test_plan_limit_on_create_and_resume(api, user):
    ids = [api.post(base(user), threshold(name=f"a{i}"), token=user.token).json["alert_id"] for i in range(3)]
    r = api.post(base(user), threshold(name="one too many"), token=user.token)
    assert r.status == 402 and r.json["error"]["code"] == "plan_limit" and r.json["error"]["limit"] == "alert_rules"
    api.post(f"{base(user)}/{ids[0]}/pause", token=user.token)
    assert api.post(base(user), threshold(name="fits now"), token=user.token).status == 201
    assert api.post(f"{base(user)}/{ids[0]}/resume", token=user.token).status == 402


def test_history_acknowledge_and_snooze(api, user):
    from chalicelib.services import alert_eval
    from tests.app.test_alert_flow import push

    alert = api.post(base(user), threshold(amount="1"), token=user.token).json
    push(user.workspace_id, "2", notify=False)
    [key] = alert_eval.evaluate_workspace(user.workspace_id)
    firings = api.get(base(user) + "/history", token=user.token).json["firings"]
    assert [f["firing_id"] for f in firings] == [key] and firings[0]["status"] == "open"
    assert "over your $1.00 threshold" in firings[0]["headline"]
    assert api.get(base(user) + f"/history?alert_id={alert['alert_id']}&limit=1", token=user.token).json["firings"]
    assert api.get(base(user) + "/history?alert_id=al_other", token=user.token).json["firings"] == []
    r = api.post(base(user) + f"/history/{key}/acknowledge", token=user.token)
    assert r.status == 200 and r.json["status"] == "acknowledged" and r.json["acknowledged_by"] == user.email
    r = api.post(base(user) + f"/history/{key}/snooze", {"minutes": 60}, token=user.token)
    assert r.status == 200 and r.json["snoozed_until"]
    assert api.get(f"{base(user)}/{alert['alert_id']}", token=user.token).json["snoozed_until"]
    assert api.post(base(user) + "/history/nope:x:1/acknowledge", token=user.token).status == 404


def test_deleted_alert_cancels_undelivered_notifications(api, user):
    from chalicelib.services import alert_delivery, alert_eval
    from tests.app.test_alert_flow import push

    alert = api.post(base(user), threshold(amount="1"), token=user.token).json
    push(user.workspace_id, "2", notify=False)
    saved = alert_delivery.deliver_now_or_later
    alert_delivery.deliver_now_or_later = lambda *a, **k: None
    try:
        [key] = alert_eval.evaluate_workspace(user.workspace_id)
    finally:
        alert_delivery.deliver_now_or_later = saved
    api.delete(f"{base(user)}/{alert['alert_id']}", token=user.token)
    alert_delivery.deliver(user.workspace_id, key)
    [firing] = api.get(base(user) + "/history", token=user.token).json["firings"]
    assert [d["status"] for d in firing["deliveries"]] == ["cancelled"]


def test_digest_settings(api, user):
    url = f"/api/workspaces/{user.workspace_id}/digest"
    assert api.get(url, token=user.token).json == {"frequency": "off", "email": user.email}
    assert api.call("PUT", url, json_body={"frequency": "weekly"}, token=user.token).json["frequency"] == "weekly"
    assert api.get(url, token=user.token).json["frequency"] == "weekly"
    assert api.call("PUT", url, json_body={"frequency": "hourly"}, token=user.token).status == 400
    assert api.get(base(user), token=user.token).json["alerts"] == []  # a digest is not a rule
