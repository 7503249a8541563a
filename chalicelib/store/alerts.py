"""Tables of the alerting feature: rules, firings (one per notification key), per-channel
deliveries, and small per-workspace markers (evaluation pending, digest sent).

A firing's range key is its business key ``alert:period:level``: creating it with
``does_not_exist()`` is what makes a notification happen at most once. Its deliveries are
created in the same transaction, one per channel, and move pending -> sending -> sent (or
failed -> ... -> dead) under conditions, so only one worker ever holds a channel's send.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.domain.alerts import Kind, Rule
from chalicelib.errors import NotFound
from chalicelib.store.base import BaseModel, table_meta, utcnow

# The key space of the alerts table: a workspace's rules and its members' digest subscriptions.
RULE_PREFIX = "al_"  # an alert rule: al_<random>
DIGEST_PREFIX = "digest_"  # a member's digest: digest_<user_id>


class AlertRule(BaseModel):
    """A rule (``al_…``) or a member's digest subscription (``digest_<user_id>``)."""

    Meta = table_meta("alerts")
    workspace_id = UnicodeAttribute(hash_key=True)
    alert_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute(default="active")  # active | paused
    config = JSONAttribute(default=dict)  # domain.alerts.Rule.config(); amounts as strings
    # Public part of each channel: {"channel_id", "type", "to" (email) | "hint" (URL types)}.
    channels = JSONAttribute(default=list)
    # URLs and webhook signing secrets, sealed under KMS and bound to this alert.
    sealed_channels = BinaryAttribute(null=True, legacy_encoding=False)
    snoozed_until = NumberAttribute(default=0)  # unix seconds; no new firings before it
    # Bumped when what the rule watches changes (amount, levels, scope...): firing keys carry it, so
    # a changed rule fires afresh in the current period.
    generation = NumberAttribute(default=0)
    created_by = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute(default=utcnow)
    updated_at = UTCDateTimeAttribute(default=utcnow)


class FiringsByTime(GlobalSecondaryIndex["Firing"]):
    """History, newest first. Sparse: merged budget levels have no ``fired_sort``."""

    class Meta:
        index_name = "by-time"
        projection = AllProjection()

    workspace_id = UnicodeAttribute(hash_key=True)
    fired_sort = UnicodeAttribute(range_key=True)


class Firing(BaseModel):
    Meta = table_meta("alert-firings")
    workspace_id = UnicodeAttribute(hash_key=True)
    firing_key = UnicodeAttribute(range_key=True)  # alert_id:period_key:level
    alert_id = UnicodeAttribute()
    alert_name = UnicodeAttribute(default="")
    kind = UnicodeAttribute()
    period_key = UnicodeAttribute()
    level = UnicodeAttribute()
    fired_at = UTCDateTimeAttribute(default=utcnow)
    fired_sort = UnicodeAttribute(null=True)  # "<fired_at iso>#<key>" for the index
    status = UnicodeAttribute(default="open")  # open | acknowledged | merged
    merged_into = UnicodeAttribute(null=True)  # a lower budget level notified with a higher one
    message = UnicodeAttribute(default="{}")  # domain.alert_messages.Notification JSON
    channel_ids = ListAttribute(of=UnicodeAttribute, default=list)
    test = BooleanAttribute(default=False)
    settled = BooleanAttribute(default=False)  # every delivery sent, dead or cancelled
    retry_queued = BooleanAttribute(default=False)  # failed sends were handed to the deliveries queue
    acknowledged_by = UnicodeAttribute(null=True)
    acknowledged_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    by_time = FiringsByTime()


