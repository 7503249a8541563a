"""A usage query result as CSV: the same numbers as the JSON, exact decimal strings.

Columns: ``period`` (first day of the period, UTC), one column per ``group_by`` dimension in
order, ``currency``, ``spend``, ``billed``, ``estimated``, ``units``, ``events``, then ``state``
(``final`` or ``provisional``: the provider may still change a provisional figure) and
``provisional_spend`` (the part of ``spend`` from provisional provider-days). An unset
dimension is an empty cell; the attribution remainder reads ``(unattributed)``. Dimension cells
that a spreadsheet would run as a formula (leading ``= + - @``, tab or CR) are prefixed with
``'`` because tags come from clients; numeric cells are never altered.
"""

from __future__ import annotations

import csv
import io

from chalicelib.domain.money import to_str
from chalicelib.domain.usage_result import UsageResult

MONEY_COLUMNS = ("spend", "billed", "estimated", "units", "events")
STATE_COLUMNS = ("state", "provisional_spend")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def header(result: UsageResult) -> list[str]:
    return ["period", *result.query.group_by, "currency", *MONEY_COLUMNS, *STATE_COLUMNS]


def usage_csv(result: UsageResult) -> str:
    """The whole CSV document (RFC 4180: CRLF line ends, quoted where needed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header(result))
    for point in result.series:
        writer.writerow(
            [
                point.period.isoformat(),
                *(_cell(value) for _, value in point.group),
                point.currency,
                to_str(point.spend),
                to_str(point.billed),
                to_str(point.estimated),
                to_str(point.units),
                str(point.events),
                point.state,
                to_str(point.provisional_spend),
            ]
        )
    return out.getvalue()


def filename(result: UsageResult, workspace_id: str) -> str:
    """``usage-<workspace>-<from>-<to>-<granularity>.csv`` for Content-Disposition."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in workspace_id)[:64]
    q = result.query
    return f"usage-{safe}-{q.start.isoformat()}-{q.end.isoformat()}-{q.granularity}.csv"
