"""Fake AWS Cost Explorer for the local stack: a boto3-``ce``-shaped object, not a server.

Cost Explorer is reached through boto3, so the fake plugs in through the client's session factory
(``FakeCostExplorer.session_factory``). It answers ``get_cost_and_usage`` (DAILY, UnblendedCost,
grouped by SERVICE) from a seeded ledger with ``NextPageToken`` paging and raises real
``botocore`` ``ClientError``s for injected faults. Tests that need the real ``ce`` model's
validation use ``botocore.stub.Stubber`` instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

SERVICES = ("AWS Lambda", "Amazon DynamoDB", "Amazon Simple Queue Service", "AWS Key Management Service")


class FakeCostExplorer:
    def __init__(self, *, seed: int = 0, now: Callable[[], datetime] | None = None, history_days: int = 45,
                 page_days: int = 10) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self.page_days = page_days
        self.calls: list[dict[str, Any]] = []
        self._faults: list[tuple[str, str]] = []
        rng = random.Random(seed)
        today = self._now().astimezone(UTC).date()
        self.costs: dict[tuple[date, str], Decimal] = {
            (today - timedelta(days=n), service): Decimal(rng.randint(0, 5_000_000)).scaleb(-7)
            for n in range(history_days + 1)
            for service in SERVICES
        }

    def fail_next(self, code: str = "LimitExceededException", message: str = "Rate exceeded") -> None:
        self._faults.append((code, message))

    def billed_total(self) -> Decimal:
        return sum(self.costs.values(), Decimal(0))

    def session_factory(self, **credentials: Any) -> Any:
        fake = self

        class _Session:
            def client(self, name: str, **kwargs: Any) -> Any:
                if name != "ce":
                    raise NotImplementedError(f"the fake session has no {name} client")
                return fake

        return _Session()

    def get_cost_and_usage(self, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls.append(request)
        if self._faults:
            code, message = self._faults.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": message},
                               "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "fake-req"}},
                              "GetCostAndUsage")
        first = date.fromisoformat(request["TimePeriod"]["Start"])
        end = date.fromisoformat(request["TimePeriod"]["End"])
        offset = int(request.get("NextPageToken") or 0)
        days = [first + timedelta(days=n) for n in range((end - first).days)]
        chosen = days[offset:offset + self.page_days]
        today = self._now().astimezone(UTC).date()
        response: dict[str, Any] = {
            "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()},
                    "Total": {},
                    "Groups": [
                        {"Keys": [s], "Metrics": {"UnblendedCost": {"Amount": format(self.costs[(d, s)], "f"),
                                                                     "Unit": "USD"}}}
                        for s in SERVICES if (d, s) in self.costs
                    ],
                    "Estimated": d >= today - timedelta(days=1),
                }
                for d in chosen
            ],
            "DimensionValueAttributes": [],
        }
        if offset + self.page_days < len(days):
            response["NextPageToken"] = str(offset + self.page_days)
        return response
