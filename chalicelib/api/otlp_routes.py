"""OTLP/HTTP trace ingestion: OpenTelemetry exporters send GenAI spans, CostPilot keeps usage."""

from __future__ import annotations

import json

from chalice import Blueprint, Response

from chalicelib import errors
from chalicelib.api.http import Ctx, app_error_response, endpoint
from chalicelib.domain import otlp
from chalicelib.lazy import lazy

otlp_ingest = lazy("chalicelib.services.otlp_ingest")

bp = Blueprint(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# google.rpc.Code for the HTTP statuses this route answers with
_RPC_CODES = {400: 3, 401: 16, 402: 8, 403: 7, 404: 5, 409: 6, 413: 8, 429: 8}


def _is_json(ctx: Ctx) -> bool:
    """Answer in the request's encoding, but in JSON when the caller's Accept excludes protobuf:
    API Gateway (and chalice) send binary bodies only to a matching Accept (exporters that parse
    answers read the response's Content-Type)."""
    if (ctx.request.headers.get("content-type") or "").split(";")[0].strip().lower() == JSON:
        return True
    accept = (ctx.request.headers.get("accept") or "").lower()
    return not any(t in accept for t in (PROTOBUF, "*/*", "application/*"))


def _status(ctx: Ctx, status: int, code: str, message: str, headers: dict | None = None) -> Response:
    """OTLP's error answer: a google.rpc.Status in the request's encoding (JSON also carries
    CostPilot's usual error object)."""
    rpc = _RPC_CODES.get(status, 2)
    extra = {"Cache-Control": "no-store", **(headers or {})}
    if _is_json(ctx):
        body = json.dumps({"code": rpc, "message": message, "error": {"code": code, "message": message}})
        return Response(body=body, status_code=status, headers={**extra, "Content-Type": JSON})
    return Response(body=otlp.status_protobuf(rpc, message), status_code=status,
                    headers={**extra, "Content-Type": PROTOBUF})


@endpoint(bp, "/api/otlp/v1/traces", "POST", tag="ingestion", auth=False, raw_body=True,
          content_types=[PROTOBUF, JSON],
          summary="OTLP/HTTP trace export: GenAI spans become usage events (ingest key as bearer)",
          description="Point an OpenTelemetry exporter here (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) with "
          "`OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer cpk_live_...`. Protobuf or OTLP/JSON, gzip "
          "accepted, 4 MiB per export. Spans with GenAI semantic-convention token counts become usage "
          "(event id from trace and span id, so a re-export counts once); other spans are ignored and "
          "counted in `partial_success`. Errors are a google.rpc.Status.")
def export_traces(ctx: Ctx) -> Response:
    headers = {k.lower(): v for k, v in ctx.request.headers.items()}
    try:
        result = otlp_ingest.export_traces(headers, ctx.request.raw_body or b"")
    except errors.AppError as e:
        edge = app_error_response(e)
        return _status(ctx, edge.status_code, e.code, e.message,
                       {k: v for k, v in edge.headers.items() if k in ("Retry-After", "WWW-Authenticate")})
    if _is_json(ctx):
        return Response(body=json.dumps(result.to_json()), status_code=200,
                        headers={"Content-Type": JSON, "Cache-Control": "no-store"})
    return Response(body=otlp.partial_success_protobuf(result.refused, result.message()), status_code=200,
                    headers={"Content-Type": PROTOBUF, "Cache-Control": "no-store"})
