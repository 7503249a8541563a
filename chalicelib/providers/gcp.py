"""Google Cloud (and Gemini, Vertex AI) spend from the customer's Cloud Billing export in BigQuery.

Google has no spend API (providers.md section 6): the customer enables Cloud Billing export to a
BigQuery dataset and gives a service account ``roles/bigquery.dataViewer`` on that dataset and
``roles/bigquery.jobUser`` on the project. We talk to BigQuery's REST API over httpx:

- ``tables.list`` on the dataset finds the export tables: per billing account the detailed
  ``gcp_billing_export_resource_v1_<account>`` when present, else the standard
  ``gcp_billing_export_v1_<account>``. A 404 (no such dataset) is ``MissingResource``.
- ``jobs.query`` runs one aggregate per table; a job not done within ``timeoutMs`` is polled with
  ``jobs.getQueryResults``, and rows are paged by ``pageToken``. ``verify`` sends the same query
  as a dry run (free: BigQuery only plans it), which proves every permission a sync needs.

The query: daily ``COST`` per service, SKU and project, net of credits (``cost`` plus the sum of
``credits.amount``), in the export's currency. FLOAT64 columns are cast to NUMERIC (9 decimal
places) before summing so the sum is exact, and BigQuery sends NUMERIC as a decimal string, read
as ``Decimal``. Rows are chosen by ``usage_start_time`` (UTC days) and pruned by ``_PARTITIONTIME``
from a day before the window (Google partitions by a day that is never before the usage day less
one; the exact partition rule is UNCONFIRMED, so the filter is only a lower bound): a sync scans
the partitions from its window's start to today, never the whole table. Late corrections (a
later ``export_time``) land under their usage day, which each sync stores whole (the replace-the-
day rule); a row billed on another invoice month than its usage day keeps ``invoice_month``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.usage import UsageRecord
from chalicelib.providers._parse import day_cost, merge_duplicates
from chalicelib.providers._window import DAY, day_floor, day_window
from chalicelib.providers.base import HttpProvider, sync_source
from chalicelib.providers.errors import BadRequest, MissingResource, TransientError
from chalicelib.providers.gcp_auth import TOKEN_URL, ServiceAccountAuth, TokenAuth, parse_key
from chalicelib.providers.gcp_federation import (
    IAM_CREDENTIALS_URL,
    STS_URL,
    FederatedAuth,
    parse_external_account,
    role_credentials,
    role_region,
)
from chalicelib.providers.http import ProviderHTTP, build_http_client

BASE_URL = "https://bigquery.googleapis.com"
API = "/bigquery/v2"
PAGE_MAX = 10_000  # rows per page we ask for (BigQuery also caps a page at ~10 MB)
QUERY_TIMEOUT_MS = 10_000  # how long one call waits for the job server-side
MAX_POLLS = 30  # getQueryResults calls before a job counts as stuck (~5 minutes)
PROJECT = re.compile(r"^(?:[a-z][a-z0-9.-]{0,61}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
EXPORT_TABLE = re.compile(r"^gcp_billing_export_(resource_)?v1_([A-Za-z0-9_]+)$")
# SKU descriptions that name a model: "Gemini 2.5 Flash Input Text Tokens", "Imagen 3 Generation"
_MODEL_PATTERNS = (
    (re.compile(r"\bGemini\s+(\d+(?:\.\d+)?)\s+(Pro|Flash[- ]Lite|Flash|Ultra|Nano)\b", re.IGNORECASE),
     "gemini-{0}-{1}"),
    (re.compile(r"\bGemma\s+(\d+(?:\.\d+)?)\b", re.IGNORECASE), "gemma-{0}"),
    (re.compile(r"\bImagen\s+(\d+(?:\.\d+)?)\b", re.IGNORECASE), "imagen-{0}"),
)
_MODEL_SERVICES = frozenset({"Vertex AI", "Gemini API", "Generative Language API"})

QUERY = """
SELECT
  DATE(usage_start_time) AS usage_day,
  service.description AS service,
  sku.id AS sku_id,
  sku.description AS sku,
  project.id AS project_id,
  currency,
  invoice.month AS invoice_month,
  SUM(CAST(cost AS NUMERIC)) AS cost,
  SUM(IFNULL((SELECT SUM(CAST(c.amount AS NUMERIC)) FROM UNNEST(credits) AS c), 0)) AS credits,
  SUM(CAST(usage.amount_in_pricing_units AS NUMERIC)) AS pricing_quantity,
  ANY_VALUE(usage.pricing_unit) AS pricing_unit,
  MAX(export_time) AS last_export_time
FROM `{table}`
WHERE _PARTITIONTIME >= TIMESTAMP(@partition_start)
  AND usage_start_time >= TIMESTAMP(@start) AND usage_start_time < TIMESTAMP(@end)
