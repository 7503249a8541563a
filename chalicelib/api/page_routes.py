"""The dashboard: the HTML shell at ``/`` and ``/app/...`` (client-side routes, including the links in
alert emails and Stripe's return URLs) and its content-hashed static files. Not part of the API
description. HTML carries a strict CSP (no inline script), frame-ancestors 'none', nosniff and a
Referrer-Policy; hashed assets are cacheable for a year."""

from __future__ import annotations

from collections.abc import Callable

from chalice import Blueprint, Response

from chalicelib.api.http import error_response
from chalicelib.web import assets

bp = Blueprint(__name__)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
APP_DEPTH = 5  # /app/a/b/c/d/e: deep enough for /app/workspaces/{id}/alerts/{alert_id}


def page() -> Response:
    return Response(body=assets.index_html(), status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache", **SECURITY_HEADERS})


def _page_view(name: str) -> Callable[..., Response]:
    def view(**_segments: str) -> Response:
        return page()

    view.__name__ = name
    return view


bp.route("/", methods=["GET"])(_page_view("page_root"))
bp.route("/app", methods=["GET"])(_page_view("page_app"))
for _depth in range(1, APP_DEPTH + 1):
    _path = "/app/" + "/".join(f"{{s{i}}}" for i in range(_depth))
    bp.route(_path, methods=["GET"])(_page_view(f"page_app_{_depth}"))


@bp.route("/static/{file_name}", methods=["GET"])
def static_file(file_name: str) -> Response:
    asset = assets.find(file_name)
    if asset is None:
        return error_response(404, "not_found", "no such asset (names change when files change: reload the page)")
    return Response(body=asset.body, status_code=200, headers={
        "Content-Type": asset.content_type, "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff"})
