"""Fake BigQuery (jobs.query, jobs.getQueryResults, tables.list) over a Cloud Billing export, and
the Google OAuth token endpoint that exchanges a service account's signed JWT.

Ledger: raw export rows (usage_start_time in 6-hour slices, service, SKU, project, FLOAT64 ``cost``,
``credits`` with negative amounts, ``invoice.month``, ``export_time``) in ingestion partitions: a
row's ``_PARTITIONTIME`` is its export day, so a late correction sits in a later partition than its
usage day. The fake answers the one aggregate query CostPilot sends (it checks its GROUP BY) by
computing it over the ledger, with the wire formats of the REST API: ``jobComplete`` false until
polled (``slow_next``), rows as ``{"f": [{"v": ...}]}`` with every value a string (NUMERIC and
INT64-µs timestamps too), ``totalRows`` a string, pages by ``pageToken``, errors as
``{"error": {"code", "message", "errors": [{"reason"}], "status"}}`` (403 ``accessDenied``, 404
``notFound``).

Bytes: ``totalBytesProcessed`` follows BigQuery's on-demand rule: the bytes of the referenced
columns (STRING 2 + UTF-8 length, INT64/FLOAT64/TIMESTAMP 8, each repeated credit 8) over every row
of the partitions not pruned by the ``_PARTITIONTIME`` filter; ``totalBytesBilled`` rounds up to
BigQuery's 10 MB minimum per query.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from devstack.fakes.base import FakeProvider, decimal_str, midnight
from devstack.fakes.google_sts import FakeGoogleFederation

TOKEN_URL = "https://oauth2.googleapis.com/token"
PROJECT = "acme-billing-prod"
DATASET = "billing_export"
BILLING_ACCOUNT = "01A2B3_C4D5E6_F7A8B9"
CLIENT_EMAIL = f"costpilot-reader@{PROJECT}.iam.gserviceaccount.com"
PRIVATE_KEY_ID = "3f1c9e0b5a7d4c2e8f6a1b0c9d8e7f6a5b4c3d2e"
LOCATION = "US"
MIN_BILLED_BYTES = 10 * 1024 * 1024
GROUP_BY = "GROUP BY usage_day, service, sku_id, sku, project_id, currency, invoice_month"
SCHEMA = [
    ("usage_day", "DATE"), ("service", "STRING"), ("sku_id", "STRING"), ("sku", "STRING"),
    ("project_id", "STRING"), ("currency", "STRING"), ("invoice_month", "STRING"), ("cost", "NUMERIC"),
    ("credits", "NUMERIC"), ("pricing_quantity", "NUMERIC"), ("pricing_unit", "STRING"),
    ("last_export_time", "TIMESTAMP"),
]
# (service, sku id, sku description, pricing unit, daily cost range in USD, credit share)
CATALOGUE = (
    ("Compute Engine", "2E27-4F75-95CD", "N1 Predefined Instance Core running in Americas", "hour", (8, 14), "-0.2"),
    ("Cloud Storage", "E5F0-6A5D-7BAD", "Standard Storage US Multi-region", "gibibyte month", (1, 2), "0"),
    ("BigQuery", "3362-E469-6BEF", "Analysis", "tebibyte", (0, 3), "0"),
    ("Vertex AI", "9A1F-3C2B-77D0", "Gemini 2.5 Flash Input Text Tokens", "count", (2, 6), "0"),
    ("Vertex AI", "9A1F-3C2B-77D1", "Gemini 2.5 Flash Output Text Tokens", "count", (4, 9), "0"),
    ("Vertex AI", "B04E-11A7-5C3E", "Gemini 2.5 Pro Output Text Tokens", "count", (1, 5), "0"),
    ("Gemini API", "6C2D-8E0F-1A93", "Gemini 2.0 Flash Input Token Count", "count", (0, 2), "-1"),
)
PROJECTS = ("acme-web-prod", "acme-ml-research")


@dataclass
class ExportRow:
    usage_start: datetime
    service: str
    sku_id: str
    sku: str
    project_id: str
    cost: float  # FLOAT64, as the export has it
    credits: list[float]
    amount_in_pricing_units: float
    pricing_unit: str
    invoice_month: str
    export_time: datetime
    currency: str = "USD"

    @property
    def partition(self) -> date:
        return self.export_time.date()


@dataclass
class _Job:
    job_id: str
    rows: list[list[Any]]
    bytes_processed: int
    polls_left: int
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _private_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _load_private_key(pem: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem.encode(), password=None)


def service_account_key_json(project: str = PROJECT, *, key_id: str = PRIVATE_KEY_ID, email: str = CLIENT_EMAIL,
                             private_key: Any = None) -> str:
    """A service account key file as the console downloads it (this fake's own RSA key)."""
    from cryptography.hazmat.primitives import serialization

    pem = (private_key or _private_key()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps({
        "type": "service_account", "project_id": project, "private_key_id": key_id, "private_key": pem,
        "client_email": email, "client_id": "104729361820573920184",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": TOKEN_URL,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email.replace('@', '%40')}",
        "universe_domain": "googleapis.com",
    }, indent=2)


class FakeBigQuery(FakeProvider):
    provider = "gcp"
    request_id_header = "x-goog-request-id"

    def __init__(self, *, seed: int = 0, now: Callable[[], datetime] | None = None, history_days: int = 45,
                 project: str = PROJECT, dataset: str = DATASET, detailed: bool = True, currency: str = "USD",
                 private_key_pem: str | None = None, federation: FakeGoogleFederation | None = None) -> None:
        super().__init__(seed=seed, now=now, history_days=history_days)
        self.federation = federation  # Google STS + IAM Credentials under /sts and /iamcredentials
        if federation is not None:
            federation.mint = self.issue_token
        self.private_key = _load_private_key(private_key_pem) if private_key_pem else _private_key()
        self.project, self.dataset, self.currency = project, dataset, currency
        self.tables = [f"gcp_billing_export_v1_{BILLING_ACCOUNT}"]
        if detailed:
            self.tables.append(f"gcp_billing_export_resource_v1_{BILLING_ACCOUNT}")
        self.rows: list[ExportRow] = []
        self.denied: set[str] = set()  # IAM permissions the service account lacks
        self.tokens: set[str] = set()
        self.jobs: dict[str, _Job] = {}
        self.queries: list[dict[str, Any]] = []  # every jobs.query body, for tests
        self._slow: list[int] = []
        for day in self.ledger_days():
            self._seed_day(day)

    def credentials(self) -> dict[str, str]:
        """What a user pastes to connect this fake: the key file, the project and the dataset."""
        return {"service_account_key": service_account_key_json(self.project, private_key=self.private_key),
                "project": self.project,
                "dataset": self.dataset}

    def private_key_pem(self) -> str:
        """This fake's signing key, for a local stack that restarts with the key files it sealed."""
        from cryptography.hazmat.primitives import serialization

        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()

    # -- the ledger ----------------------------------------------------------------------------

    def _seed_day(self, day: date) -> None:
        for service, sku_id, sku, unit, (low, high), credit_share in CATALOGUE:
            for project in PROJECTS:
                if self.rng.random() < 0.35:
                    continue
                for slot in range(4):
                    cost = round(self.rng.uniform(low, high) / 4, 6)
                    credits = [round(cost * float(credit_share), 6)] if credit_share != "0" else []
                    start = midnight(day) + timedelta(hours=6 * slot)
                    if start >= self.now():
                        break  # today: only the hours that have passed
                    self.rows.append(ExportRow(
                        start, service, sku_id, sku, project, cost, credits, round(cost * 1000, 3), unit,
                        day.strftime("%Y%m"), min(start + timedelta(hours=9), self.now()), self.currency,
                    ))

    def correct(self, day: date, sku_id: str, cost: float, *, invoice_month: str | None = None) -> None:
        """A late correction for ``day``, exported now (so it sits in today's partition)."""
        template = next(r for r in self.rows if r.usage_start.date() == day and r.sku_id == sku_id)
        self.rows.append(ExportRow(
            midnight(day), template.service, sku_id, template.sku, template.project_id, cost, [], 0.0,
            template.pricing_unit, invoice_month or day.strftime("%Y%m"), self.now(), template.currency,
        ))

    def net_total(self, start: date, end: date) -> Decimal:
        """Cost net of credits over usage days ``[start, end)``, as the query computes it."""
        return sum((_numeric(r.cost) + sum((_numeric(c) for c in r.credits), Decimal(0))
                    for r in self.rows if start <= r.usage_start.date() < end), Decimal(0))

    def deny(self, permission: str) -> None:
        """The service account loses an IAM permission (``bigquery.jobs.create``, ``bigquery.tables.list``)."""
        self.denied.add(permission)

    def slow_next(self, polls: int) -> None:
        """The next query job needs ``polls`` getQueryResults calls before it is complete."""
        self._slow.append(polls)

    # -- HTTP ----------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> bool:
        if request.path == "/token" or (self.federation is not None and self.federation.handles(request.path)):
            return True
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.tokens

    def error(self, status: int, message: str | None) -> Response:
        reasons = {400: ("invalid", "INVALID_ARGUMENT"), 401: ("authError", "UNAUTHENTICATED"),
                   403: ("accessDenied", "PERMISSION_DENIED"), 404: ("notFound", "NOT_FOUND"),
                   429: ("rateLimitExceeded", "RESOURCE_EXHAUSTED"), 500: ("backendError", "INTERNAL"),
                   503: ("backendError", "UNAVAILABLE")}
        reason, state = reasons.get(status, ("backendError" if status >= 500 else "invalid", "UNKNOWN"))
        default = {401: "Request is missing required authentication credential.",
                   500: "An internal error occurred and the request could not be completed."}.get(status, "Error")
        text = message or default
        return self.json({"error": {"code": status, "message": text,
                                    "errors": [{"message": text, "domain": "global", "reason": reason}],
                                    "status": state}}, status)

    def malformed_body(self) -> Any:
        return {"kind": "bigquery#queryResponse", "jobComplete": True, "totalRows": "1"}  # no schema, no rows

    def route(self, request: Request) -> Response:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        if self.federation is not None and self.federation.handles(request.path):
            return self.federation.route(request)
        base = f"/bigquery/v2/projects/{self.project}"
        if not request.path.startswith(base + "/"):
            if request.path.startswith("/bigquery/v2/projects/"):
                raise self.bad_request(f"Access Denied: Project {request.path.split('/')[4]}: User does not have "
                                       "bigquery.jobs.create permission in project.", 403)
            raise self.bad_request(f"Not found: {request.path}", 404)
        rest = request.path[len(base):]
        if request.method == "GET" and (m := re.fullmatch(r"/datasets/([^/]+)/tables", rest)):
            return self._tables(request, m.group(1))
        if request.method == "POST" and rest == "/queries":
            return self._query(request)
        if request.method == "GET" and (m := re.fullmatch(r"/queries/([^/]+)", rest)):
            return self._results(request, m.group(1))
        raise self.bad_request(f"Not found: {request.method} {request.path}", 404)

    def _token(self, request: Request) -> Response:
        import jwt

        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.json({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}, 400)
        try:
            header = jwt.get_unverified_header(form.get("assertion", ""))
            claims = jwt.decode(form["assertion"], self.private_key.public_key(), algorithms=["RS256"],
                                audience=TOKEN_URL, options={"require": ["iss", "aud", "iat", "exp", "scope"],
                                                             "verify_exp": False, "verify_iat": False})
        except (KeyError, jwt.PyJWTError):
            return self.json({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)
        now = self.now().timestamp()  # this fake's clock, not the machine's
        if not claims["iat"] - 300 <= now < claims["exp"] or claims["exp"] - claims["iat"] > 3600:
            return self.json({"error": "invalid_grant",
                              "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) "
                              "and in a reasonable timeframe."}, 400)
        if header.get("kid") != PRIVATE_KEY_ID or claims["iss"] != CLIENT_EMAIL:
            return self.json({"error": "invalid_grant", "error_description": "Invalid grant: account not found"}, 400)
        return self.json({"access_token": self.issue_token(), "expires_in": 3599, "token_type": "Bearer"})

    def issue_token(self) -> str:
        """A new access token BigQuery accepts (the token endpoint's, or impersonation's)."""
        token = f"ya29.fake-{self.seed}-{len(self.tokens) + 1:06d}"
        self.tokens.add(token)
        return token

    def _tables(self, request: Request, dataset: str) -> Response:
        if dataset != self.dataset:
            raise self.bad_request(f"Not found: Dataset {self.project}:{dataset}", 404)
        if "bigquery.tables.list" in self.denied:
            raise self.bad_request(f"Access Denied: Dataset {self.project}:{dataset}: Permission "
                                   "bigquery.tables.list denied on dataset (or it may not exist).", 403)
        limit = int(request.args.get("maxResults", "50"))
        first = _offset(request.args.get("pageToken"))
        chosen = self.tables[first:first + limit]
        body: dict[str, Any] = {
            "kind": "bigquery#tableList", "etag": "7kGq9x2pR0lX3w==", "totalItems": len(self.tables),
            "tables": [{"kind": "bigquery#table", "id": f"{self.project}:{dataset}.{t}",
                        "tableReference": {"projectId": self.project, "datasetId": dataset, "tableId": t},
                        "type": "TABLE", "timePartitioning": {"type": "DAY"}, "creationTime": "1704067200000"}
                       for t in chosen],
        }
        if first + limit < len(self.tables):
            body["nextPageToken"] = _token_for(first + limit)
        return self.json(body)

    def _query(self, request: Request) -> Response:
        if "bigquery.jobs.create" in self.denied:
            raise self.bad_request(f"Access Denied: Project {self.project}: User does not have bigquery.jobs.create "
                                   f"permission in project {self.project}.", 403)
        body = request.get_json(silent=True) or {}
        self.queries.append(body)
        sql = body.get("query", "")
        match = re.search(r"FROM `([^`]+)`", sql)
        if body.get("useLegacySql") is not False or GROUP_BY not in sql or match is None:
            raise self.bad_request("Syntax error: this fake only answers CostPilot's daily cost query", 400)
        project, dataset, table = [*match.group(1).split("."), "", ""][:3]
        if dataset != self.dataset:
            raise self.bad_request(f"Not found: Dataset {project}:{dataset} was not found in location {LOCATION}", 404)
        if table not in self.tables:
            raise self.bad_request(f"Not found: Table {project}:{dataset}.{table} was not found in location "
                                   f"{LOCATION}", 404)
        params = {p["name"]: date.fromisoformat(p["parameterValue"]["value"])
                  for p in body.get("queryParameters", [])}
        pruned = "_PARTITIONTIME >= TIMESTAMP(@partition_start)" in sql
        partition_start = params["partition_start"] if pruned else date.min
        scanned = [r for r in self.rows if r.partition >= partition_start]
        processed = sum(_row_bytes(r) for r in scanned)
        stats = {"totalBytesProcessed": str(processed),
                 "totalBytesBilled": str(max(MIN_BILLED_BYTES, processed) if processed else 0)}
        if body.get("dryRun"):
            return self.json({"kind": "bigquery#queryResponse", "schema": _schema(),
                              "jobReference": {"projectId": self.project, "location": LOCATION},
                              "jobComplete": True, "cacheHit": False, **stats})
        request_id = body.get("requestId")
        job = next((j for j in self.jobs.values() if request_id and j.request_id == request_id), None)
        if job is None:
            rows = _aggregate(scanned, params["start"], params["end"])
            job = _Job(f"job_{self.seed:02d}{len(self.jobs) + 1:06d}", rows, processed,
                       self._slow.pop(0) if self._slow else 0, request_id, stats)
            self.jobs[job.job_id] = job
        return self.json(self._page(job, int(body.get("maxResults", 10_000)), 0, "bigquery#queryResponse"))

    def _results(self, request: Request, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            raise self.bad_request(f"Not found: Job {self.project}:{LOCATION}.{job_id}", 404)
        if job.polls_left > 0:
            job.polls_left -= 1
        limit = int(request.args.get("maxResults", "10000"))
        return self.json(self._page(job, limit, _offset(request.args.get("pageToken")),
                                    "bigquery#getQueryResultsResponse"))

    def _page(self, job: _Job, limit: int, first: int, kind: str) -> dict[str, Any]:
        reference = {"projectId": self.project, "jobId": job.job_id, "location": LOCATION}
        if job.polls_left > 0:
            return {"kind": kind, "jobReference": reference, "jobComplete": False}
        body: dict[str, Any] = {
            "kind": kind, "etag": "Wq0rT5mE2l8=", "schema": _schema(), "jobReference": reference,
            "totalRows": str(len(job.rows)), "jobComplete": True, "cacheHit": False, **job.extra,
            "rows": [{"f": [{"v": v} for v in row]} for row in job.rows[first:first + limit]],
        }
        if first + limit < len(job.rows):
            body["pageToken"] = _token_for(first + limit)
        if not body["rows"]:
            del body["rows"]  # BigQuery leaves "rows" out of an empty result
        return body


def _numeric(value: float) -> Decimal:
    """``CAST(x AS NUMERIC)``: the float's digits rounded to 9 decimal places."""
    return Decimal(repr(value)).quantize(Decimal("1e-9"))


def _string_bytes(value: str) -> int:
    return 2 + len(value.encode())


def _row_bytes(r: ExportRow) -> int:
    strings = (r.service, r.sku_id, r.sku, r.project_id, r.currency, r.invoice_month, r.pricing_unit)
    # usage_start_time, cost, usage.amount_in_pricing_units, export_time: 8 bytes each; credits.amount 8 each
    return sum(map(_string_bytes, strings)) + 8 * 4 + 8 * len(r.credits)


def _aggregate(rows: list[ExportRow], start: date, end: date) -> list[list[Any]]:
    groups: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        day = r.usage_start.date()
        if not start <= day < end:
            continue
        key = (day.isoformat(), r.service, r.sku_id, r.sku, r.project_id, r.currency, r.invoice_month)
        g = groups.setdefault(key, {"cost": Decimal(0), "credits": Decimal(0), "quantity": Decimal(0),
                                    "unit": r.pricing_unit, "export": r.export_time})
        g["cost"] += _numeric(r.cost)
        g["credits"] += sum((_numeric(c) for c in r.credits), Decimal(0))
        g["quantity"] += _numeric(r.amount_in_pricing_units)
        g["export"] = max(g["export"], r.export_time)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2], k[4], k[6])):
        g = groups[key]
        out.append([*key, decimal_str(g["cost"]), decimal_str(g["credits"]), decimal_str(g["quantity"]),
                    g["unit"], str(int(g["export"].astimezone(UTC).timestamp() * 1_000_000))])
    return out


def _schema() -> dict[str, Any]:
    return {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in SCHEMA]}


def _token_for(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
    except ValueError:
        raise FakeProvider.bad_request("Invalid page token", 400) from None

