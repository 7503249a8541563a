"""Local stand-ins the SDK tests point clients at: a CostPilot push endpoint that records what it
got and answers in the real per-event shape, and an httpx transport into chalice's test client."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx


class FakeIngest:
    """``POST /api/webhooks/provider-usage`` with server-side dedup by id; ``script`` answers first."""

    def __init__(self, script: list[httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.seen: set = set()
        self.script = list(script or [])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.content)
        if self.script:
            return self.script.pop(0)
        events = json.loads(request.content)["events"]
        outcomes = []
        for i, e in enumerate(events):
            status = "duplicate" if e["id"] in self.seen else "accepted"
            self.seen.add(e["id"])
            outcomes.append({"index": i, "id": e["id"], "status": status})
        summary = {s: sum(o["status"] == s for o in outcomes) for s in ("accepted", "duplicate", "rejected")}
        return httpx.Response(200, json={"summary": summary, "events": outcomes})

    @property
    def events(self) -> list[dict]:
        return [e for body in self.bodies for e in json.loads(body)["events"]]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


class ChaliceTransport(httpx.BaseTransport):
    """Sends httpx requests through chalice's test client (the real app, in process)."""

    def __init__(self, chalice_client, on_request: Callable[[httpx.Request], None] | None = None) -> None:
        self.client = chalice_client
        self.on_request = on_request

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if self.on_request:
            self.on_request(request)
        path = request.url.raw_path.decode()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        r = self.client.http.request(request.method, path, headers=headers, body=body)
        return httpx.Response(r.status_code, headers=r.headers, content=r.body)