class Delivery(BaseModel):
    Meta = table_meta("alert-deliveries")
    firing_id = UnicodeAttribute(hash_key=True)  # workspace_id#firing_key
    channel_id = UnicodeAttribute(range_key=True)
    workspace_id = UnicodeAttribute()
    channel_type = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")  # pending | sending | sent | failed | dead | cancelled | capped
    attempts = NumberAttribute(default=0)
    claim_token = UnicodeAttribute(null=True)
    claim_until = NumberAttribute(default=0)  # unix seconds; a crashed sender's claim lapses
    last_error = UnicodeAttribute(null=True)
    sent_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(default=utcnow)
    expires_at = TTLAttribute(null=True)
    # SMS only (services/sms_status.py): Twilio's message sid and status, and the email fallback.
    provider_id = UnicodeAttribute(null=True)
    sms_status = UnicodeAttribute(null=True)  # queued | sent | delivered | undelivered | failed
    sms_rank = NumberAttribute(null=True)  # statuses only move forward
    sms_error = UnicodeAttribute(null=True)  # Twilio's ErrorCode
    fallback = UnicodeAttribute(null=True)  # sending | sent | failed (the email after a failed SMS)
    fallback_until = NumberAttribute(default=0)


class AlertMarker(BaseModel):
    """``eval``: an evaluation of the workspace is queued; usage until then joins it (coalescing)."""

    Meta = table_meta("alert-markers")
    workspace_id = UnicodeAttribute(hash_key=True)
    marker = UnicodeAttribute(range_key=True)
    until = NumberAttribute(default=0)  # unix seconds
    expires_at = TTLAttribute(null=True)


def firing_id(workspace_id: str, key: str) -> str:
    return f"{workspace_id}#{key}"


def deliveries_of(firings: list[Firing]) -> dict[str, list[Delivery]]:
    """Each firing's deliveries by firing key, sorted by channel id as a Query returns them: one
    consistent BatchGetItem (per 100) for the channels each firing recorded with its deliveries
    (``channel_ids``, same transaction); a Query for a firing that names none (older items)."""
    out: dict[str, list[Delivery]] = {f.firing_key: [] for f in firings}
    keys = [(firing_id(f.workspace_id, f.firing_key), c) for f in firings for c in f.channel_ids or ()]
    by_id = {firing_id(f.workspace_id, f.firing_key): f.firing_key for f in firings}
    if keys:
        for d in Delivery.batch_get(keys, consistent_read=True):
            out[by_id[d.firing_id]].append(d)
    for f in firings:
        if not f.channel_ids:
            out[f.firing_key] = list(Delivery.query(firing_id(f.workspace_id, f.firing_key), consistent_read=True))
    for found in out.values():
        found.sort(key=lambda d: d.channel_id)
    return out


def visible_firing(workspace_id: str, key: str) -> Firing:
    """A firing as its workspace sees it: NotFound (404) when missing or merged into another."""
    try:
        f = Firing.get(workspace_id, key, consistent_read=True)
    except DoesNotExist:
        raise NotFound("no such firing") from None
    if f.status == "merged":
        raise NotFound("no such firing")
    return f


def rules(workspace_id: str, *, active_only: bool = False) -> list[AlertRule]:
    """The workspace's alert rules (digest subscriptions are not rules)."""
    found = AlertRule.query(workspace_id, AlertRule.alert_id.startswith(RULE_PREFIX), consistent_read=True)
    return [r for r in found if not active_only or r.status == "active"]


def has_active_rules(workspace_id: str) -> bool:
    found = AlertRule.query(workspace_id, AlertRule.alert_id.startswith(RULE_PREFIX),
                            AlertRule.status == "active", limit=1)
    return next(iter(found), None) is not None


def active_everywhere() -> tuple[set[str], list[AlertRule]]:
    """A scan of every active item: the workspaces with an active rule, and the active digests."""
    workspaces, digests = set(), []
    for r in AlertRule.scan(AlertRule.status == "active"):
        if r.alert_id.startswith(RULE_PREFIX):
            workspaces.add(r.workspace_id)
        elif r.kind == Kind.DIGEST:
            digests.append(r)
    return workspaces, digests


def rule_of(r: AlertRule) -> Rule:
    """The stored rule (or digest) as the domain's ``Rule``."""
    return Rule.from_config(r.workspace_id, r.alert_id, r.name, r.kind, r.config)
