"""The local stack's saved state: what the emulated AWS holds, and what the fakes must remember to
stay consistent with it, in one JSON file (``.devstack/state.json`` by default, git-ignored).

moto's backends live in this process (ThreadedMotoServer serves them from a thread), so the state is
read from and written to them directly, as data rather than pickled objects (a moto KMS key holds
a cryptography private key, which does not pickle, and a pickle would tie the file to moto's
classes). What is kept, per service:

- DynamoDB: every item of every table, in DynamoDB's JSON. Tables themselves come from
  infra/resources.json on every start (provision), so a table added there appears empty and a
  table removed there is dropped with a warning.
- KMS: each symmetric key's id, ARN, aliases and key material. The API never exports material, so
  it is read from moto's key object; on restore the key that provisioning created under the same
  alias takes the saved id and material, so ciphertexts sealed before (they name the key ARN and
  moto's blobs carry the key id) decrypt after.
- SQS: the bodies and attributes of the messages each queue holds (dead-letter queues included);
  receive counts and visibility start afresh: every handler is safe to run again.
- SES: the sent mail the outbox page shows.

The fakes' parts (fake Stripe's customers, subscriptions and events; the webhook receivers'
requests) and the stack's own secrets (token signing key, Stripe webhook secret, the demo's ingest
key, the day the ledgers started) are captured by callables the start command passes in.

The file is written atomically (a temporary file in the same folder, fsync, rename), by ``Keeper``:
after writes (a WSGI wrapper round moto counts requests that change state) at most every few
seconds, and once more on a clean stop.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

log = logging.getLogger("costpilot.devstack.state")

FORMAT = 1
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
FILE_NAME = "state.json"
# Actions that change nothing we keep (X-Amz-Target "<Service>.<Action>"); any other request counts
# as a write. ReceiveMessage changes visibility only, which is not kept.
READ_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "TransactGet", "Receive",
                 "Decrypt", "Encrypt", "ReEncrypt", "Generate", "Verify", "Sign")


class StateError(Exception):
    """The saved state cannot be used (unknown format, unreadable file)."""


# ---- the file --------------------------------------------------------------------------------

def hold(folder: Path) -> Any:
    """Takes the folder for this process (an exclusive lock, released when the process ends): two
    stacks saving to one folder would overwrite each other's data. Keep the answer referenced."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / "lock", "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        handle.close()
        raise StateError(f"another local stack (pid {owner}) keeps its data in {folder}; stop it, "
                         "or give this one another --state-dir") from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    for stale in folder.glob(f".{FILE_NAME}.*.tmp"):  # a write cut short by a crash
        stale.unlink(missing_ok=True)
    return handle


def load(folder: Path) -> dict[str, Any] | None:
    """The saved state, or None when the folder holds none."""
    path = folder / FILE_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise StateError(f"{path} is unreadable ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateError(f"{path} has format {data.get('format') if isinstance(data, dict) else '?'}, "
                         f"this stack reads format {FORMAT}")
    return data


def write(folder: Path, data: dict[str, Any]) -> Path:
    """Writes ``data`` atomically: readers (and a crash) see the old file or the new, never half."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    tmp = folder / f".{FILE_NAME}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump({"format": FORMAT, **data}, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


# ---- the emulated AWS ------------------------------------------------------------------------

def _retry(read: Callable[[], Any], attempts: int = 5) -> Any:
    """moto's threads may change a dict while it is read; read again then."""
    for attempt in range(attempts):
        try:
            return read()
        except RuntimeError:  # dictionary changed size during iteration
            if attempt == attempts - 1:
                raise
            time.sleep(0.01)
    return None


def capture_aws(account: str = ACCOUNT_ID, region: str = REGION) -> dict[str, Any]:
    from devstack import moto_fixes

    with moto_fixes.transaction_lock():  # no half-applied transaction in the snapshot
        dynamodb = _retry(lambda: _capture_dynamodb(account, region))
    return {
        "dynamodb": dynamodb,
        "kms": _retry(lambda: _capture_kms(account, region)),
        "sqs": _retry(lambda: _capture_sqs(account, region)),
        "ses": _retry(lambda: _capture_ses(account, region)),
    }


def restore_aws(data: dict[str, Any], account: str = ACCOUNT_ID, region: str = REGION) -> dict[str, int]:
    """Loads a capture into freshly provisioned backends; returns counts of what was restored."""
    return {
        "items": _restore_dynamodb(data.get("dynamodb", {}), account, region),
        "keys": _restore_kms(data.get("kms", []), account, region),
        "messages": _restore_sqs(data.get("sqs", {}), account, region),
        "emails": _restore_ses(data.get("ses", []), account, region),
    }


def _capture_dynamodb(account: str, region: str) -> dict[str, list[dict]]:
    from moto.dynamodb.models import dynamodb_backends

    out: dict[str, list[dict]] = {}
    for name, table in list(dynamodb_backends[account][region].tables.items()):
        items = []
        for entry in list(table.items.values()):
            for item in (list(entry.values()) if table.range_key_attr else [entry]):
                items.append({name: _to_json(value) for name, value in item.attrs.items()})
        out[name] = items
    return out


