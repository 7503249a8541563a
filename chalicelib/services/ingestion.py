"""Usage pushed from a team's own code: ingest keys, request authentication, and the batch ingest.

A request is authenticated by a bearer ingest key or by an HMAC signature (domain.signatures);
the batch is parsed exactly (domain.ingest: no float anywhere), events without a cost are priced
from the catalogue, and the store writes only events whose idempotency id it has not seen. The
response reports each event: accepted, duplicate, or rejected with the field and reason.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import config
from chalicelib.adapters import kms_secrets
from chalicelib.domain import ingest, pricing, signatures
from chalicelib.domain.plans import Limit
from chalicelib.errors import NotFound, PayloadTooLarge, Unauthenticated, ValidationFailed
from chalicelib.services import alert_queue, counters, plan_limits
from chalicelib.store import pushed_events
from chalicelib.store.base import cancelled_by_condition
from chalicelib.store.identity import Membership
from chalicelib.store.ingest_keys import IngestKey

log = logging.getLogger("costpilot.ingestion")
SIGNING_PURPOSE = "costpilot-ingest-signing"


def _view(k: IngestKey) -> dict:
    return {
        "key_id": k.key_id,
        "name": k.name,
        "prefix": k.key_id,
        "signing_kid": k.signing_kid,
        "created_at": k.created_at.isoformat(),
        "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
        "revoked": k.revoked_at is not None,
        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
    }


def create_key(m: Membership, name: str) -> dict:
    """A new key pair. The bearer key and the signing secret are shown now and never again."""
    key = signatures.generate_ingest_key()
    secret = signatures.generate_signing_secret()
    key_id = signatures.public_prefix(key)
    record = IngestKey(
        key_id, workspace_id=m.workspace_id, name=name, key_hash=signatures.hash_ingest_key(key),
        signing_kid=signatures.public_prefix(secret), created_by=m.user_id,
        signing_secret=kms_secrets.seal({"secret": secret}, m.workspace_id, key_id, SIGNING_PURPOSE),
    )
    counters.change(m.workspace_id, Limit.INGEST_KEYS, +1,
                    lambda t: t.save(record, condition=IngestKey.key_id.does_not_exist()))
    return {**_view(record), "key": key, "signing_secret": secret,
            "note": "Store these now: CostPilot keeps only a hash of the key and cannot show either again."}


def list_keys(m: Membership) -> list[dict]:
    return [_view(k) for k in IngestKey.by_workspace.query(m.workspace_id)]


def revoke_key(m: Membership, key_id: str) -> dict:
    try:
        k = IngestKey.get(key_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("ingest key not found") from None
    if k.workspace_id != m.workspace_id:
        raise NotFound("ingest key not found")
    if k.revoked_at is None:
        revoked_at = datetime.now(UTC)
        try:
            counters.change(m.workspace_id, Limit.INGEST_KEYS, -1, lambda t: t.update(
                k, actions=[IngestKey.revoked_at.set(revoked_at)], condition=IngestKey.revoked_at.does_not_exist()))
        except TransactWriteError as e:
            if not any(cancelled_by_condition(e)):
                raise
            k = IngestKey.get(key_id, consistent_read=True)  # revoked meanwhile: one revoke counts
        else:
            k.revoked_at = revoked_at
    return _view(k)


def authenticate(headers: dict, raw_body: bytes, now: datetime) -> IngestKey:
    """The live ingest key behind a request (bearer key, else a signature with its ``kid``)."""
    bearer = signatures.bearer_token(headers.get("authorization"))
    signature = headers.get(signatures.SIGNATURE_HEADER.lower())
    if bearer:
        if not signatures.is_ingest_key(bearer):
            raise Unauthenticated("not an ingest key")
        key = _load(signatures.public_prefix(bearer))
        if key is None or not signatures.verify_ingest_key(bearer, key.key_hash):
            raise Unauthenticated("unknown ingest key")
    elif signature:
        try:
            parsed = signatures.parse_signature_header(signature)
        except signatures.SignatureError as e:
            raise Unauthenticated(f"signature {e.reason}: {e}") from None
        key = next(iter(IngestKey.by_signing_kid.query(parsed.key_id or "-")), None) if parsed.key_id else None
        if key is None:
            raise Unauthenticated("signature needs the kid of a known signing secret")
        secret = kms_secrets.open_secret(key.signing_secret, key.workspace_id, key.key_id, SIGNING_PURPOSE)["secret"]
        try:
            signatures.verify_signature(signature, raw_body, [secret], now)
        except signatures.SignatureError as e:
            raise Unauthenticated(f"signature {e.reason}: {e}") from None
    else:
        raise Unauthenticated(f"send an ingest key (Authorization: Bearer) or a {signatures.SIGNATURE_HEADER} header")
    if key.revoked_at is not None:
        raise Unauthenticated("this ingest key was revoked")
    return key


def _load(key_id: str) -> IngestKey | None:
    try:
        return IngestKey.get(key_id, consistent_read=True)
    except DoesNotExist:
        return None


def _estimate(provider: str, model: str | None, **tokens: Any):
    return pricing.estimate_cost(provider, model, **tokens)


def ingest_batch(headers: dict, raw_body: bytes, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    if len(raw_body or b"") > ingest.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body over {ingest.MAX_BODY_BYTES} bytes", field="body")
    key = authenticate(headers, raw_body or b"", now)
    try:
        outcomes = ingest.parse_events(
            ingest.decode_body(raw_body or b""), workspace_id=key.workspace_id, source=f"push:{key.key_id}",
            now=now, estimate_cost=_estimate, retention_days=config.retention_days(),
        )
    except ingest.BatchError as e:
        if e.code == "body_too_large":
            raise PayloadTooLarge(e.message, field=e.field) from None
        raise ValidationFailed(e.message, field=e.field, details={"reason": e.code}) from None
    accepted = [o for o in outcomes if o.status is ingest.Status.ACCEPTED]
    stored = _store(key.workspace_id, [o.record for o in accepted], now) if accepted else None
    duplicates = set(stored.duplicates) if stored else set()
    outcomes = [o.as_duplicate() if o.status is ingest.Status.ACCEPTED and o.id in duplicates else o
                for o in outcomes]
    key.update(actions=[IngestKey.last_used_at.set(now)])
    counts = ingest.summary(outcomes)
    if counts["accepted"]:
        alert_queue.usage_changed(key.workspace_id, source=f"push:{key.key_id}")
    log.info("ingest %s via %s: %s", key.workspace_id, key.key_id, counts)
    return {"workspace_id": key.workspace_id, "summary": counts, "events": [o.to_json() for o in outcomes]}


def _store(workspace_id: str, records: list, now: datetime):
    """Stores the events not stored before; the fresh ones count against this month's quota
    (the month they are written in, whatever their timestamps), in the same transaction."""
    plan = plan_limits.current_plan(workspace_id)
    try:
        return pushed_events.add_events(workspace_id, records, quota=plan.limit(Limit.EVENTS_PER_MONTH),
                                        month=pushed_events.month_of(now))
    except pushed_events.QuotaExceeded as e:
        plan_limits.check_event_quota(workspace_id, e.used, e.adding)  # raises PlanLimitExceeded (402)
        raise

