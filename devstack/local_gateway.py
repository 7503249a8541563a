"""The local API Gateway (chalice.local, used by the local stack and chalice's test client) answers
as the deployed one does with infra/template.py's gateway responses: a request that reaches no route
gets our 404 error body, never chalice's 403 "Missing Authentication Token" with the caller's
Authorization header echoed back in it."""

from __future__ import annotations

import json
from typing import Any

from infra.template import GATEWAY_RESPONSE_HEADERS, GATEWAY_RESPONSES

_MARK = "_costpilot_gateway_responses"


def unknown_route_response() -> dict[str, Any]:
    status, body = GATEWAY_RESPONSES["MISSING_AUTHENTICATION_TOKEN"]
    return {"statusCode": int(status or 404), "headers": dict(GATEWAY_RESPONSE_HEADERS), "multiValueHeaders": {},
            "body": json.dumps(body)}


def install() -> None:
    """Idempotent: wraps ``LocalGateway.handle_request`` once per process."""
    from chalice.local import LocalGateway

    original = LocalGateway.handle_request
    if getattr(original, _MARK, False):
        return

    def handle_request(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            self.event_converter._route_matcher.match_route(path)
        except ValueError:
            return unknown_route_response()
        return original(self, method, path, headers, body)

    setattr(handle_request, _MARK, True)
    LocalGateway.handle_request = handle_request
