"""Read and write cost of usage storage, in DynamoDB capacity units.

    python -m bench.usage_bench            # 1,000 and 1,000,000 events over 365 days
    python -m bench.usage_bench --quick    # 1,000 and 100,000

Events are written through the real store (chalicelib.store.pushed_events.add_events) into moto. moto
does not account capacity like DynamoDB, so units are computed from the items actually stored,
with DynamoDB's documented sizing: an item's size is the sum of its attribute names and values
(strings and binaries by length, numbers ~1 byte per 2 significant digits + 1); a Query costs
0.5 RCU per 4 KB of the items it returns, summed (eventually consistent); a transactional write
costs 2 WCU per 1 KB of each item written, taking the larger of its size before and after (a
plain PutItem/DeleteItem 1 WCU per 1 KB).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update({"COSTPILOT_STAGE": "bench", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
                   "AWS_SECRET_ACCESS_KEY": "bench"})
os.environ.pop("AWS_ENDPOINT_URL", None)

PROVIDERS = {"openai": ["gpt-4o", "gpt-4o-mini", "o3-mini"], "anthropic": ["claude-sonnet-4", "claude-haiku-3.5"]}
PROJECTS = ["web", "api", "batch", "internal"]
FEATURES = ["search", "chat", "summarise", "classify", "extract"]
CUSTOMERS = [f"cus_{i:03d}" for i in range(40)]


def size_of_value(v: dict) -> int:
    (kind, value), = v.items()
    if kind == "S":
        return len(value.encode())
    if kind == "B":
        return len(value)
    if kind == "N":
        digits = len(value.replace("-", "").replace(".", "").strip("0")) or 1
        return math.ceil(digits / 2) + 1
    return len(str(value))


def item_size(item: dict | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + size_of_value(v) for name, v in item.items())


class Meter:
    """Wraps the store's DynamoDB client: prices queries and transactions from real item sizes."""

    def __init__(self, client):
        self.client = client
        self.read_units = 0.0
        self.items_read = 0
        self.write_units = 0.0
        self.id_read_units = 0.0  # reads of the duplicate check (strongly consistent: 1 RCU per 4 KB)
        self.write_units_by_kind: dict[str, float] = {}  # sort-key prefix (rec, af, pd, eid, ...) -> WCU

    def __getattr__(self, name):
        return getattr(self.client, name)

    def query(self, **kwargs):
        page = self.client.query(**kwargs)
        if kwargs.get("TableName", "").endswith("usage-rollups") and "ProjectionExpression" not in kwargs:
            size = sum(item_size(i) for i in page.get("Items", []))
            self.read_units += math.ceil(size / 4096) * 0.5
            self.items_read += len(page.get("Items", []))
        elif kwargs.get("ConsistentRead") and kwargs.get("TableName", "").endswith("usage-records"):
            self.id_read_units += math.ceil(sum(item_size(i) for i in page.get("Items", [])) / 4096)
        return page

    def batch_get_item(self, RequestItems, **kwargs):
        page = self.client.batch_get_item(RequestItems=RequestItems, **kwargs)
        self.id_read_units += sum(len(keys["Keys"]) for keys in RequestItems.values())  # 4 KB each
        return page

    def _plain_write(self, table: str, key: dict, size: int) -> None:
        before = item_size(self.client.get_item(TableName=table, Key=key).get("Item"))
        units = math.ceil(max(before, size, 1) / 1024)  # a plain write: 1 WCU per 1 KB
        self.write_units += units
        kind = key["sk"]["S"].split("#", 1)[0]
        self.write_units_by_kind[kind] = self.write_units_by_kind.get(kind, 0) + units

    def put_item(self, TableName, Item, **kwargs):
        self._plain_write(TableName, {"pk": Item["pk"], "sk": Item["sk"]}, item_size(Item))
        return self.client.put_item(TableName=TableName, Item=Item, **kwargs)

    def delete_item(self, TableName, Key, **kwargs):
        self._plain_write(TableName, Key, 0)
        return self.client.delete_item(TableName=TableName, Key=Key, **kwargs)

    def transact_write_items(self, TransactItems, **kwargs):
        keys = []
        for entry in TransactItems:
            (_op, body), = entry.items()
            key = body.get("Key") or {"pk": body["Item"]["pk"], "sk": body["Item"]["sk"]}
            before = self.client.get_item(TableName=body["TableName"], Key=key).get("Item")
            keys.append((body["TableName"], key, item_size(before)))
        result = self.client.transact_write_items(TransactItems=TransactItems, **kwargs)
        for table, key, before in keys:
            after = item_size(self.client.get_item(TableName=table, Key=key).get("Item"))
            units = 2 * math.ceil(max(before, after, 1) / 1024)
            self.write_units += units
            kind = key["sk"]["S"].split("#", 1)[0]
            self.write_units_by_kind[kind] = self.write_units_by_kind.get(kind, 0) + units
        return result


