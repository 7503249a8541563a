"""FOCUS 1.2 export: every mandatory column of the spec, the mapping of a point to a charge row."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain import focus_export
from chalicelib.domain.usage_query import UNATTRIBUTED, UsageQuery
from chalicelib.domain.usage_result import Point, Totals, UsageResult

# FOCUS 1.2 (https://focus.finops.org/focus-specification/v1-2/), the columns whose feature level is
# "Mandatory": a FOCUS dataset must carry each of them (a value may be null where the spec allows).
FOCUS_1_2_MANDATORY = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
)
# Mandatory columns that must never be empty.
NOT_NULL = ("BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
            "ChargeCategory", "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
            "EffectiveCost", "InvoiceIssuerName", "ListCost", "ProviderName", "PublisherName",
            "ServiceCategory", "ServiceName")
SERVICE_CATEGORIES = {
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
    "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other",
}
CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}


def point(period, group, spend, billed="0", estimated="0", units="0", events=0, currency="USD", unattributed=False):
    return Point(date.fromisoformat(period), tuple(group.items()), currency, Decimal(spend), Decimal(billed),
                 Decimal(estimated), Decimal(units), events, unattributed)


def result(points, start="2026-10-15", end="2026-11-20", granularity="day", group_by=("provider", "model", "project")):
    q = UsageQuery(date.fromisoformat(start), date.fromisoformat(end), granularity, tuple(group_by))
    return UsageResult(q, (), tuple(points), (Totals("USD", Decimal(0), Decimal(0), Decimal(0), Decimal(0), 0),))


def rows(res):
    return list(csv.DictReader(io.StringIO(focus_export.focus_csv(res, "ws_123"))))


def test_every_mandatory_focus_1_2_column_is_present_and_filled():
    res = result([
        point("2026-11-19", {"provider": "openai", "model": "gpt-4o-mini", "project": "proj_1"}, "1.25", billed="1.25"),
        point("2026-11-19", {"provider": "gcp", "model": "Compute Engine", "project": "acme-web"}, "-0.5",
              billed="-0.5"),
        point("2026-11-19", {"provider": "google", "model": "gemini-2.5-flash", "project": None}, "0.0075",
              events=3),
    ])
    out = rows(res)
    assert focus_export.FOCUS_VERSION == "1.2"
    assert set(FOCUS_1_2_MANDATORY) <= set(out[0])
    assert all(c in focus_export.COLUMNS for c in FOCUS_1_2_MANDATORY)
    for row in out:
        assert all(row[c] for c in NOT_NULL), row
        assert row["ServiceCategory"] in SERVICE_CATEGORIES and row["ChargeCategory"] in CHARGE_CATEGORIES
        assert row["BilledCost"] == row["EffectiveCost"] == row["ListCost"] == row["ContractedCost"]
        assert row["ChargePeriodStart"] == "2026-11-19T00:00:00Z" and row["ChargePeriodEnd"] == "2026-11-20T00:00:00Z"
        assert row["BillingPeriodStart"] == "2026-11-01T00:00:00Z" and row["BillingPeriodEnd"] == "2026-12-01T00:00:00Z"
    assert [r["ProviderName"] for r in out] == ["OpenAI", "Google Cloud", "Google"]
    assert [r["ServiceCategory"] for r in out] == ["AI and Machine Learning", "Compute", "AI and Machine Learning"]
    assert [r["ChargeCategory"] for r in out] == ["Usage", "Credit", "Usage"]
    assert [r["x_CostBasis"] for r in out] == ["bill", "bill", "events"]
    assert out[0]["SubAccountId"] == "proj_1" and out[2]["SubAccountId"] == ""
    assert sum(Decimal(r["BilledCost"]) for r in out) == Decimal("0.7575")


def test_monthly_periods_are_clipped_to_the_query_range():
    res = result([point("2026-10-01", {"provider": "anthropic", "model": "claude-sonnet-4", "project": "w1"}, "9")],
                 granularity="month")
    (row,) = rows(res)
    assert row["ChargePeriodStart"] == "2026-10-15T00:00:00Z" and row["ChargePeriodEnd"] == "2026-11-01T00:00:00Z"
    assert row["BillingPeriodStart"] == "2026-10-01T00:00:00Z"
    last = result([point("2026-11-01", {"provider": "anthropic", "model": "m", "project": "w1"}, "1")],
                  granularity="month")
    assert rows(last)[0]["ChargePeriodEnd"] == "2026-11-21T00:00:00Z"  # 'to' is inclusive


def test_tags_units_and_key_come_from_the_other_dimensions():
    group = {"provider": "openai", "model": "gpt-4o", "project": "web", "feature": "=HYPERLINK(\"x\")",
             "customer": "acme", "api_key": "key_1", "unit_type": "tokens"}
    res = result([point("2026-11-19", group, "2", estimated="2", units="1500", events=2)],
                 group_by=tuple(group))
    (row,) = rows(res)
    assert json.loads(row["Tags"]) == {"customer": "acme", "feature": "=HYPERLINK(\"x\")"}
    assert row["PricingQuantity"] == row["ConsumedQuantity"] == "1500" and row["PricingUnit"] == "tokens"
    assert row["ResourceId"] == "key_1" and row["SkuId"] == "gpt-4o" and row["x_Events"] == "2"


def test_without_a_unit_grouping_quantities_stay_empty_and_formulas_are_defused():
    res = result([point("2026-11-19", {"provider": "=cmd", "model": "+evil", "project": "@x"}, "1")])
    (row,) = rows(res)
    assert row["PricingQuantity"] == "" and row["PricingUnit"] == "" and row["ConsumedQuantity"] == ""
    assert row["ServiceName"] == "'+evil" and row["ProviderName"] == "'=cmd" and row["SubAccountId"] == "'@x"


def test_unattributed_remainders_are_described_not_named_as_a_model():
    group = {"provider": "openai", "model": None, "feature": UNATTRIBUTED}
    res = result([point("2026-11-19", group, "-3", billed="4", unattributed=True)],
                 group_by=("provider", "model", "feature"))
    (row,) = rows(res)
    assert row["ServiceName"] == "OpenAI" and row["SkuId"] == "" and "not attributed" in row["ChargeDescription"]
    assert row["ChargeCategory"] == "Usage" and row["Tags"] == "" and row["x_CostBasis"] == "bill"


@pytest.mark.parametrize(("requested", "expected"), [
    (None, "provider,model"),
    ("feature", "provider,model,feature"),
    ("model, customer,provider", "provider,model,customer"),
])
def test_focus_grouping_always_names_the_service(requested, expected):
    assert focus_export.group_by(requested) == expected
