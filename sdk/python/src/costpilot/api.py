"""Reading CostPilot with a personal API token: spend, forecast, alerts (what the CLI uses)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from costpilot._version import __version__


class ApiError(Exception):
    """A 4xx/5xx answer: ``status``, ``code`` and ``message`` from the API's error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Api:
    """A thin client of the REST API. ``token`` defaults to ``COSTPILOT_TOKEN``."""

    def __init__(self, token: str | None = None, base_url: str | None = None, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0) -> None:
        from costpilot.client import DEFAULT_URL

        self.base_url = (base_url or os.environ.get("COSTPILOT_URL") or DEFAULT_URL).rstrip("/")
        token = token or os.environ.get("COSTPILOT_TOKEN") or ""
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport, headers={
            "Authorization": f"Bearer {token}", "User-Agent": f"costpilot-python/{__version__}"})

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, content: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._http.request(method, path, params=clean, json=json, content=content, headers=headers)
        if response.status_code >= 400:
            code, message = "error", response.text[:300]
            try:
                error = response.json()["error"]
                code, message = error.get("code", code), error.get("message", message)
            except (ValueError, KeyError, TypeError):
                pass
            raise ApiError(response.status_code, code, message)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def me(self) -> dict[str, Any]:
        return self.get("/api/me")

    def usage(self, workspace_id: str, **params: Any) -> dict[str, Any]:
        """``GET /api/workspaces/{id}/usage`` (``from_`` for ``from``)."""
        if "from_" in params:
            params["from"] = params.pop("from_")
        return self.get(f"/api/workspaces/{workspace_id}/usage", **params)

    def forecast(self, workspace_id: str, **params: Any) -> dict[str, Any]:
        return self.get(f"/api/workspaces/{workspace_id}/forecast", **params)

    def alerts(self, workspace_id: str) -> dict[str, Any]:
        return self.get(f"/api/workspaces/{workspace_id}/alerts")

    def alert_history(self, workspace_id: str, **params: Any) -> dict[str, Any]:
        return self.get(f"/api/workspaces/{workspace_id}/alerts/history", **params)

    def close(self) -> None:
        self._http.close()