def events(workspace_id: str, n: int, start: date, days: int, rng: random.Random):
    from chalicelib.domain.usage import RecordKind, UsageRecord

    per_day = [n // days + (1 if i < n % days else 0) for i in range(days)]
    counter = 0
    for offset, count in enumerate(per_day):
        day = datetime.combine(start + timedelta(days=offset), datetime.min.time(), UTC)
        batch = []
        for _ in range(count):
            provider = rng.choice(list(PROVIDERS))
            at = day + timedelta(seconds=rng.randrange(86400))
            counter += 1
            batch.append(UsageRecord(
                workspace_id, RecordKind.EVENT, "push:bench", provider, at, at + timedelta(seconds=1),
                model=rng.choice(PROVIDERS[provider]), unit_type="tokens", units=Decimal(rng.randrange(100, 5000)),
                billed_cost=Decimal(rng.randrange(1, 200_000)) / Decimal(10**7), project=rng.choice(PROJECTS),
                feature=rng.choice(FEATURES), customer=rng.choice(CUSTOMERS), idempotency_id=f"evt-{counter}"))
            if len(batch) == 1000:
                yield batch
                batch = []
        if batch:
            yield batch


def run(n: int, days: int = 365) -> dict:
    from chalicelib.domain.usage_query import UsageQuery
    from chalicelib.services import usage_queries
    from chalicelib.store import pushed_events, usage

    workspace_id = f"ws_bench_{n}"
    start = date(2025, 1, 1)
    rng = random.Random(n)
    meter = Meter(usage._db())
    usage._db = lambda: meter
    started = time.perf_counter()
    written = 0
    last_day_wcu = []
    for batch in events(workspace_id, n, start, days, rng):
        before = meter.write_units
        pushed_events.add_events(workspace_id, batch)
        written += len(batch)
        if batch[0].day >= (start + timedelta(days=days - 30)).isoformat():
            last_day_wcu.append((meter.write_units - before) * 1000 / len(batch))
    ingest_s = time.perf_counter() - started
    out = {"events": n, "ingest_s": ingest_s, "wcu_per_1000": meter.write_units * 1000 / written,
           "id_rcu_per_1000": meter.id_read_units * 1000 / written,
           "wcu_per_1000_last_month": sum(last_day_wcu) / len(last_day_wcu)}
    end = start + timedelta(days=days - 1)
    for granularity in ("day", "month"):
        meter.read_units, meter.items_read = 0.0, 0
        result = usage_queries.run(workspace_id, UsageQuery(start, end, granularity, ("provider", "model")))
        out[f"{granularity}_items"], out[f"{granularity}_rcu"] = meter.items_read, meter.read_units
        out["total"] = result.totals[0].spend
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 instead of 1,000,000 events")
    parser.add_argument("--sizes", type=int, nargs="*", help="event counts to run")
    parser.add_argument("--days", type=int, default=365, help="days the events are spread over (default 365)")
    args = parser.parse_args()
    import boto3
    from moto import mock_aws

    from devstack import moto_fixes
    from devstack.provision import provision

    moto_fixes.install()
    sizes = args.sizes or [1_000, 100_000 if args.quick else 1_000_000]
    with mock_aws():
        provision(boto3.session.Session(region_name="us-east-1"), {"Stage": "bench"})
        rows = [run(n, args.days) for n in sizes]
    print(f"events over {args.days} days in batches of 1,000, then a {args.days}-day query grouped by provider and "
          "model; units from stored item sizes (see docstring)")
    print(f"{'events':>10} {'ingest s':>9} {'WCU/1000 ev':>12} {'(last 30 d)':>12} {'day items':>10} {'day RCU':>8} "
          f"{'month items':>12} {'month RCU':>10} {'id-check RCU/1000':>18}  total spend")
    for r in rows:
        print(f"{r['events']:>10,} {r['ingest_s']:>9.1f} {r['wcu_per_1000']:>12.1f} "
              f"{r['wcu_per_1000_last_month']:>12.1f} {r['day_items']:>10} {r['day_rcu']:>8.1f} "
              f"{r['month_items']:>12} {r['month_rcu']:>10.1f} {r['id_rcu_per_1000']:>18.1f}  {r['total']}")
    small, large = rows[0], rows[-1]
    print(f"aim: large query reads <= 1.1x small (day: {large['day_rcu'] / max(small['day_rcu'], 0.5):.2f}x, "
          f"month: {large['month_rcu'] / max(small['month_rcu'], 0.5):.2f}x), under 100 RCU "
          f"(day {large['day_rcu']:.1f}, month {large['month_rcu']:.1f}); under 100 WCU per 1,000 events "
          f"({large['wcu_per_1000']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
