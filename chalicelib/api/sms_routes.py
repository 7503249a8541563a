"""SMS: a workspace's verified numbers (a code sent by SMS, entered back), Twilio's signed delivery
status callbacks, and the short links alert SMS carry (``/s/<code>`` -> the firing's page)."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint, Response
from pydantic import Field, StringConstraints

from chalicelib.api.http import Ctx, endpoint, error_response
from chalicelib.api.schemas import Strict
from chalicelib.domain.roles import Permission
from chalicelib.lazy import lazy

sms_numbers = lazy("chalicelib.services.sms_numbers")
sms_status = lazy("chalicelib.services.sms_status")
sms_delivery = lazy("chalicelib.services.sms_delivery")

bp = Blueprint(__name__)

BASE = "/api/workspaces/{workspace_id}/sms/numbers"
STATUS_PATH = "/api/webhooks/twilio/status"
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
FORM = "application/x-www-form-urlencoded"


class NumberIn(Strict):
    number: Number = Field(description="E.164: + and the country code, e.g. +14155550123")


class CodeIn(Strict):
    number: Number
    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")] = Field(
        description="the 6 digits sent by SMS")


class StatusQuery(Strict):
    d: Annotated[str, StringConstraints(min_length=1, max_length=600)] = Field(
        description="the delivery the callback is about (set by CostPilot in the StatusCallback URL)")


@endpoint(bp, BASE, "GET", summary="The workspace's SMS numbers (pending and verified)", tag="alerts",
          permission=Permission.READ)
def list_numbers(ctx: Ctx, workspace_id: str) -> dict:
    return {"numbers": sms_numbers.list_for(workspace_id)}


@endpoint(bp, BASE, "POST", summary="Add an SMS number: a 6-digit code is sent to it (counts against the daily cap)",
          tag="alerts", permission=Permission.MANAGE_ALERTS, body=NumberIn, status=202)
def add_number(ctx: Ctx, workspace_id: str) -> dict:
    return sms_numbers.start(ctx.membership, ctx.body.number)


@endpoint(bp, BASE + "/verify", "POST", summary="Enter the code sent to a number (5 attempts, 10 minutes)",
          tag="alerts", permission=Permission.MANAGE_ALERTS, body=CodeIn)
def verify_number(ctx: Ctx, workspace_id: str) -> dict:
    return sms_numbers.verify(ctx.membership, ctx.body.number, ctx.body.code)


@endpoint(bp, BASE + "/{number}", "DELETE", summary="Remove a number (alerts to it send nothing more)",
          tag="alerts", permission=Permission.MANAGE_ALERTS)
def remove_number(ctx: Ctx, workspace_id: str, number: str) -> None:
    sms_numbers.remove(ctx.membership, number)


@endpoint(bp, STATUS_PATH, "POST", summary="Twilio message status callback (signed with X-Twilio-Signature)",
          tag="alerts", auth=False, raw_body=True, query=StatusQuery, content_types=[FORM],
          description="Form-encoded as Twilio sends it (`MessageSid`, `MessageStatus`, `AccountSid`, `ErrorCode`). "
          "403 when the signature (HMAC-SHA1 of the URL and the sorted parameters, base64) does not match.")
def twilio_status(ctx: Ctx) -> dict:
    headers = {k.lower(): v for k, v in ctx.request.headers.items()}
    return sms_status.handle(ctx.request.raw_body or b"", headers.get("x-twilio-signature"), ctx.query.d)


@bp.route("/s/{code}", methods=["GET"])
def short_link(code: str) -> Response:
    from chalicelib import config

    target = sms_delivery.resolve_link(code)
    if target is None:
        return error_response(404, "not_found", "this link is unknown or expired")
    return Response(body="", status_code=302, headers={"Location": config.public_url() + target,
                                                       "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