def _restore_dynamodb(tables: dict[str, list[dict]], account: str, region: str) -> int:
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[account][region]
    count = 0
    for name, items in tables.items():
        if name not in backend.tables:
            log.warning("table %s is no longer in infra/resources.json: its %d saved items are dropped",
                        name, len(items))
            continue
        refused = 0
        for attrs in items:
            try:
                backend.put_item(name, {k: _from_json(v) for k, v in attrs.items()})
                count += 1
            except Exception as e:  # noqa: BLE001 - e.g. the table's key schema changed in infra/
                refused += 1
                last = e
        if refused:
            log.warning("table %s refused %d of its %d saved items (%s: %s)", name, refused, len(items),
                        type(last).__name__, last)
    return count


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data).decode() if isinstance(data, bytes) else data


# moto keeps binary values as the server parsed them (bytes); JSON carries them as base64, as
# DynamoDB's own JSON does, and they are bytes again on restore.

def _to_json(value: Any) -> dict[str, Any]:
    kind, inner = value.type, value.value
    if kind == "M":
        return {"M": {k: _to_json(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_to_json(v) for v in inner]}
    if kind == "B":
        return {"B": _b64(inner)}
    if kind == "BS":
        return {"BS": [_b64(v) for v in inner]}
    return {kind: inner}


def _from_json(value: dict[str, Any]) -> dict[str, Any]:
    (kind, inner), = value.items()
    if kind == "M":
        return {"M": {k: _from_json(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_from_json(v) for v in inner]}
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) for v in inner]}
    return {kind: inner}


def _capture_kms(account: str, region: str) -> list[dict]:
    from moto.kms.models import kms_backends

    keys = []
    for key in list(kms_backends[account][region].keys.values()):
        if key.key_spec != "SYMMETRIC_DEFAULT":
            log.warning("KMS key %s (%s) is not kept: only symmetric keys are", key.id, key.key_spec)
            continue
        keys.append({
            "id": key.id, "arn": key.arn, "material": _b64(key.key_material), "aliases": sorted(key.aliases),
            "description": key.description, "key_usage": key.key_usage, "policy": key.policy,
            "creation_date": key.creation_date, "enabled": key.enabled, "key_state": key.key_state,
            "rotation": key.key_rotation_status,
        })
    return keys


def _restore_kms(keys: list[dict], account: str, region: str) -> int:
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]
    for saved in keys:
        key = next((k for k in backend.keys.values() if set(k.aliases) & set(saved["aliases"])), None)
        if key is None:
            key = backend.create_key(saved["policy"], saved["key_usage"], "SYMMETRIC_DEFAULT",
                                     saved["description"], None)
        if key.id != saved["id"]:
            tags = backend.tagger.list_tags_for_resource(key.id).get("Tags", [])
            backend.delete_key(key.id)
            key.id, key.arn = saved["id"], saved["arn"]
            for alias in key.aliases.values():
                alias.target_key_id = key.id
            backend.keys[key.id] = key
            if tags:
                backend.tagger.tag_resource(key.id, tags)
        for name in saved["aliases"]:
            if not backend.alias_exists(name):
                backend.create_alias(key.id, name)
        key.key_material = base64.b64decode(saved["material"])
        key.creation_date = saved["creation_date"]
        key.enabled, key.key_state = saved["enabled"], saved["key_state"]
        key.key_rotation_status = saved["rotation"]
    return len(keys)


def _capture_sqs(account: str, region: str) -> dict[str, list[dict]]:
    from moto.sqs.models import sqs_backends

    out: dict[str, list[dict]] = {}
    for name, queue in list(sqs_backends[account][region].queues.items()):
        out[name] = [{"body": m.body, "attributes": m.message_attributes, "group_id": m.group_id,
                      "deduplication_id": m.deduplication_id} for m in list(queue._messages)]
    return out


def _restore_sqs(queues: dict[str, list[dict]], account: str, region: str) -> int:
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[account][region]
    count = 0
    for name, messages in queues.items():
        if name not in backend.queues:
            log.warning("queue %s is no longer in infra/resources.json: its %d saved messages are dropped",
                        name, len(messages))
            continue
        for m in messages:
            try:
                backend.send_message(name, m["body"], message_attributes=m["attributes"] or None,
                                     deduplication_id=m["deduplication_id"], group_id=m["group_id"])
                count += 1
            except Exception as e:  # noqa: BLE001 - e.g. the queue became FIFO in infra/
                log.warning("queue %s refused a saved message (%s: %s)", name, type(e).__name__, e)
    return count


def _capture_ses(account: str, region: str) -> list[dict]:
    from moto.ses.models import Message, RawMessage, ses_backends

    out = []
    for m in list(ses_backends[account][region].sent_messages):
        if isinstance(m, RawMessage):
            raw = m.raw_data
            out.append({"kind": "raw", "id": m.id, "source": m.source, "destinations": list(m.destinations),
                        **({"raw_b64": _b64(raw)} if isinstance(raw, bytes) else {"raw": raw})})
        elif isinstance(m, Message):
            out.append({"kind": "simple", "id": m.id, "source": m.source, "subject": m.subject, "body": m.body,
                        "destinations": m.destinations})
        else:
            log.warning("sent email %s (%s) is not kept", getattr(m, "id", "?"), type(m).__name__)
    return out


