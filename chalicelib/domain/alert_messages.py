"""What a notification says, and how it looks on each channel (email, Slack, Discord, webhook).

The evaluator builds one ``Notification`` (the facts: what crossed, the figure and the threshold,
the period, the top contributors and the period-end forecast), stores it with the firing, and
every delivery renders from that stored copy, so a retry days later says exactly what the first
attempt said. Pure: no AWS, no clock.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.domain.money import to_str

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(amount: Decimal | None, currency: str = "USD") -> str:
    if amount is None:
        return "n/a"
    # Cents for display; a sub-cent amount is shown exactly rather than as $0.00.
    text = f"{amount.quantize(Decimal('0.01')):,}" if abs(amount) >= Decimal("0.01") or not amount else to_str(amount)
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


@dataclass(frozen=True)
class Contributor:
    name: str
    amount: Decimal


@dataclass(frozen=True)
class ForecastFacts:
    mean: Decimal
    lower: Decimal
    upper: Decimal
    level: float  # the interval's coverage, e.g. 0.8
    probability_over: float | None = None  # P(period total > threshold or budget)


@dataclass(frozen=True)
class Notification:
    workspace_id: str
    alert_id: str
    alert_name: str
    kind: str
    key: str
    headline: str  # one line: what happened
    currency: str = "USD"
    figure: Decimal | None = None  # the measured value (spend so far, projected total, spike day)
    threshold: Decimal | None = None  # what it was compared with
    figure_label: str = "Spend"
    threshold_label: str = "Threshold"
    level: str = ""
    levels: tuple[str, ...] = ()
    period_label: str = ""
    scope_label: str = ""
    contributors: dict[str, list[Contributor]] = field(default_factory=dict)  # dimension -> top values
    forecast: ForecastFacts | None = None
    details: tuple[str, ...] = ()  # extra lines (a connection's last error, a spike's expected value)
    # the API key whose usage drove a spike: {"provider", "api_key_id", "project_id", "amount"}
    driving_key: dict[str, str | None] | None = None
    fired_at: str = ""  # ISO 8601 UTC
    alert_url: str = ""
    manage_url: str = ""
    test: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_encode, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Notification:
        raw = json.loads(text)

        def dec(v: str | None) -> Decimal | None:
            return Decimal(v) if v is not None else None

        raw["figure"], raw["threshold"] = dec(raw["figure"]), dec(raw["threshold"])
        raw["levels"], raw["details"] = tuple(raw["levels"]), tuple(raw["details"])
        raw["contributors"] = {k: [Contributor(c["name"], Decimal(c["amount"])) for c in v]
                               for k, v in raw["contributors"].items()}
        if raw["forecast"]:
            f = raw["forecast"]
            raw["forecast"] = ForecastFacts(Decimal(f["mean"]), Decimal(f["lower"]), Decimal(f["upper"]),
                                            f["level"], f["probability_over"])
        return Notification(**raw)


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return to_str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _fact_lines(n: Notification) -> list[str]:
    lines = []
    if n.figure is not None:
        lines.append(f"{n.figure_label}: {money(n.figure, n.currency)}")
    if n.threshold is not None:
        lines.append(f"{n.threshold_label}: {money(n.threshold, n.currency)}")
    if n.period_label:
        lines.append(f"Period: {n.period_label}")
    if n.scope_label:
        lines.append(f"Scope: {n.scope_label}")
    if n.forecast:
        f = n.forecast
        line = (f"Forecast for the period's end: {money(f.mean, n.currency)} "
                f"({int(f.level * 100)}% range {money(f.lower, n.currency)} to {money(f.upper, n.currency)})")
        if f.probability_over is not None:
            line += f"; {round(f.probability_over * 100)}% chance of ending over"
        lines.append(line)
    lines.extend(n.details)
    if n.driving_key:
        lines.append(f"API key that drove it: {n.driving_key['api_key_id']} ({n.driving_key['provider']})")
    return lines


def _contributor_lines(n: Notification) -> list[tuple[str, str]]:
    out = []
    for dimension, items in n.contributors.items():
        if items:
            out.append((dimension.capitalize(), ", ".join(f"{c.name} {money(c.amount, n.currency)}" for c in items)))
    return out


def subject(n: Notification) -> str:
    return ("[CostPilot test] " if n.test else "[CostPilot] ") + n.headline


def render_email(n: Notification) -> Rendered:
    facts = _fact_lines(n)
    contributors = _contributor_lines(n)
    text = [n.headline, "", *facts]
    if contributors:
        text += ["", "Top contributors:"] + [f"  {dim}: {items}" for dim, items in contributors]
    text += ["", f"Alert: {n.alert_name}", f"See the alert: {n.alert_url}", f"Manage your alerts: {n.manage_url}"]
    if n.driving_key:
        text += [f"Disable this key: {n.alert_url}#key-actions-{n.key}"]
    if n.test:
        text += ["", "This is a test notification; nothing crossed a threshold."]
    e = html.escape
    rows = "".join(f"<tr><td style='padding:2px 12px 2px 0;color:#555'>{e(k)}</td><td><b>{e(v)}</b></td></tr>"
                   for k, v in (line.split(": ", 1) if ": " in line else ("", line) for line in facts))
    contrib = "".join(f"<li>{e(dim)}: {e(items)}</li>" for dim, items in contributors)
    body = (
        "<!doctype html><html><body style='font-family:-apple-system,Segoe UI,sans-serif;color:#111'>"
        f"<h2 style='margin:0 0 12px'>{e(n.headline)}</h2>"
        f"<table>{rows}</table>"
        + (f"<p>Top contributors:</p><ul>{contrib}</ul>" if contrib else "")
        + f"<p>Alert: <b>{e(n.alert_name)}</b></p>"
        f"<p><a href='{e(n.alert_url, quote=True)}'>See the alert</a> &middot; "
        f"<a href='{e(n.manage_url, quote=True)}'>Manage your alerts</a></p>"
        + (f"<p><a href='{e(n.alert_url + '#key-actions-' + n.key, quote=True)}'>Disable this key</a></p>"
           if n.driving_key else "")
        + ("<p><i>This is a test notification; nothing crossed a threshold.</i></p>" if n.test else "")
        + "</body></html>"
    )
    return Rendered(subject(n), "\n".join(text) + "\n", body)


def render_slack(n: Notification) -> dict:
    facts = "\n".join(f"• {line}" for line in _fact_lines(n))
    contributors = "\n".join(f"• {dim}: {items}" for dim, items in _contributor_lines(n))
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject(n)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts or n.headline}},
    ]
    if contributors:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Top contributors*\n" + contributors}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                   f"<{n.alert_url}|{n.alert_name}> · <{n.manage_url}|Manage alerts>"}]})
    return {"text": subject(n), "blocks": blocks}


def render_discord(n: Notification) -> dict:
    fields = [{"name": k, "value": v[:1024], "inline": True}
              for k, v in (line.split(": ", 1) for line in _fact_lines(n) if ": " in line)]
    fields += [{"name": f"Top {dim.lower()}s", "value": items[:1024], "inline": False}
               for dim, items in _contributor_lines(n)]
    return {"content": subject(n)[:2000], "embeds": [{
        "title": n.alert_name[:256], "url": n.alert_url, "description": n.headline[:4096],
        "fields": fields[:25], "footer": {"text": f"Manage alerts: {n.manage_url}"[:2048]},
        "color": 0xD9480F}], "allowed_mentions": {"parse": []}}


def render_webhook(n: Notification) -> dict:
    """The generic webhook's JSON body: the facts, machine-readable, amounts as decimal strings."""
    return {"type": "alert.test" if n.test else "alert.fired", "notification_key": n.key,
            "subject": subject(n), **json.loads(n.to_json())}
