"""Accounts a team can live with, through the app's HTTP routes with moto SES (the outbox): email
verification, forgotten and changed passwords, one's sessions, invitations by email."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.usage import RecordKind, UsageRecord
from devstack import outbox
from tests.helpers import PASSWORD, link_email, link_token, purge_queue

NEW_PASSWORD = "a different horse entirely"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean(aws, monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")
    yield
    for q in ("alerts", "alert-deliveries"):
        purge_queue(q)


def _email() -> str:
    return f"acct-{uuid.uuid4().hex[:10]}@example.com"


def _signup(api, email: str | None = None) -> str:
    email = email or _email()
    assert api.post("/api/auth/signup", {"email": email, "password": PASSWORD}).status == 201
    return email


def _login(api, email: str, password: str = PASSWORD, agent: str = "pytest") -> str:
    r = api.post("/api/auth/login", {"email": email, "password": password}, headers={"User-Agent": agent})
    assert r.status == 200, r.body
    return r.json["token"]


# --- email verification ----------------------------------------------------------------------------


def test_signup_sends_a_single_use_verification_link(api):
    email = _signup(api)
    token = _login(api, email)
    assert api.get("/api/auth/email-verification", token=token).json == {"email": email, "email_verified": False}
    mail = link_email(email, "Verify your email")
    assert "/app/verify-email#token=" in mail["text"]
    secret = link_token(mail)
    assert api.post("/api/auth/verify-email", {"token": secret}).json["email_verified"] is True
    again = api.post("/api/auth/verify-email", {"token": secret})
    assert again.status == 400 and again.json["error"]["field"] == "token"
    assert api.get("/api/auth/email-verification", token=token).json["email_verified"] is True
    assert api.post("/api/auth/email-verification", token=token).json["sent"] is False  # nothing to do


def test_a_verification_link_expires(api):
    from chalicelib.errors import ValidationFailed
    from chalicelib.services import email_verification

    email = _signup(api)
    secret = link_token(link_email(email, "Verify your email"))
    later = datetime.now(UTC).timestamp() + email_verification.TTL_HOURS * 3600 + 1
    with pytest.raises(ValidationFailed):
        email_verification.verify(secret, now=later)


def test_resending_the_verification_link_is_rate_limited(api):
    email = _signup(api)
    token = _login(api, email)
    answers = [api.post("/api/auth/email-verification", token=token).status for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert [m["subject"] for m in outbox.messages(to=email)] == ["Verify your email address for CostPilot"] * 4


def _push(ws: str, amount: str) -> None:
    from chalicelib.store import pushed_events

    at = NOW - timedelta(hours=1)
    pushed_events.add_events(ws, [UsageRecord(ws, RecordKind.EVENT, "push:test", "openai", at,
                                              at + timedelta(seconds=1), model="gpt-4o", unit_type="tokens",
                                              units=Decimal(1000), billed_cost=Decimal(amount),
                                              idempotency_id=uuid.uuid4().hex)])


def test_an_unverified_member_receives_no_alert_email(api, user):
    from chalicelib.services import alert_eval

    unverified = _signup(api)
    ws = f"/api/workspaces/{user.workspace_id}"
    assert api.post(f"{ws}/members", {"email": unverified}, token=user.token).status == 201
    r = api.post(f"{ws}/alerts", {"name": "Weekly", "kind": "threshold", "amount": 50, "period": {"kind": "weekly"},
                                  "channels": [{"type": "email", "to": [user.email, unverified]}]}, token=user.token)
    assert r.status == 201, r.body
    _push(user.workspace_id, "75")
    assert len(alert_eval.evaluate_workspace(user.workspace_id, now=NOW)) == 1
    assert len(outbox.messages(to=user.email)) == 1
    assert [m["subject"] for m in outbox.messages(to=unverified)] == ["Verify your email address for CostPilot"]


# --- passwords -------------------------------------------------------------------------------------


def test_forgot_password_answers_alike_and_mails_only_an_account(api):
    email = _signup(api)
    stranger = _email()
    known = api.post("/api/auth/password-reset", {"email": email})
    unknown = api.post("/api/auth/password-reset", {"email": stranger})
    assert (known.status, known.json) == (unknown.status, unknown.json) == (202, known.json)
    assert outbox.messages(to=stranger) == []
    assert "/app/reset-password#token=" in link_email(email, "Reset your CostPilot password")["text"]
    # rate-limited alike, so the limit tells nothing either
    for address in (email, stranger):
        assert [api.post("/api/auth/password-reset", {"email": address}).status for _ in range(3)][-1] == 429


def test_a_reset_link_sets_the_password_once_and_ends_every_session(api):
    email = _signup(api)
    tokens = [_login(api, email, agent=f"browser {i}") for i in range(2)]
    assert api.post("/api/auth/password-reset", {"email": email}).status == 202
    secret = link_token(link_email(email, "Reset your CostPilot password"))
    short = api.post("/api/auth/password-reset/confirm", {"token": secret, "password": "short"})
    assert short.status == 400 and short.json["error"]["field"] == "password"  # the link is not used up
    r = api.post("/api/auth/password-reset/confirm", {"token": secret, "password": NEW_PASSWORD})
    assert r.status == 200 and r.json["sessions_ended"] == 2
    assert "cp_session=;" in str(r.headers.get("set-cookie"))
    assert all(api.get("/api/me", token=t).status == 401 for t in tokens)
    assert api.post("/api/auth/password-reset/confirm", {"token": secret, "password": NEW_PASSWORD}).status == 400
    assert api.post("/api/auth/login", {"email": email, "password": PASSWORD}).status == 401
    _login(api, email, NEW_PASSWORD)


def test_a_reset_link_expires(api):
    from chalicelib.errors import ValidationFailed
    from chalicelib.services import password_reset

    email = _signup(api)
    api.post("/api/auth/password-reset", {"email": email})
    secret = link_token(link_email(email, "Reset your CostPilot password"))
    later = datetime.now(UTC).timestamp() + password_reset.TTL_MINUTES * 60 + 1
    with pytest.raises(ValidationFailed):
        password_reset.confirm(secret, NEW_PASSWORD, now=later)


def test_changing_the_password_needs_the_current_one_and_ends_every_session(api):
    email = _signup(api)
    token, other = _login(api, email), _login(api, email)
    wrong = api.post("/api/auth/password", {"current_password": "not it at all", "new_password": NEW_PASSWORD},
                     token=token)
    assert wrong.status == 400 and wrong.json["error"]["field"] == "current_password"
    r = api.post("/api/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, token=token)
    assert r.status == 200 and r.json["sessions_ended"] == 2
    assert api.get("/api/me", token=token).status == 401 and api.get("/api/me", token=other).status == 401
    _login(api, email, NEW_PASSWORD)


# --- sessions --------------------------------------------------------------------------------------


def test_sessions_are_listed_and_ended_one_by_one_or_everywhere(api):
    email = _signup(api)
    phone, laptop, tablet = (_login(api, email, agent=a) for a in ("Phone/1.0", "Laptop/2.0", "Tablet/3.0"))
    listed = api.get("/api/auth/sessions", token=laptop).json["sessions"]
    assert sorted(s["user_agent"] for s in listed) == ["Laptop/2.0", "Phone/1.0", "Tablet/3.0"]
    assert [s["user_agent"] for s in listed if s["current"]] == ["Laptop/2.0"]
    assert all(s["created_at"] and s["last_seen_at"] and len(s["ref"]) == 20 for s in listed)
    phone_ref = next(s["ref"] for s in listed if s["user_agent"] == "Phone/1.0")
    assert api.delete(f"/api/auth/sessions/{phone_ref}", token=laptop).status == 204
    assert api.get("/api/me", token=phone).status == 401 and api.get("/api/me", token=laptop).status == 200
    assert api.delete(f"/api/auth/sessions/{phone_ref}", token=laptop).status == 404
    stranger = _login(api, _signup(api))
    laptop_ref = next(s["ref"] for s in listed if s["current"])
    assert api.delete(f"/api/auth/sessions/{laptop_ref}", token=stranger).status == 404  # not theirs
    assert api.delete("/api/auth/sessions", token=laptop).status == 204
    assert api.get("/api/me", token=laptop).status == 401 and api.get("/api/me", token=tablet).status == 401
    assert api.get("/api/me", token=stranger).status == 200


# --- invitations -----------------------------------------------------------------------------------


def _invite(api, user, email, role="member", expect=201):
    r = api.post(f"/api/workspaces/{user.workspace_id}/invitations", {"email": email, "role": role}, token=user.token)
    assert r.status == expect, r.body
    return r.json


def test_an_invited_stranger_signs_up_through_the_link_and_lands_in_the_workspace(api, user):
    email = _email()
    invitation = _invite(api, user, email)
    listed = api.get(f"/api/workspaces/{user.workspace_id}/invitations", token=user.token).json["invitations"]
    assert [i["invitation_id"] for i in listed] == [invitation["invitation_id"]]
    mail = link_email(email, "You are invited")
    assert "/app/invitation#token=" in mail["text"]
    secret = link_token(mail)
    preview = api.post("/api/invitations/preview", {"token": secret}).json
    assert (preview["email"], preview["workspace_id"], preview["role"]) == (email, user.workspace_id, "member")
    r = api.post("/api/invitations/signup", {"token": secret, "password": PASSWORD})
    assert r.status == 201 and r.json["workspace_id"] == user.workspace_id
    token = _login(api, email)
    workspaces = api.get("/api/workspaces", token=token).json["workspaces"]
    assert [w["workspace_id"] for w in workspaces] == [user.workspace_id]
    assert api.get("/api/auth/email-verification", token=token).json["email_verified"] is True  # the link proved it
    assert api.post("/api/invitations/signup", {"token": secret, "password": PASSWORD}).status == 400  # used
    assert api.get(f"/api/workspaces/{user.workspace_id}/invitations", token=user.token).json["invitations"] == []
    # a member cannot invite or see invitations
    assert api.post(f"/api/workspaces/{user.workspace_id}/invitations", {"email": _email()},
                    token=token).status == 403


def test_someone_with_an_account_accepts_after_logging_in_and_only_as_the_invited_address(api, user):
    invitee = api.new_user("invitee")
    _invite(api, user, invitee.email, role="admin")
    secret = link_token(link_email(invitee.email, "You are invited"))
    other = api.new_user("other")
    assert api.post("/api/invitations/accept", {"token": secret}, token=other.token).status == 403
    r = api.post("/api/invitations/accept", {"token": secret}, token=invitee.token)
    assert r.status == 200 and r.json == {"workspace_id": user.workspace_id, "role": "admin"}
    members = api.get(f"/api/workspaces/{user.workspace_id}/members", token=user.token).json["members"]
    assert {m["email"]: m["role"] for m in members}[invitee.email] == "admin"
    assert api.post("/api/invitations/accept", {"token": secret}, token=invitee.token).status == 400
    assert api.post("/api/invitations/signup", {"token": secret, "password": PASSWORD}).status == 400
    _invite(api, user, invitee.email, expect=409)  # already a member


def test_a_revoked_invitation_no_longer_works(api, user):
    email = _email()
    invitation = _invite(api, user, email)
    secret = link_token(link_email(email, "You are invited"))
    url = f"/api/workspaces/{user.workspace_id}/invitations/{invitation['invitation_id']}"
    assert api.delete(url, token=user.token).status == 204
    assert api.delete(url, token=user.token).status == 404
    assert api.post("/api/invitations/preview", {"token": secret}).status == 400
    assert api.post("/api/invitations/signup", {"token": secret, "password": PASSWORD}).status == 400


def test_the_member_limit_holds_when_invitations_are_accepted_at_once(api, user):
    from chalicelib.domain.plans import FREE, Limit

    seats = FREE.limit(Limit.MEMBERS)
    for _ in range(seats - 2):  # one seat left
        assert api.post(f"/api/workspaces/{user.workspace_id}/members", {"email": api.new_user("seat").email},
                        token=user.token).status == 201
    # pending invitations do not hold seats: three are sent, the first accepted takes the last seat
    emails = [_email() for _ in range(3)]
    for e in emails:
        _invite(api, user, e)
    secrets = [link_token(link_email(e, "You are invited")) for e in emails]
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda s: api.post("/api/invitations/signup", {"token": s, "password": PASSWORD}),
                                secrets))
    assert sorted(a.status for a in answers) == [201, 402, 402], [a.body for a in answers]
    assert all(a.json["error"]["code"] == "plan_limit" for a in answers if a.status == 402)
    members = api.get(f"/api/workspaces/{user.workspace_id}/members", token=user.token).json["members"]
    assert len(members) == seats
    _invite(api, user, _email(), expect=402)  # full: no link that cannot work is sent
