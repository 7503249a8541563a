"""The OpenAPI 3.1 description of the API, built from the registered routes.

Every response of every operation declares its body: the success body from the route's
``response`` (a pydantic model or JSON schema; a JSON object when none is given, nothing for a view
that returns ``None``, which answers 204), and the error shape for each status the route can answer:
400 always; 401 with a bearer token or a signed body; 403 with a role check; 404 with path
parameters; 413 and 415 with a body; and the route's own (402 plan limits, 409 conflicts, 429
throttling, 502/503 Stripe) from ``_EXTRA``. tests/app/test_openapi_conformance.py validates the
document and fuzzes the app against it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from chalice import Blueprint

from chalicelib.api.http import ROUTES, Ctx, RouteDoc, endpoint

bp = Blueprint(__name__)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "the offending field, on validation errors"},
            },
            "additionalProperties": True,
        }
    },
    "additionalProperties": True,  # a rejected push also lists each event's outcome
}
_TEXT = {"schema": {"type": "string"}}
_WRITE = ("POST", "PATCH", "PUT", "DELETE")
_STRIPE = {"502": "Stripe refused the request", "503": "Stripe could not be reached (Retry-After)"}
_EXPLAINED = {
    "400": "invalid input", "401": "missing, expired or revoked credentials", "402": "the plan's limit is reached",
    "403": "role does not allow this", "404": "not found (or not a member)", "409": "conflicts with the current state",
    "413": "body over the size limit", "415": "body is not application/json", "429": "too many attempts (Retry-After)",
}


_ACCOUNT_EXTRA = {  # chalicelib/api/account_routes.py
    ("POST", "/api/auth/email-verification"): {"429": _EXPLAINED["429"]},
    ("POST", "/api/auth/password-reset"): {"429": _EXPLAINED["429"]},
    ("POST", "/api/auth/password"): {"429": _EXPLAINED["429"]},
    ("POST", "/api/workspaces/{workspace_id}/invitations"): {
        "402": "the workspace has no seat left", "409": "already a member", "429": _EXPLAINED["429"]},
    ("POST", "/api/invitations/accept"): {"402": "the workspace has no seat left", "403": "for another address",
                                          "409": "already a member"},
    ("POST", "/api/invitations/signup"): {"402": "the workspace has no seat left",
                                          "409": "an account with this email exists"},
}
_FORM_BODIES = {"/api/webhooks/twilio/status": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "properties": {name: {"type": "string"} for name in (
        "MessageSid", "MessageStatus", "AccountSid", "ErrorCode", "To", "From")}}}}}


def _extra(route: RouteDoc) -> dict[str, str]:
    """The statuses a route answers beyond what its auth, parameters and body imply."""
    key = (route.method, route.path)
    if key == ("POST", "/api/auth/login"):
        return {"401": "wrong email or password", "429": _EXPLAINED["429"]}
    if key == ("POST", "/api/auth/signup"):
        return {"409": "an account with this email exists"}
    if key == ("GET", "/api/budget-status"):
        return {"401": "missing, unknown or revoked ingest key"}
    if key in _ACCOUNT_EXTRA:
        return _ACCOUNT_EXTRA[key]
    if key == ("POST", "/api/webhooks/provider-usage"):
        return {"402": "the plan's monthly event quota is reached"}
    if route.path == "/api/webhooks/twilio/status":
        return {"403": "the X-Twilio-Signature does not match"}
    if "/sms/numbers" in route.path and route.method == "POST":
        return {"402": _EXPLAINED["402"], "409": _EXPLAINED["409"], "429": _EXPLAINED["429"]}
    if route.path.startswith("/api/stripe/") or "/billing/" in route.path:
        return {**_STRIPE, "409": _EXPLAINED["409"]}
    if "{workspace_id}" in route.path and route.method in _WRITE:
        return {"402": _EXPLAINED["402"], "409": _EXPLAINED["409"]}
    if route.method == "POST" and route.path == "/api/workspaces":
        return {"402": _EXPLAINED["402"]}
    return {}


def _statuses(route: RouteDoc) -> dict[str, str]:
    wanted = {"400"}
    if route.auth or route.raw_body:
        wanted.add("401")
    if route.permission is not None:
        wanted.add("403")
    if re.search(r"{\w+}", route.path):
        wanted.add("404")
    if route.body is not None or route.raw_body:
        wanted |= {"413", "415"}
    extra = _extra(route)
    return {status: extra.get(status) or _EXPLAINED[status] for status in sorted(wanted | set(extra))}


def _model_schema(model: type, components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")  # type: ignore[attr-defined]
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_param_schema(prop: dict) -> dict:
    """A query parameter is a string or absent, never JSON null: drop pydantic's null branch."""
    prop = {k: v for k, v in prop.items() if not (k == "default" and v is None)}
    options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        prop = {**options[0], **prop}
    elif options:
        prop["anyOf"] = options
    return prop


def _success(route: RouteDoc, components: dict) -> tuple[str, dict]:
    if route.returns == "None" or route.status == 204:
        return "204", {"description": "done; no body"}
    if isinstance(route.response, dict):
        schema: dict[str, Any] = route.response
    elif route.response is not None:
        schema = _model_schema(route.response, components)
    else:
        schema = {"type": "object"}
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if not route.path.startswith("/api/"):
        content = {"text/html": _TEXT}
    elif "format" in getattr(route.query, "model_fields", {}):
        content["text/csv"] = _TEXT
    return str(route.status), {"description": "success", "content": content}


def _operation(route: RouteDoc, components: dict) -> dict:
    op: dict = {"summary": route.summary, "tags": [route.tag], "operationId": _operation_id(route)}
    if route.description:
        op["description"] = route.description
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template="#/components/schemas/{model}")  # type: ignore[attr-defined]
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required,
                           "schema": _query_param_schema(prop),
                           **({"description": prop["description"]} if "description" in prop else {})})
        components.update(schema.get("$defs", {}))
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _model_schema(route.body, components)}}}
    elif route.raw_body:
        media = _FORM_BODIES.get(route.path, {"application/json": {"schema": {"type": "object"}}})
        op["requestBody"] = {"required": True, "content": media}
    if route.auth:
        op["security"] = [{"bearer": []}]
    elif route.raw_body:
        op["security"] = []
    ok, success = _success(route, components)
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    op["responses"] = {ok: success, **{s: {"description": d, **error} for s, d in _statuses(route).items()}}
    if route.permission is not None:
        op["x-required-permission"] = route.permission.value
    return op


def _operation_id(route: RouteDoc) -> str:
    words = re.sub(r"[{}]", "", route.path).strip("/").replace("/", "_").replace("-", "_")
    return f"{route.method.lower()}_{words or 'root'}"


@lru_cache(maxsize=1)
def document() -> dict:
    components: dict = {"Error": _ERROR}
    paths: dict = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CostPilot API",
            "version": "1.0.0",
            "description": "Spend on third-party APIs, by provider, model, project and feature. "
            "All days are UTC days (providers bill in UTC). Money is an exact decimal string with its currency.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


@endpoint(bp, "/api/openapi.json", "GET", summary="This document", tag="meta", auth=False)
def openapi(ctx: Ctx) -> dict:
    return document()