def _restore_ses(messages: list[dict], account: str, region: str) -> int:
    from moto.ses.models import Message, RawMessage, ses_backends

    backend = ses_backends[account][region]
    for m in messages:
        if m["kind"] == "raw":
            raw = base64.b64decode(m["raw_b64"]) if "raw_b64" in m else m["raw"]
            backend.sent_messages.append(RawMessage(m["id"], m["source"], m["destinations"], raw))
            backend.sent_message_count += len(m["destinations"])
        else:
            backend.sent_messages.append(Message(m["id"], m["source"], m["subject"], m["body"], m["destinations"]))
            backend.sent_message_count += sum(len(v) for v in m["destinations"].values())
    return len(messages)


# ---- the fakes -------------------------------------------------------------------------------

STRIPE_FIELDS = ("customers", "sessions", "portal_sessions", "subscriptions", "invoices", "events",
                 "_checkout_lines", "_offset", "_pending")


def capture_stripe(fake: Any) -> dict[str, Any]:
    """The fake Stripe's objects (JSON, as Stripe serves them) and its deliveries and clock offset."""
    with fake._lock:
        data = {name: getattr(fake, name) for name in STRIPE_FIELDS if hasattr(fake, name)}
        data["deliveries"] = [asdict(d) for d in fake.deliveries]
        return json.loads(json.dumps(data))  # a copy, taken under the fake's lock


def restore_stripe(fake: Any, data: dict[str, Any]) -> None:
    from devstack.fakes.stripe_api import Delivery

    with fake._lock:
        for name in STRIPE_FIELDS:
            if name in data and hasattr(fake, name):
                setattr(fake, name, data[name])
        fake.deliveries = [Delivery(**d) for d in data.get("deliveries", [])]


def dump_billed_calls(calls: Iterable[Any]) -> list[list[str]]:
    """The demo's calls a fake provider bills (``BilledCall``), as JSON rows."""
    return [[c.at.isoformat(), c.model, str(c.input_cost), str(c.output_cost)] for c in calls]


def load_billed_calls(rows: Iterable[list[str]]) -> list[Any]:
    from devstack.fakes.base import BilledCall

    return [BilledCall(datetime.fromisoformat(at), model, Decimal(i), Decimal(o)) for at, model, i, o in rows]


def capture_hooks(recorder: Any) -> list[dict]:
    with recorder.lock:
        return [{"path": r.path, "headers": r.headers, "body": _b64(r.body), "at": r.at} for r in recorder.requests]


def restore_hooks(recorder: Any, requests: Iterable[dict]) -> None:
    from devstack.receivers import Received

    with recorder.lock:
        recorder.requests.extend(Received(r["path"], r["headers"], base64.b64decode(r["body"]), r["at"])
                                 for r in requests)


# ---- saving while running --------------------------------------------------------------------

class Keeper:
    """Saves the state to ``folder``: after AWS writes or changes in the other parts, at most every
    ``interval`` seconds, from a thread; and on ``stop``.

    ``parts`` are the non-AWS parts (name -> callable answering JSON-able data); they are cheap, so
    they are captured on every tick and compared with what was saved. AWS is captured only when a
    request that changes it went through ``track`` since the last save."""

    def __init__(self, folder: Path, parts: dict[str, Callable[[], Any]] | None = None, interval: float = 5.0,
                 capture: Callable[[], dict[str, Any]] = capture_aws):
        self.folder = folder
        self.parts = dict(parts or {})
        self.interval = interval
        self.capture = capture
        self.writes = 0
        self.saves = 0
        self._saved_writes = -1
        self._aws: dict[str, Any] | None = None
        self._parts: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="state-keeper", daemon=True)

    def track(self, app: Callable) -> Callable:
        """Wraps moto's WSGI app: counts the requests that may change what is kept."""

        def tracked(environ: dict, start_response: Callable) -> Any:
            action = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
            try:
                return app(environ, start_response)
            finally:  # counted once the change is made, so a save that missed it sees the count move
                if not (action and action.startswith(READ_PREFIXES)):
                    self.writes += 1

        return tracked

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread and saves once more (the caller quiesced the writers first)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.save()

    def save(self) -> bool:
        """Writes the file if anything changed since the last write; answers whether it wrote."""
        with self._lock:
            writes = self.writes
            parts = {name: read() for name, read in self.parts.items()}
            if writes == self._saved_writes and parts == self._parts:
                return False
            started = time.monotonic()
            if writes != self._saved_writes or self._aws is None:
                self._aws = self.capture()
            captured = time.monotonic()
            path = write(self.folder, {"saved_at": time.time(), **self._aws, **parts})
            self._saved_writes, self._parts = writes, parts
            self.saves += 1
            log.debug("state saved: capture %.3f s, write %.3f s, %d KB", captured - started,
                      time.monotonic() - captured, path.stat().st_size // 1024)
            return True

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.save()
            except Exception:
                log.exception("saving the local state failed; trying again in %.0f s", self.interval)
