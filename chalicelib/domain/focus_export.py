"""A usage query result as a FinOps FOCUS 1.2 cost and usage dataset (CSV), for finance tools.

One row per point of the result: a period (the charge period, clipped to the query's range) and a
(provider, model, ...) group in one currency. The route always groups by provider and model so
rows name a service; other dimensions the user groups by go to ``SubAccountId`` (``project``),
``Tags`` (``feature``, ``customer``), ``ResourceId`` (``api_key``) and the pricing unit
(``unit_type``). Grouping by a pushed tag (project, feature, customer) attributes the bills, and
what the events do not explain is one row per provider (``ChargeDescription`` says so).

Mapping (FOCUS 1.2, https://focus.finops.org/focus-specification/v1-2/):
- ``BilledCost`` = ``EffectiveCost`` = the point's spend: the provider's bill where a connection
  reports it, else the pushed events' cost (their own or the catalogue estimate). We hold no list
  or negotiated prices, so ``ListCost`` and ``ContractedCost`` equal it too (the spec's rule when no
  discount applies). ``x_CostBasis`` says which it is: ``bill`` (a synced provider bill, or its
  unattributed remainder) or ``events`` (pushed events' reported or catalogue-estimated cost).
- ``BillingAccountId``/``Name``: the CostPilot workspace, which gathers the providers' accounts;
  ``SubAccountId``: the provider's project (OpenAI project, Anthropic workspace, GCP project).
- ``BillingPeriodStart``/``End``: the calendar month (UTC) of the charge period's start.
- ``ChargeCategory`` ``Usage`` (``Credit`` for a negative billed line, e.g. credits exceeding the
  cost of a Google Cloud SKU), ``ChargeClass`` empty (not a
  correction of an invoiced period), ``ChargeFrequency`` ``Usage-Based``.
- ``ProviderName`` / ``PublisherName`` / ``InvoiceIssuerName``: the vendor that bills it.
- ``PricingQuantity``/``PricingUnit`` and ``ConsumedQuantity``/``ConsumedUnit`` only when grouped
  by ``unit_type`` (summing units of different kinds means nothing).

Text cells a spreadsheet would run as a formula are prefixed with ``'`` (tags come from clients).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta

from chalicelib.domain.money import to_str
from chalicelib.domain.usage_query import UNATTRIBUTED
from chalicelib.domain.usage_result import Point, UsageResult

FOCUS_VERSION = "1.2"
REQUIRED_GROUP_BY = ("provider", "model")
COLUMNS = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ChargePeriodEnd", "ChargePeriodStart", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit", "ProviderName",
    "PublisherName", "ResourceId", "ServiceCategory", "ServiceName", "SkuId", "SubAccountId", "Tags",
    "x_CostBasis", "x_Events",
)
# provider id -> the vendor's name as it appears on the invoice
VENDORS = {
    "openai": "OpenAI", "anthropic": "Anthropic", "gcp": "Google Cloud", "google": "Google",
    "gemini": "Google", "google-vertex": "Google Cloud", "aws": "Amazon Web Services", "twilio": "Twilio",
    "stripe": "Stripe",
}
# FOCUS ServiceCategory by provider, and by service name for the clouds
_PROVIDER_CATEGORY = {"openai": "AI and Machine Learning", "anthropic": "AI and Machine Learning",
                      "google": "AI and Machine Learning", "gemini": "AI and Machine Learning",
                      "twilio": "Integration", "stripe": "Business Applications"}
_SERVICE_CATEGORY = (
    (("gemini", "gemma", "imagen", "vertex", "bedrock", "sagemaker", "claude", "gpt"), "AI and Machine Learning"),
    (("compute", "ec2", "lambda", "kubernetes", "cloud run", "functions", "fargate"), "Compute"),
    (("storage", "s3", "glacier"), "Storage"),
    (("bigquery", "athena", "redshift", "dataflow", "kinesis"), "Analytics"),
    (("sql", "dynamodb", "spanner", "firestore", "rds", "bigtable"), "Databases"),
    (("network", "cloudfront", "load balanc", "vpc", "dns", "cdn"), "Networking"),
    (("logging", "monitoring", "cloudwatch"), "Management and Governance"),
)
_TAG_DIMENSIONS = ("feature", "customer")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def group_by(requested: str | None) -> str:
    """The ``group_by`` a FOCUS export runs with: the user's dimensions plus provider, model, project."""
    given = [d.strip() for d in (requested or "").split(",") if d.strip()]
    return ",".join([*REQUIRED_GROUP_BY, *(d for d in given if d not in REQUIRED_GROUP_BY)])


