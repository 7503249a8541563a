"""Local stand-ins for Slack, Discord and webhook endpoints: an HTTP server on 127.0.0.1 that
records every request, and can be told to fail (to exercise retries and the dead-letter queue).

Used by the tests (``with Receiver() as r: ... r.wait_for(1)``) and by the local stack, which
serves one under ``/hooks/<name>`` next to the outbox page.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def to_dict(self) -> dict:
        try:
            body: Any = self.json
        except ValueError:
            body = self.body.decode(errors="replace")
        return {"path": self.path, "headers": self.headers, "body": body, "at": self.at}


@dataclass
class Recorder:
    """The WSGI part: records POSTs; answers ``status`` (default 200), or fails the next N."""

    requests: list[Received] = field(default_factory=list)
    status: int = 200
    fail_next: int = 0
    fail_status: int = 500
    lock: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, environ: dict, start_response: Any) -> list[bytes]:
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        if request.method == "GET":
            body = json.dumps([r.to_dict() for r in self.requests], default=str)
            return Response(body, content_type="application/json")(environ, start_response)
        received = Received(request.path, {k.lower(): v for k, v in request.headers.items()},
                            request.get_data(), time.time())
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                status = self.fail_status
            else:
                status = self.status
            received.headers["x-answered"] = str(status)
            self.requests.append(received)
            self.lock.notify_all()
        return Response("ok" if status < 400 else "nope", status=status)(environ, start_response)

    def accepted(self) -> list[Received]:
        return [r for r in self.requests if int(r.headers.get("x-answered", "200")) < 400]

    def wait_for(self, count: int, timeout: float = 10.0, accepted_only: bool = True) -> list[Received]:
        """Blocks until ``count`` requests (accepted ones by default) arrived, or the timeout."""
        deadline = time.time() + timeout
        with self.lock:
            while True:
                got = self.accepted() if accepted_only else list(self.requests)
                if len(got) >= count or time.time() >= deadline:
                    return got
                self.lock.wait(timeout=max(0.01, deadline - time.time()))


class Receiver(Recorder):
    """A recorder served on 127.0.0.1 (a free port unless given), for tests and the bench."""

    def __init__(self, port: int = 0):
        super().__init__()
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", port, self, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"receiver-{self.port}", daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
