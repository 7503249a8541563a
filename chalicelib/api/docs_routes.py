"""The OpenAPI 3 description of the API, built from the registered routes."""

from __future__ import annotations

import re
from functools import lru_cache

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
        }
    },
}


def _operation(route: RouteDoc, components: dict) -> dict:
    op: dict = {"summary": route.summary, "tags": [route.tag], "operationId": _operation_id(route)}
    if route.description:
        op["description"] = route.description
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template="#/components/schemas/{model}")
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                           **({"description": prop["description"]} if "description" in prop else {})})
        components.update(schema.get("$defs", {}))
    if params:
        op["parameters"] = params
    if route.body is not None:
        schema = route.body.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[route.body.__name__] = schema
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}}}}
    if route.auth:
        op["security"] = [{"bearer": []}]
    elif route.raw_body:
        op["security"] = []
    ok = "204" if route.status == 200 and route.method == "DELETE" else str(route.status)
    op["responses"] = {ok: {"description": "success"}}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for status, text in (("400", "invalid input"), ("401", "missing, expired or revoked token"),
                         ("403", "role does not allow this"), ("404", "not found (or not a member)")):
        op["responses"][status] = {"description": text, **error}
    if route.permission is not None:
        op["x-required-permission"] = route.permission.value
    return op


def _operation_id(route: RouteDoc) -> str:
    words = re.sub(r"[{}]", "", route.path).strip("/").replace("/", "_").replace("-", "_")
    return f"{route.method.lower()}_{words}"


@lru_cache(maxsize=1)
def document() -> dict:
    components: dict = {"Error": _ERROR}
    paths: dict = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.0.3",
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
