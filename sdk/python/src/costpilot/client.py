"""The ingest client: ``record()`` buffers, a background thread pushes batches.

``record()`` only appends to an in-memory buffer (a few microseconds, never blocks on the network,
never raises). A daemon thread sends batches of up to 1,000 events when a batch is full or every
``flush_interval`` seconds, and once more at interpreter exit. Every event gets its id when it is
recorded, so a batch that is retried after a timeout is deduplicated by the server (``duplicate``)
rather than counted twice. 429 and 5xx answers and network errors are retried with exponential
backoff, honouring ``Retry-After``. When the buffer is full the oldest event is dropped and counted
(``stats["dropped"]``), with a warning in the ``costpilot`` logger.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import random
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Callable, Union

import httpx

from costpilot import budget
from costpilot._version import __version__
from costpilot.budget import BudgetStatus, BudgetStatusError
from costpilot.tags import current_tags

if TYPE_CHECKING:  # typing_extensions is not a runtime dependency
    from typing_extensions import Self

log = logging.getLogger("costpilot")

DEFAULT_URL = "http://127.0.0.1:8000"
PUSH_PATH = "/api/webhooks/provider-usage"
MAX_BATCH = 1000
MAX_BATCH_BYTES = 900_000  # the server takes 1 MiB a request
Number = Union[int, str, Decimal, float]

_clients: weakref.WeakSet[Client] = weakref.WeakSet()


class Client:
    """Pushes usage events to CostPilot.

    ``ingest_key`` and ``base_url`` default to ``COSTPILOT_INGEST_KEY`` and ``COSTPILOT_URL``.
    ``transport`` is an ``httpx.BaseTransport`` (tests, proxies); ``sleep`` is what backoff waits
    with. Without an ingest key the client records nothing and says so once.
    """

    def __init__(
        self,
        ingest_key: str | None = None,
        base_url: str | None = None,
        *,
        batch_size: int = MAX_BATCH,
        flush_interval: float = 5.0,
        max_buffer: int = 100_000,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        budget_cache_seconds: float = 5.0,
        budget_timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ingest_key = ingest_key or os.environ.get("COSTPILOT_INGEST_KEY") or ""
        self.base_url = (base_url or os.environ.get("COSTPILOT_URL") or DEFAULT_URL).rstrip("/")
        self.batch_size = max(1, min(int(batch_size), MAX_BATCH))
        self.flush_interval = float(flush_interval)
        self.max_buffer = max(1, int(max_buffer))
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self._sleep = sleep
        self.budget_cache_seconds = float(budget_cache_seconds)
        self.budget_timeout = float(budget_timeout)
        self._clock = clock
        self._budget_cache: dict[str, tuple[float, BudgetStatus]] = {}
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport, headers={
            "Authorization": f"Bearer {self.ingest_key}", "Content-Type": "application/json",
            "User-Agent": f"costpilot-python/{__version__}"})
        self._buffer: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._worker: threading.Thread | None = None
        self.stats: dict[str, int] = {"recorded": 0, "accepted": 0, "duplicate": 0, "rejected": 0,
                                      "dropped": 0, "failed": 0, "batches": 0}
        self.last_errors: deque[str] = deque(maxlen=20)
        if not self.ingest_key:
            log.warning("costpilot: no ingest key (COSTPILOT_INGEST_KEY); usage is not recorded")
        _clients.add(self)

    # --- the caller's side: fast, never raises ------------------------------------------------

    def record(
        self,
        provider: str,
        model: str | None = None,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cached_input_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        units: Number | None = None,
        unit_type: str | None = None,
        cost: Number | None = None,
        currency: str | None = None,
        feature: str | None = None,
        customer: str | None = None,
        project: str | None = None,
        id: str | None = None,
        timestamp: datetime | str | float | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        """Buffers one event and returns its id (``None`` if it could not be recorded)."""
        try:
            if not self.ingest_key or self._closed:
                return None
            if timestamp is not None and not isinstance(timestamp, (datetime, str, int, float)):
                raise TypeError("timestamp must be a datetime, an RFC 3339 string or a unix time")
            event: dict[str, Any] = {"id": id or uuid.uuid4().hex, "timestamp": timestamp or time.time(),
                                     "provider": provider}
            if model is not None:
                event["model"] = model
            if input_tokens is not None:
                event["input_tokens"] = input_tokens
            if output_tokens is not None:
                event["output_tokens"] = output_tokens
            if cached_input_tokens:
                event["cached_input_tokens"] = cached_input_tokens
            if cache_write_tokens:
                event["cache_write_tokens"] = cache_write_tokens
            if units is not None:
                event["units"] = units
                event["unit_type"] = unit_type
            if cost is not None:
                event["cost"] = cost
            if currency is not None:
                event["currency"] = currency
            tags = current_tags()
            feature = feature if feature is not None else tags.get("feature")
            customer = customer if customer is not None else tags.get("customer")
            project = project if project is not None else tags.get("project")
            if feature is not None:
                event["feature"] = feature
            if customer is not None:
                event["customer"] = customer
            if project is not None:
                event["project"] = project
            if metadata:
                event["metadata"] = dict(metadata)
            self._append(event)
            return event["id"]
        except Exception:
            log.debug("costpilot: record failed", exc_info=True)
            return None

    def _append(self, event: dict[str, Any]) -> None:
        dropped = 0
        with self._lock:
            if len(self._buffer) >= self.max_buffer:
                self._buffer.popleft()
                self.stats["dropped"] += 1
                dropped = self.stats["dropped"]
            self._buffer.append(event)
            self.stats["recorded"] += 1
            size = len(self._buffer)
        if dropped and (dropped & (dropped - 1)) == 0:  # 1, 2, 4, 8, ...: counted, not flooding
            log.warning("costpilot: buffer full (%d events); dropped the oldest, %d so far", self.max_buffer, dropped)
        if self._worker is None:
            self._start_worker()
        if size >= self.batch_size:
            self._wake.set()

    def _start_worker(self) -> None:
        with self._lock:
            if self._worker is not None:
                return
            self._worker = threading.Thread(target=self._run, name="costpilot-flush", daemon=True)
            self._worker.start()

    # --- the background side ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._closed:
                break
            try:
                self._drain()
            except Exception:
                log.exception("costpilot: flush failed")

    def _take(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        size = 20
        with self._lock:
            while self._buffer and len(batch) < self.batch_size:
                try:
                    encoded = _encode(self._buffer[0])
                except (TypeError, ValueError, OverflowError) as e:  # one bad event must not block the rest
                    self._buffer.popleft()
                    self.stats["failed"] += 1
                    self.last_errors.append(f"event not encodable: {e}")
                    continue
                if batch and size + len(encoded) + 1 > MAX_BATCH_BYTES:
                    break
                self._buffer.popleft()
                batch.append(encoded)
                size += len(encoded) + 1
        return batch  # type: ignore[return-value]

    def _drain(self) -> None:
        with self._send_lock:
            while True:
                batch = self._take()
                if not batch:
                    return
                self._send(batch)  # type: ignore[arg-type]

    def _send(self, encoded: list[str]) -> None:
        body = ('{"events":[' + ",".join(encoded) + "]}").encode()
        self.stats["batches"] += 1
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                response = self._http.post(PUSH_PATH, content=body)
            except httpx.HTTPError as e:
                problem = f"{type(e).__name__}: {e}"
            else:
                if response.status_code == 200 or (response.status_code == 400 and _is_outcomes(response)):
                    self._count(response)
                    return
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code != 429 and response.status_code < 500:
                    break  # our fault (auth, size, shape): retrying would not help
                retry_after = _retry_after(response.headers.get("retry-after"))
            if attempt == self.max_retries:
                break
            delay = retry_after if retry_after is not None else self.backoff * (2 ** attempt) * (0.5 + random.random())
            self._sleep(min(delay, self.max_backoff))
        self.stats["failed"] += len(encoded)
        self.last_errors.append(problem)
        log.error("costpilot: %d events not sent: %s", len(encoded), problem)

    def _count(self, response: httpx.Response) -> None:
        payload = response.json()
        summary = payload.get("summary", {})
        for status in ("accepted", "duplicate", "rejected"):
            self.stats[status] += int(summary.get(status, 0))
        for outcome in payload.get("events", []):
            if outcome.get("status") == "rejected":
                self.last_errors.append(f"event {outcome.get('id')}: {outcome.get('reason')}")
                log.warning("costpilot: event %s rejected: %s", outcome.get("id"), outcome.get("reason"))

    # --- the budget circuit breaker ----------------------------------------------------------

    def budget_status(self, scope: str | None = None, *, raise_errors: bool = False) -> BudgetStatus:
        """``GET /api/budget-status`` for ``scope`` (``provider:openai``, ``feature:search``, ...),
        cached for ``budget_cache_seconds``. Fails open: ``state="unknown"`` (reason in ``error``)
        when CostPilot cannot answer, unless ``raise_errors`` (then ``BudgetStatusError``)."""
        key = scope or ""
        now = self._clock()
        cached = self._budget_cache.get(key)
        if cached is None or now >= cached[0]:
            if not self.ingest_key:
                status = budget.unknown("no ingest key (COSTPILOT_INGEST_KEY)", scope)
            else:
                try:
                    status = budget.fetch(self._http, scope, self.budget_timeout)
                except BudgetStatusError as e:
                    status = budget.unknown(str(e), scope)
                except Exception as e:  # never into the caller's code
                    log.debug("costpilot: budget status failed", exc_info=True)
                    status = budget.unknown(f"{type(e).__name__}: {e}", scope)
            if len(self._budget_cache) > 1000:
                self._budget_cache.clear()
            self._budget_cache[key] = cached = (now + self.budget_cache_seconds, status)
        status = cached[1]
        if raise_errors and not status.known:
            raise BudgetStatusError(status.error or "budget status unknown")
        return status

    # --- for scripts and Lambda handlers -----------------------------------------------------

    def flush(self) -> None:
        """Sends everything buffered now, in the caller's thread (retries included)."""
        try:
            self._drain()
        except Exception:
            log.exception("costpilot: flush failed")

    def close(self) -> None:
        """Flushes and stops the background thread; later ``record()`` calls are ignored."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=self.flush_interval + 5)
        self.flush()
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        return len(self._buffer)


def _is_outcomes(response: httpx.Response) -> bool:
    try:
        return "summary" in response.json()
    except ValueError:
        return False


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _timestamp(value: datetime | str | float) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        when = datetime.fromtimestamp(value, timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _encode(event: dict[str, Any]) -> str:
    wire = dict(event)
    wire["timestamp"] = _timestamp(event["timestamp"])
    for key in ("cost", "units"):
        if key in wire and not isinstance(wire[key], str):
            wire[key] = str(wire[key])
    return json.dumps(wire, separators=(",", ":"))


def _after_fork() -> None:
    """A forked child (gunicorn, multiprocessing) has no sender thread: start one on next record."""
    for client in list(_clients):
        client._lock = threading.Lock()
        client._send_lock = threading.Lock()
        client._wake = threading.Event()
        client._worker = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


@atexit.register
def _close_all() -> None:
    for client in list(_clients):
        try:
            client.close()
        except Exception:
            log.debug("costpilot: close at exit failed", exc_info=True)


_default: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The process-wide client configured from the environment (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def configure(ingest_key: str | None = None, base_url: str | None = None, **options: Any) -> Client:
    """Replaces the process-wide client (what ``costpilot.record`` and the integrations use)."""
    global _default
    with _default_lock:
        old, _default = _default, Client(ingest_key, base_url, **options)
    if old is not None:
        old.close()
    return _default
