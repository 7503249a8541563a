"""The HTTP edge: one decorator registers a view with its auth, permission, body schema and docs.

Views stay a few lines (parse, authorize, call one service, return) because everything common is
here: bearer authentication, the workspace role check, size-limited JSON bodies validated by
pydantic models that reject unknown fields, and the one mapping from domain errors to HTTP
statuses with the body ``{"error": {"code", "message", "field"?}}``. No stack trace ever leaves.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response

from chalicelib import config, errors, structured_log
from chalicelib.domain.plans import PlanLimitExceeded
from chalicelib.domain.roles import Permission

log = logging.getLogger("costpilot.api")

# The one mapping from the domain's errors to HTTP statuses (the first class that matches wins).
_STATUS: dict[type[errors.AppError], int] = {
    errors.ValidationFailed: 400,
    errors.UpstreamRejected: 400,
    errors.Unauthenticated: 401,
    PlanLimitExceeded: 402,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.TooManyAttempts: 429,
    errors.UpstreamFailed: 502,
    errors.ServiceUnavailable: 503,
}
JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class RouteDoc:
    """What the OpenAPI document says of one route."""

    path: str
    method: str
    summary: str
    auth: bool
    permission: Permission | None
    body: type | None
    query: type | None
    status: int
    tag: str
    description: str = ""
    raw_body: bool = False
    returns: str = ""  # the view's return annotation: "None" answers 204 with no body
    response: type | dict | None = None  # the success body: a pydantic model or a JSON schema


ROUTES: list[RouteDoc] = []


@dataclass
class Ctx:
    """What a view gets: the request, the caller, their membership, the validated body and query."""

    request: Any
    principal: Any = None
    membership: Any = None
    body: Any = None
    query: Any = None
    extra: dict = field(default_factory=dict)

    @property
    def workspace_id(self) -> str:
        return self.membership.workspace_id


def error_response(status: int, code: str, message: str, *, field_name: str | None = None,
                   details: dict | None = None, headers: dict | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field_name:
        error["field"] = field_name
    if details:
        error.update(details)
    return Response(body=json.dumps({"error": error}), status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(body=json.dumps(payload, default=str), status_code=status, headers=JSON_HEADERS)


def app_error_response(e: errors.AppError) -> Response:
    status = next((s for cls, s in _STATUS.items() if isinstance(e, cls)), 400)
    retry_after = getattr(e, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="costpilot"'}
    return error_response(status, e.code, e.message, field_name=e.field, details=e.details, headers=headers)


def _parse_model(model: type, data: Any, where: str) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or where
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown field"
        raise errors.ValidationFailed(f"{loc}: {message}", field=loc) from None


def _check_size(raw: bytes) -> None:
    if len(raw) > config.max_body_bytes():
        raise errors.PayloadTooLarge(f"request body over {config.max_body_bytes()} bytes", field="body")


def read_json_body(request: Any) -> Any:
    raw = request.raw_body or b""
    _check_size(raw)
    if not raw.strip():
        raise errors.ValidationFailed("a JSON body is required", field="body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.ValidationFailed("body is not valid JSON", field="body") from None
    except RecursionError:  # [[[[... ten thousand deep: refused, not a 500 with a traceback
        raise errors.ValidationFailed("body is nested too deeply", field="body") from None


def endpoint(
    bp: Blueprint,
    path: str,
    method: str = "GET",
    *,
    summary: str,
    tag: str,
    permission: Permission | None = None,
    auth: bool = True,
    body: type | None = None,
    query: type | None = None,
    status: int = 200,
    description: str = "",
    raw_body: bool = False,
    content_types: list[str] | None = None,
    response: type | dict | None = None,
) -> Callable:
    """Registers ``fn(ctx, **path_params)`` on ``bp`` behind auth, the role check and validation."""
    if "{workspace_id}" in path and permission is None:
        raise ValueError(f"{method} {path}: workspace routes must name the permission they need")

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def view(**params: str) -> Response:
            request = bp.current_request
            try:
                ctx, membership = Ctx(request), None
                if raw_body:  # signed webhooks read the body themselves: refuse a large one first
                    _check_size(request.raw_body or b"")
                if auth:
                    from chalicelib.api import web_session

                    workspace_id = params.get("workspace_id") if permission is not None else None
                    # bearer, or cookie + CSRF; the membership read with the session when it can be
                    ctx.principal, membership = web_session.authorize(request, workspace_id)
                if permission is not None and "workspace_id" in params:
                    from chalicelib.services import workspaces

                    ctx.membership = workspaces.check(membership, permission)
                if query is not None:
                    ctx.query = _parse_model(query, dict(request.query_params or {}), "query")
                elif request.query_params:
                    raise errors.ValidationFailed("this route takes no query parameters", field="query")
                if body is not None:
                    ctx.body = _parse_model(body, read_json_body(request), "body")
                result = fn(ctx, **params)
            except errors.AppError as e:
                return app_error_response(e)
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(body="", status_code=204 if status == 200 else status,
                                headers={"Cache-Control": "no-store"})
            return json_response(result, status)

        bp.route(path, methods=[method], content_types=content_types or ["application/json"])(view)
        ROUTES.append(RouteDoc(path, method, summary, auth, permission, body, query, status, tag, description, raw_body,
                               str(fn.__annotations__.get("return", "")), response))
        return view

    return decorator


def middleware(event: Any, get_response: Callable) -> Response:
    """Logs each request (never bodies or headers) with its request id and, when the path names one,
    its workspace id on every line; turns Chalice's own error bodies and any unhandled exception
    into the JSON error shape."""
    started = time.perf_counter()
    request_id = (event.context or {}).get("requestId") or getattr(event.lambda_context, "aws_request_id", None)
    with structured_log.context(request_id, (event.uri_params or {}).get("workspace_id")):
        try:
            response = get_response(event)
        except Exception:  # the last line of defence: log it, tell the caller nothing
            log.exception("unhandled error on %s %s", event.method, event.path)
            response = error_response(500, "internal_error", "An internal error occurred.")
        body = response.body
        if isinstance(body, dict) and set(body) == {"Code", "Message"}:
            response = _from_chalice_error(response.status_code, body)
        elif response.status_code >= 500 and not _is_json_error(body):
            response = error_response(500, "internal_error", "An internal error occurred.")
        log.info("request", extra={"method": event.method, "path": event.path, "status": response.status_code,
                                   "ms": round((time.perf_counter() - started) * 1000, 1)})
    return response


def _is_json_error(body: Any) -> bool:
    return isinstance(body, str) and body.startswith('{"error"')


_CHALICE_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                  413: "payload_too_large", 415: "unsupported_media_type", 500: "internal_error"}


def _from_chalice_error(status: int, body: dict) -> Response:
    message = str(body.get("Message", "")) if status < 500 else "An internal error occurred."
    return error_response(status, _CHALICE_CODES.get(status, "error"), message or "request rejected")
