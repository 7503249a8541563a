"""What every fake provider shares: request log, injectable faults, JSON responses, serving."""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Self

from werkzeug.datastructures import MultiDict
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

DAY = timedelta(days=1)


@dataclass(frozen=True)
class BilledCall:
    """One API call the fake provider bills, priced by whoever made it (the demo passes what its
    pushed events cost, so its bill covers them). ``model`` as the provider names it on the bill."""

    at: datetime
    model: str
    input_cost: Decimal  # USD
    output_cost: Decimal  # USD


@dataclass
class RecordedRequest:
    method: str
    path: str
    args: MultiDict
    headers: dict[str, str] = field(repr=False)


@dataclass
class _Fault:
    status: int | None = None
    retry_after: float | None = None
    body: Any = None
    malformed: bool = False


class FakeProvider:
    """Base WSGI app. Subclasses implement ``authenticate``, ``route``, ``error`` and ``malformed_body``."""

    provider = "fake"
    request_id_header = "x-request-id"

    def __init__(self, *, seed: int = 0, now: Callable[[], datetime] | None = None, history_days: int = 45,
                 billing_lag: timedelta = timedelta(0), background_per_second: Decimal = Decimal(0)) -> None:
        """``billing_lag``: how long after a call (or a second of background traffic) the bill shows
        it, so today's bill is partial and grows. ``background_per_second``: USD of steady traffic
        the provider bills that nothing pushes (another service on the same key), accrued per
        second of each day, today's up to now."""
        self.seed = seed
        self.rng = random.Random(seed)
        self._now = now or (lambda: datetime.now(UTC))
        self.history_days = history_days
        self.billing_lag = billing_lag
        self.background_per_second = Decimal(background_per_second)
        self.calls: list[BilledCall] = []
        self.requests: list[RecordedRequest] = []
        self._faults: deque[_Fault] = deque()
        self._rejection: tuple[int, str | None] | None = None
        self._request_counter = 0
        self._lock = threading.Lock()

    # -- clock ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._now()

    def today(self) -> date:
        return self.now().astimezone(UTC).date()

    def ledger_days(self) -> list[date]:
        """The days the seeded ledger covers: ``history_days`` before today, and today."""
        today = self.today()
        return [today - timedelta(days=n) for n in range(self.history_days, -1, -1)]

    # -- billed traffic besides the seeded ledger ------------------------------------------------

    def bill_calls(self, calls: Iterable[BilledCall]) -> None:
        with self._lock:
            self.calls.extend(calls)

    def billed_calls(self, day: date) -> list[BilledCall]:
        """The calls of ``day`` that the bill shows by now."""
        shown = self.now() - self.billing_lag
        return [c for c in self.calls if c.at.astimezone(UTC).date() == day and c.at <= shown]

    def background_cost(self, day: date) -> Decimal:
        """The steady background traffic of ``day`` billed by now (USD)."""
        if not self.background_per_second:
            return Decimal(0)
        elapsed = (self.now() - self.billing_lag - midnight(day)).total_seconds()
        return self.background_per_second * int(min(max(elapsed, 0), 86400))

    # -- faults --------------------------------------------------------------------------------

    def fail_next(self, status: int = 500, *, retry_after: float | None = None, times: int = 1) -> None:
        """The next ``times`` requests get ``status`` in the provider's error format."""
        for _ in range(times):
            self._faults.append(_Fault(status=status, retry_after=retry_after))

    def malformed_next(self, body: Any = None, *, times: int = 1) -> None:
        """The next ``times`` requests get 200 with a body that breaks the documented shape."""
        for _ in range(times):
            self._faults.append(_Fault(malformed=True, body=body))

    def reject_key(self, reason: str | None = None, *, status: int = 401) -> None:
        """Every request is refused (key revoked) until ``accept_key``."""
        self._rejection = (status, reason)

    def accept_key(self) -> None:
        self._rejection = None

    # -- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self.requests.append(
                RecordedRequest(request.method, request.path, MultiDict(request.args), dict(request.headers))
            )
            self._request_counter += 1
            request_id = self.new_request_id()
            response = self._dispatch(request)
        response.headers.setdefault(self.request_id_header, request_id)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        if self._faults:
            fault = self._faults.popleft()
            if fault.malformed:
                return self.json(self.malformed_body() if fault.body is None else fault.body)
            response = self.error(fault.status or 500, None)
            if fault.retry_after is not None:
                response.headers["Retry-After"] = _format_seconds(fault.retry_after)
            return response
        if self._rejection is not None:
            status, reason = self._rejection
            return self.error(status, reason)
        if not self.authenticate(request):
            return self.error(401, None)
        try:
            return self.route(request)
        except _HTTPError as e:
            return self.error(e.status, e.message)

    def new_request_id(self) -> str:
        return f"req_{self.seed:04d}{self._request_counter:08d}"

    # -- hooks ---------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def route(self, request: Request) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def error(self, status: int, message: str | None) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def malformed_body(self) -> Any:
        return {"unexpected": True}

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status=status, headers=headers or {}, mimetype="application/json")

    @staticmethod
    def bad_request(message: str, status: int = 400) -> _HTTPError:
        return _HTTPError(status, message)


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def decimal_str(amount: Decimal) -> str:
    """Plain decimal text without exponent or needless trailing zeros."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text


def multi_arg(request: Request, name: str) -> list[str]:
    """Array query params in either form: ``name[]=a&name[]=b`` or ``name=a&name=b``."""
    return request.args.getlist(f"{name}[]") + request.args.getlist(name)


def group_rows(rows: Iterable[dict[str, Any]], dims: Iterable[str], all_dims: Iterable[str],
               sums: Iterable[str]) -> list[dict[str, Any]]:
    """Aggregate ``rows`` like a provider's ``group_by``: ungrouped dimensions become ``None``."""
    dims, all_dims, sums = set(dims), list(all_dims), list(sums)
    grouped: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = tuple(row.get(d) if d in dims else None for d in all_dims)
        target = grouped.get(key)
        if target is None:
            target = {d: (row.get(d) if d in dims else None) for d in all_dims}
            for s in sums:
                target[s] = row.get(s)
            grouped[key] = target
            continue
        for s in sums:
            if row.get(s) is not None:
                target[s] = (target[s] or 0) + row[s]
    return list(grouped.values())


@dataclass
class ServedFake:
    """A fake served on loopback: point a client's ``base_url`` at ``base_url``; ``stop()`` when done."""

    base_url: str
    server: Any = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(app: Callable, *, host: str = "127.0.0.1", port: int = 0) -> ServedFake:
    """Serve a fake on ``host:port`` (port 0 = a free port) in a daemon thread."""
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"fake-{getattr(app, 'provider', 'app')}", daemon=True)
    thread.start()
    return ServedFake(base_url=f"http://{host}:{server.server_port}", server=server, thread=thread)