def service_category(provider: str | None, service: str | None) -> str:
    if provider in _PROVIDER_CATEGORY:
        return _PROVIDER_CATEGORY[provider]
    name = (service or "").lower()
    for words, category in _SERVICE_CATEGORY:
        if any(w in name for w in words):
            return category
    return "Other"


def focus_rows(result: UsageResult, workspace_id: str, workspace_name: str | None = None) -> list[dict[str, str]]:
    """The dataset as dicts keyed by ``COLUMNS`` (every value a string; empty = null)."""
    return [_row(point, result, workspace_id, workspace_name or workspace_id) for point in result.series]


def focus_csv(result: UsageResult, workspace_id: str, workspace_name: str | None = None) -> str:
    """The whole CSV document (RFC 4180: CRLF line ends, quoted where needed)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(focus_rows(result, workspace_id, workspace_name))
    return out.getvalue()


def filename(result: UsageResult, workspace_id: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in workspace_id)[:64]
    q = result.query
    return f"focus-{FOCUS_VERSION}-{safe}-{q.start.isoformat()}-{q.end.isoformat()}.csv"


def _row(point: Point, result: UsageResult, workspace_id: str, workspace_name: str) -> dict[str, str]:
    group = dict(point.group)
    provider, model = group.get("provider"), group.get("model")
    start, end = _charge_period(point, result)
    month = start.replace(day=1)
    vendor = VENDORS.get(provider or "", provider or "")
    service = model if model and model != UNATTRIBUTED else vendor
    spend = to_str(point.spend)
    by_unit = "unit_type" in group and group["unit_type"] is not None
    tags = {d: group[d] for d in _TAG_DIMENSIONS if group.get(d) not in (None, UNATTRIBUTED)}
    return {
        "BilledCost": spend,
        "BillingAccountId": _text(workspace_id),
        "BillingAccountName": _text(workspace_name),
        "BillingCurrency": point.currency,
        "BillingPeriodEnd": _timestamp(_next_month(month)),
        "BillingPeriodStart": _timestamp(month),
        "ChargeCategory": "Credit" if point.spend < 0 and not point.unattributed else "Usage",
        "ChargeClass": "",
        "ChargeDescription": _text(_description(vendor, model, point.unattributed)),
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _timestamp(end),
        "ChargePeriodStart": _timestamp(start),
        "ConsumedQuantity": to_str(point.units) if by_unit else "",
        "ConsumedUnit": _text(group["unit_type"]) if by_unit else "",
        "ContractedCost": spend,
        "EffectiveCost": spend,
        "InvoiceIssuerName": _text(vendor),
        "ListCost": spend,
        "PricingQuantity": to_str(point.units) if by_unit else "",
        "PricingUnit": _text(group["unit_type"]) if by_unit else "",
        "ProviderName": _text(vendor),
        "PublisherName": _text(vendor),
        "ResourceId": _text(group.get("api_key")),
        "ServiceCategory": service_category(provider, service),
        "ServiceName": _text(service),
        "SkuId": _text(None if model == UNATTRIBUTED else model),
        "SubAccountId": _text(None if group.get("project") == UNATTRIBUTED else group.get("project")),
        "Tags": json.dumps(tags, sort_keys=True, separators=(",", ":")) if tags else "",
        "x_CostBasis": _basis(point),
        "x_Events": str(point.events),
    }


def _charge_period(point: Point, result: UsageResult) -> tuple[date, date]:
    """[start, end) of the point's period, clipped to the query's days (``end`` exclusive)."""
    q = result.query
    if q.granularity == "day":
        period_end = point.period + timedelta(days=1)
    elif q.granularity == "week":
        period_end = point.period + timedelta(days=7)
    else:
        period_end = _next_month(point.period)
    return max(point.period, q.start), min(period_end, q.end + timedelta(days=1))


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _timestamp(day: date) -> str:
    return datetime.combine(day, time(0)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _description(vendor: str, model: str | None, unattributed: bool) -> str:
    if unattributed:
        return f"{vendor} spend not attributed by pushed events"
    return f"{model} ({vendor})" if model else f"{vendor} usage"


def _basis(point: Point) -> str:
    """Where the figure comes from: the provider's bill, or pushed events (their cost or estimate)."""
    return "events" if point.events and not point.billed else "bill"


def _text(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value
