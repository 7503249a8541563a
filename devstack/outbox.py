"""The local outbox: emails the app sent through the emulated SES, SMS the fake Twilio accepted,
and requests the local webhook receivers got, readable as a page, as JSON, or from the command line.

The local stack serves it (address printed on start, default http://127.0.0.1:8025):
  /                  the emails, newest first (subject, recipients, text and HTML parts)
  /messages.json     the same as JSON (``?to=<address>`` filters)
  /sms.json          the SMS the fake Twilio accepted (the page lists them above the emails)
  /hooks/<name>      a webhook receiver: POSTs are recorded (point Slack/Discord/webhook channels here)
  /hooks.json        what the receivers got
From a shell: ``python -m devstack.outbox [--url http://127.0.0.1:8025] [--to you@example.com]``.

In tests (moto in-process) ``messages()`` reads the SES backend directly.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import html
import json
import sys
import threading
from typing import Any

from devstack.receivers import Recorder

ACCOUNT_ID = "123456789012"


def _parse(raw_id: str, raw_data: str | bytes, destinations: list[str]) -> dict:
    data = raw_data.encode() if isinstance(raw_data, str) else raw_data
    msg = email.message_from_bytes(data, policy=email.policy.default)
    text = msg.get_body(preferencelist=("plain",))
    rich = msg.get_body(preferencelist=("html",))
    return {
        "id": raw_id,
        "from": str(msg.get("From", "")),
        "to": sorted(set(destinations)),
        "subject": str(msg.get("Subject", "")).strip(),
        "headers": {k: str(v) for k, v in msg.items()},
        "text": text.get_content() if text else "",
        "html": rich.get_content() if rich else "",
    }


def messages(region: str = "us-east-1", to: str | None = None) -> list[dict]:
    """Emails sent through the in-process SES emulation, oldest first."""
    from moto.ses.models import ses_backends

    out = []
    for m in list(ses_backends[ACCOUNT_ID][region].sent_messages):
        if hasattr(m, "raw_data"):
            out.append(_parse(m.id, m.raw_data, list(m.destinations)))
        else:  # send_email: one body only
            dest = [a for v in m.destinations.values() for a in v]
            out.append({"id": m.id, "from": m.source, "to": sorted(set(dest)), "subject": m.subject, "headers": {},
                        "text": m.body, "html": ""})
    return [m for m in out if to is None or to.lower() in (a.lower() for a in m["to"])]


def forget(message_id: str, region: str = "us-east-1") -> None:
    """Removes one email from the in-process SES emulation (tests that used it up, e.g. a sign-up's
    verification link, so later counts see only what they look for)."""
    from moto.ses.models import ses_backends

    sent = ses_backends[ACCOUNT_ID][region].sent_messages
    sent[:] = [m for m in sent if m.id != message_id]


def _sms_rows(items: list[dict]) -> str:
    e = html.escape
    rows = "".join(
        f"<article style='border:1px solid #ddd;margin:12px 0;padding:12px'><div><b>SMS to {e(m['to'])}</b> "
        f"<span style='color:#555'>from {e(m['from'])} · {e(m['status'])}"
        f"{' (error ' + e(str(m['error_code'])) + ')' if m.get('error_code') else ''} · {e(m['created_at'])}</span>"
        f"</div><pre style='white-space:pre-wrap'>{e(m['body'])}</pre></article>"
        for m in reversed(items))
    return f"<h2>SMS ({len(items)})</h2>{rows}" if items else ""


def _page(items: list[dict], sms: list[dict] | None = None) -> str:
    e = html.escape
    rows = "".join(
        f"<article style='border:1px solid #ddd;margin:12px 0;padding:12px'>"
        f"<div><b>{e(m['subject'])}</b></div><div style='color:#555'>to {e(', '.join(m['to']))}</div>"
        f"<details><summary>text</summary><pre>{e(m['text'])}</pre></details>"
        f"<details open><summary>html</summary><iframe sandbox style='width:100%;height:320px;border:0' "
        f"srcdoc=\"{e(m['html'], quote=True)}\"></iframe></details></article>"
        for m in reversed(items))
    return (f"<!doctype html><html><head><title>CostPilot outbox</title></head><body style='font-family:sans-serif'>"
            f"<h1>Outbox ({len(items)} emails)</h1>"
            f"<p><a href='/messages.json'>messages.json</a> · <a href='/hooks.json'>hooks.json</a> · "
            f"<a href='/sms.json'>sms.json</a></p>{_sms_rows(sms or [])}"
            f"{rows}</body></html>")


class OutboxApp:
    """WSGI: the outbox page and the webhook receivers."""

    def __init__(self, sms: Any = None) -> None:
        self.hooks = Recorder()
        self.sms = sms or list  # () -> the fake Twilio's messages (devstack/fakes/twilio_messages.py)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        path = request.path
        if path.startswith("/hooks/") and request.method == "POST":
            return self.hooks(environ, start_response)
        if path == "/hooks.json":
            body = json.dumps([r.to_dict() for r in self.hooks.requests], default=str)
            return Response(body, content_type="application/json")(environ, start_response)
        if path == "/messages.json":
            items = messages(to=request.args.get("to"))
            return Response(json.dumps(items), content_type="application/json")(environ, start_response)
        if path == "/sms.json":
            return Response(json.dumps(self.sms()), content_type="application/json")(environ, start_response)
        if path == "/":
            page = _page(messages(), self.sms())
            return Response(page, content_type="text/html; charset=utf-8")(environ, start_response)
        return Response("not found", status=404)(environ, start_response)


def serve(host: str = "127.0.0.1", port: int = 8025, sms: Any = None) -> tuple[Any, str]:
    """Starts the outbox in a thread (a free port if ``port`` is taken); returns (server, base URL)."""
    from werkzeug.serving import make_server

    app = OutboxApp(sms)
    try:
        server = make_server(host, port, app, threaded=True)
    except (OSError, SystemExit):  # werkzeug exits (SystemExit) when the port is taken
        server = make_server(host, 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="outbox", daemon=True).start()
    return server, f"http://{host}:{server.server_port}"


def main(argv: list[str] | None = None) -> int:
    import httpx

    p = argparse.ArgumentParser(prog="python -m devstack.outbox", description="Print the local stack's emails.")
    p.add_argument("--url", default="http://127.0.0.1:8025", help="the outbox address the local stack printed")
    p.add_argument("--to", help="only emails to this address")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    items = httpx.get(f"{args.url}/messages.json", params={"to": args.to} if args.to else None, timeout=5).json()
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    for m in items:
        print(f"=== {m['subject']}\nTo: {', '.join(m['to'])}\n\n{m['text']}")
    print(f"({len(items)} emails)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