GROUP BY usage_day, service, sku_id, sku, project_id, currency, invoice_month
ORDER BY usage_day, service, sku_id, project_id, invoice_month
""".strip()
COLUMNS = ("usage_day", "service", "sku_id", "sku", "project_id", "currency", "invoice_month", "cost", "credits",
           "pricing_quantity", "pricing_unit", "last_export_time")


def model_name(service: str, sku: str) -> str:
    """The model a SKU bills (``gemini-2.5-flash``), else the service (``Compute Engine``)."""
    if service in _MODEL_SERVICES or "gemini" in sku.lower():
        for pattern, template in _MODEL_PATTERNS:
            if match := pattern.search(sku):
                return template.format(*(g.lower().replace(" ", "-") for g in match.groups()))
    return service


class GcpBillingClient(HttpProvider):
    provider = "gcp"
    base_url = BASE_URL

    def __init__(self, service_account_key: str | None = None, project: str = "", dataset: str = "", *,
                 external_account: str | None = None, token_url: str | None = None, **options: Any) -> None:
        if not PROJECT.match(project or ""):
            raise ValueError("project must be a Google Cloud project id")
        if not DATASET.match(dataset or ""):
            raise ValueError("dataset must be a BigQuery dataset id")
        if (service_account_key is None) == (external_account is None):
            raise ValueError("give a service account key or an external account configuration, not both")
        self.project, self.dataset = project, dataset
        token_client = build_http_client("", transport=options.get("transport"))
        sleep = {"sleep": options["sleep"]} if "sleep" in options else {}
        clock = lambda: self._now().timestamp()  # noqa: E731
        emulator = options.get("base_url")  # the local stack's fake also answers the token exchanges
        secrets: tuple[str, ...] = ()
        if external_account is not None:
            account = parse_external_account(external_account)
            self._auth: TokenAuth = FederatedAuth(
                account, token_client, aws_credentials=options.pop("aws_credentials", role_credentials),
                region=options.pop("aws_region", None) or role_region(),
                sts_url=f"{emulator}/sts/v1/token" if emulator else STS_URL,
                iam_url=f"{emulator}/iamcredentials" if emulator else IAM_CREDENTIALS_URL,
                policy=options.get("policy"), clock=clock, **sleep)
            self._key: object = account
        else:
            key = parse_key(service_account_key or "")
            token_http = ProviderHTTP(self.provider, token_client, policy=options.get("policy"), **sleep)
            if token_url is None:
                token_url = f"{emulator}/token" if emulator else TOKEN_URL
            self._auth = ServiceAccountAuth(key, token_http, token_url, clock=clock)
            self._key, secrets = key, (key.private_key_id,)
        super().__init__(auth=self._auth, secrets=secrets, **options)
        self._tables: list[str] | None = None

    def __repr__(self) -> str:
        return f"GcpBillingClient(project={self.project!r}, dataset={self.dataset!r}, key={self._key!r})"

    # -- the ProviderClient interface ----------------------------------------------------------

    def verify(self) -> None:
        """Finds the export table(s) and dry-runs yesterday's query: free, and proves access."""
        today = day_floor(self._now())
        for table in self.export_tables():
            self._post_query(table, today - DAY, today, dry_run=True)

    def fetch(self, workspace_id: str, connection_id: str, start: datetime, end: datetime) -> list[UsageRecord]:
        window = day_window(start, end, self._now())
        if window is None:
            return []
        source = sync_source(connection_id)
        records = [
            self._record(workspace_id, source, row)
            for table in self.export_tables()
            for row in self._rows(table, *window)
        ]
        return merge_duplicates(records)

    # -- tables --------------------------------------------------------------------------------

    def export_tables(self) -> list[str]:
        """``project.dataset.table`` of each billing account's export, the detailed one preferred
        (listed once per client: a client lives for one connect or one sync)."""
        if self._tables is None:
            self._tables = self._list_export_tables()
        return self._tables

    def _list_export_tables(self) -> list[str]:
        r = self._read
        by_account: dict[str, tuple[bool, str]] = {}
        path = f"{API}/projects/{self.project}/datasets/{self.dataset}/tables"
        page: str | None = None
        seen: set[str] = set()
        while True:
            try:
                body = self._http.get_json(path, {"maxResults": 1000, **({"pageToken": page} if page else {})})
            except BadRequest as e:
                if e.status == 404:
                    raise MissingResource(self.provider,
                                          f"dataset {self.project}:{self.dataset} not found ({e.message})",
                                          status=404, request_id=e.request_id) from None
                raise
            for table in body.get("tables") or []:
                ref = r.obj(r.obj(table, "table").get("tableReference"), "tableReference")
                name = r.str(ref, "tableId", "tableReference.")
                if match := EXPORT_TABLE.match(name or ""):
                    detailed, account = bool(match.group(1)), match.group(2)
                    if account not in by_account or detailed:
                        by_account[account] = (detailed, name)
            page = body.get("nextPageToken")
            if not page:
                break
            if not isinstance(page, str) or page in seen:
                raise r.fail("tables nextPageToken is invalid or repeats")
            seen.add(page)
        if not by_account:
            raise MissingResource(self.provider, f"no Cloud Billing export table (gcp_billing_export_v1_...) in "
                                  f"dataset {self.project}:{self.dataset}; enable the export to it first", status=404)
        return [f"{self.project}.{self.dataset}.{name}" for _, (_, name) in sorted(by_account.items())]

    # -- queries -------------------------------------------------------------------------------

    def _post_query(self, table: str, start: datetime, end: datetime, *, dry_run: bool = False) -> dict[str, Any]:
        body = {
            "query": QUERY.format(table=table),
            "useLegacySql": False,
            "parameterMode": "NAMED",
            "queryParameters": [
                _date_param("partition_start", start - DAY), _date_param("start", start), _date_param("end", end),
            ],
            "maxResults": self.page_limit(PAGE_MAX),
            "timeoutMs": QUERY_TIMEOUT_MS,
            "formatOptions": {"useInt64Timestamp": True},
            "requestId": str(uuid.uuid4()),  # a retried POST joins the same job instead of a second one
            "dryRun": dry_run,
        }
        return self._http.post_json(f"{API}/projects/{self.project}/queries", body)

    def _rows(self, table: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        r = self._read
        body = self._post_query(table, start, end)
        job = r.obj(body.get("jobReference"), "jobReference")
        job_id = r.str(job, "jobId", "jobReference.")
        params: dict[str, Any] = {"maxResults": self.page_limit(PAGE_MAX), "timeoutMs": QUERY_TIMEOUT_MS,
                                  "formatOptions.useInt64Timestamp": "true"}
        if location := r.str(job, "location", "jobReference.", optional=True):
            params["location"] = location
        path = f"{API}/projects/{self.project}/queries/{job_id}"
        polls = 0
        while not body.get("jobComplete"):
            polls += 1
            if polls > MAX_POLLS:
                raise TransientError(self.provider, f"query job {job_id} not done after {MAX_POLLS} polls")
            body = self._http.get_json(path, params)
        names = [r.str(r.obj(f, "schema field"), "name", "schema.fields.") for f in
                 r.list(r.obj(body.get("schema"), "schema"), "fields", "schema.")]
        if tuple(names) != COLUMNS:
            raise r.fail(f"query columns are {names}")
        total = r.int(body, "totalRows", "")
        count, seen = 0, set()
        while True:
            for row in body.get("rows") or []:
                cells = r.list(r.obj(row, "row"), "f", "row.")
                if len(cells) != len(COLUMNS):
                    raise r.fail("a row has the wrong number of cells")
                count += 1
                yield {name: r.obj(cell, "cell").get("v") for name, cell in zip(COLUMNS, cells, strict=True)}
            token = body.get("pageToken")
            if not token:
                break
            if not isinstance(token, str) or token in seen:
                raise r.fail("pageToken is invalid or repeats")
            seen.add(token)
            body = self._http.get_json(path, {**params, "pageToken": token})
        if count != total:
            raise r.fail(f"totalRows is {total} but {count} rows came")

    def _record(self, workspace_id: str, source: str, row: dict[str, Any]) -> UsageRecord:
        r = self._read
        day = r.day(row["usage_day"], "usage_day")
        service = r.str(row, "service", "row.") or ""
        sku = r.str(row, "sku", "row.", optional=True) or ""
        gross = r.amount(row["cost"], "cost")
        credits = r.amount(row["credits"] or "0", "credits")
        invoice_month = r.str(row, "invoice_month", "row.", optional=True) or ""
        usage_month = day.strftime("%Y%m")
        metadata = {
            "service": service, "sku_id": r.str(row, "sku_id", "row.", optional=True) or "",
            "invoice_month": invoice_month or usage_month, "gross_cost": str(gross), "credits": str(credits),
        }
        if (exported := r.int(row, "last_export_time", "row.", optional=True)) is not None:
            metadata["last_export_time"] = datetime.fromtimestamp(exported / 1_000_000, UTC).isoformat()
        unit = r.str(row, "pricing_unit", "row.", optional=True)
        quantity = row["pricing_quantity"]
        return day_cost(
            self.provider, workspace_id, source, day,
            currency=r.currency(row["currency"], "currency"),
            model=model_name(service, sku),
            # a late row billed on the next invoice is its own fact, not merged into this month's
            line_item=sku if invoice_month in ("", usage_month) else f"{sku} (invoice {invoice_month})",
            unit_type=unit.strip().lower().replace(" ", "_") if unit else None,
            units=r.amount(quantity, "pricing_quantity") if quantity is not None else Decimal(0),
            billed_cost=gross + credits,
            project=r.str(row, "project_id", "row.", optional=True),
            metadata=metadata,
        )


def _date_param(name: str, moment: datetime) -> dict[str, Any]:
    day = (moment.astimezone(UTC) if moment.tzinfo else moment).date()
    return {"name": name, "parameterType": {"type": "DATE"}, "parameterValue": {"value": day.isoformat()}}

