"""The fake Stripe on the local stack, and a command that drives the running one.

``start`` serves ``devstack.fakes.stripe_api.FakeStripe`` on a loopback port with its webhook URL
set to the local app's ``/api/stripe/webhook``, and returns the environment that points the app at
it (API base, secret key, webhook secret, price ids). A checkout URL from the app then opens the
fake's hosted page; its "Pay" button completes the session and delivers the signed events to the
app, as Stripe's test mode does.

Besides Stripe's own API, the served fake answers control endpoints (Bearer: the local secret key):

    GET  /_fake/events                            every event, oldest first, with its deliveries
    POST /_fake/events/{evt_id}/replay            send one event again (same id and body, new signature)
    POST /_fake/deliver?order=reversed&ids=a,b    send events again (all by default) in an order:
                                                  given | reversed | shuffled
    GET  /_fake/subscriptions                     every subscription
    POST /_fake/subscriptions/{sub_id}/{action}   cancel_at_period_end | end_period | fail_payment |
                                                  recover_payment (time moves to the period's end)

and this module is their command line::

    python -m devstack.stripe_local events
    python -m devstack.stripe_local replay evt_...
    python -m devstack.stripe_local deliver --order reversed [evt_... ...]
    python -m devstack.stripe_local subscriptions
    python -m devstack.stripe_local end_period sub_...
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from devstack.fakes.stripe_api import FakeStripe, RunningFake, serve_in_thread

DEFAULT_PORT = 12111
LOCAL_SECRET_KEY = "sk_test_costpilot_local"
LOCAL_PRICES = {"price_local_pro": 900, "price_local_team": 2900}
ACTIONS = ("cancel_at_period_end", "end_period", "fail_payment", "recover_payment")


class ControlledFake:
    """The fake's WSGI app plus the ``/_fake/`` control endpoints."""

    def __init__(self, fake: FakeStripe):
        self.fake = fake

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_fake/"):
            return self.fake(environ, start_response)
        status, body = self._control(environ, path.removeprefix("/_fake/").strip("/").split("/"))
        payload = json.dumps(body, indent=2).encode()
        start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    def _control(self, environ: dict, parts: list[str]) -> tuple[int, Any]:
        if environ.get("HTTP_AUTHORIZATION", "") != f"Bearer {self.fake.api_key}":
            return 401, {"error": "send the local secret key as a Bearer token"}
        method = environ.get("REQUEST_METHOD")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        fake = self.fake
        try:
            if parts == ["events"] and method == "GET":
                return 200, [self._event_view(e) for e in list(fake.events.values())]
            if len(parts) == 3 and parts[0] == "events" and parts[2] == "replay" and method == "POST":
                if parts[1] not in fake.events:
                    return 404, {"error": f"no event {parts[1]}"}
                return 200, _delivery(fake.replay(parts[1]))
            if parts == ["deliver"] and method == "POST":
                ids = [i for i in ",".join(query.get("ids", [])).split(",") if i] or None
                order = query.get("order", ["given"])[0]
                return 200, [_delivery(d) for d in fake.deliver_events(ids, order=order)]
            if parts == ["subscriptions"] and method == "GET":
                return 200, list(fake.subscriptions.values())
            if len(parts) == 3 and parts[0] == "subscriptions" and parts[2] in ACTIONS and method == "POST":
                if parts[1] not in fake.subscriptions:
                    return 404, {"error": f"no subscription {parts[1]}"}
                return 200, getattr(fake, parts[2])(parts[1])
        except (KeyError, ValueError) as e:
            return 400, {"error": str(e)}
        return 404, {"error": "unknown control endpoint"}

    def _event_view(self, event: dict) -> dict:
        deliveries = [_delivery(d) for d in list(self.fake.deliveries) if d.event_id == event["id"]]
        obj = event["data"]["object"]
        return {"id": event["id"], "type": event["type"], "created": event["created"], "object": obj.get("id"),
                "deliveries": [d["status"] for d in deliveries]}


def _delivery(d: Any) -> dict | None:
    return asdict(d) if d is not None else None


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def make_fake(app_url: str, webhook_secret: str | None = None) -> FakeStripe:
    """The fake, its webhooks pointed at the local app (a new webhook secret unless given)."""
    return FakeStripe(LOCAL_SECRET_KEY, webhook_url=f"{app_url.rstrip('/')}/api/stripe/webhook",
                      webhook_secret=webhook_secret or "whsec_local_" + secrets.token_hex(16), prices=LOCAL_PRICES)


def start(app_url: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          fake: FakeStripe | None = None) -> tuple[RunningFake, dict[str, str]]:
    """Serve the fake (``make_fake``'s unless given; on ``port``, or any free port if that one is
    taken) and answer the app's environment for it."""
    fake = fake or make_fake(app_url)
    if port and not _port_free(host, port):
        port = 0
    try:
        served = serve_in_thread(ControlledFake(fake), host, port)
    except (OSError, SystemExit):  # werkzeug exits when the port was taken meanwhile
        if port == 0:
            raise
        served = serve_in_thread(ControlledFake(fake), host, 0)
    env = {
        "COSTPILOT_STRIPE_API_BASE": served.base_url,
        "COSTPILOT_SECRET_STRIPE_SECRET_KEY": LOCAL_SECRET_KEY,
        "COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        "COSTPILOT_STRIPE_PRICE_PRO": "price_local_pro",
        "COSTPILOT_STRIPE_PRICE_TEAM": "price_local_team",
    }
    return served, env


# ---- command line -----------------------------------------------------------------------------

def _request(base: str, method: str, path: str, key: str) -> Any:
    request = urllib.request.Request(base.rstrip("/") + path, method=method, data=b"" if method == "POST" else None,
                                     headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{e.code}: {e.read().decode(errors='replace')}") from None
    except urllib.error.URLError as e:
        raise SystemExit(f"the fake Stripe is not reachable at {base} ({e.reason}); is scripts/dev running?") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devstack.stripe_local", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_PORT}",
                   help="the running fake (see scripts/dev's banner)")
    p.add_argument("--key", default=LOCAL_SECRET_KEY)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("events", help="list events and their deliveries")
    replay = sub.add_parser("replay", help="send an event again")
    replay.add_argument("event_id")
    deliver = sub.add_parser("deliver", help="send events again, in an order")
    deliver.add_argument("event_ids", nargs="*")
    deliver.add_argument("--order", choices=("given", "reversed", "shuffled"), default="given")
    sub.add_parser("subscriptions", help="list subscriptions")
    for action in ACTIONS:
        sub.add_parser(action, help=f"{action.replace('_', ' ')} for a subscription").add_argument("subscription_id")
    args = p.parse_args(argv)

    if args.command == "events":
        path, method = "/_fake/events", "GET"
    elif args.command == "replay":
        path, method = f"/_fake/events/{args.event_id}/replay", "POST"
    elif args.command == "deliver":
        query = {"order": args.order, **({"ids": ",".join(args.event_ids)} if args.event_ids else {})}
        path, method = f"/_fake/deliver?{urllib.parse.urlencode(query)}", "POST"
    elif args.command == "subscriptions":
        path, method = "/_fake/subscriptions", "GET"
    else:
        path, method = f"/_fake/subscriptions/{args.subscription_id}/{args.command}", "POST"
    print(json.dumps(_request(args.url, method, path, args.key), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
