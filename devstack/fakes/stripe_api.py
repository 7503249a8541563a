"""A fake of the Stripe API calls CostPilot makes, for the local stack and for tests.

It is a WSGI app (werkzeug) that the real stripe-python client is pointed at through its API base:

    fake = FakeStripe(api_key="sk_test_local", webhook_url="http://127.0.0.1:8000/api/stripe/webhook",
                      webhook_secret="whsec_local")
    server = serve_in_thread(fake)
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": server.base_url})

Endpoints: customers (create, retrieve), checkout sessions (create in subscription mode, retrieve, expire),
billing portal sessions (create), subscriptions (retrieve, update, cancel). Requests are form-encoded
with nested keys (``line_items[0][price]``) as stripe-python sends them; answers and errors have
Stripe's JSON shapes (API ``dahlia``: a subscription's period lives on its items, an invoice names
its subscription under ``parent.subscription_details``). ``Idempotency-Key`` is honoured.

A browser completes a checkout on the fake's hosted page (``GET /checkout/{id}``, "Pay"), which
creates the subscription and sends signed webhook events to ``webhook_url``, then redirects to the
session's ``success_url``. The billing portal page can cancel at period end. Tests drive time and
failures directly: ``cancel_at_period_end``, ``end_period``, ``fail_payment``, ``recover_payment``,
and replay or reorder events with ``replay`` and ``deliver_events``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import html
import json
import random
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

API_VERSION = "2026-06-24.dahlia"
PERIOD_SECONDS = 30 * 24 * 3600
DEFAULT_UNIT_AMOUNT = 900  # cents, for prices the fake was not told about

Deliver = Callable[[str, bytes, Mapping[str, str]], int | None]


def sign(payload: str | bytes, secret: str, t: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``: ``t=...,v1=HMAC-SHA256(secret, "t.payload")``."""
    t = int(time.time()) if t is None else int(t)
    body = payload.decode("utf-8") if isinstance(payload, bytes | bytearray) else payload
    mac = hmac.new(secret.encode("utf-8"), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def urllib_deliver(url: str, payload: bytes, headers: Mapping[str, str]) -> int:
    """POST one webhook; answers the receiver's HTTP status."""
    request = urllib.request.Request(url, data=payload, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def parse_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nested params from Stripe's form keys: ``a[b][0][c]=v`` -> ``{"a": {"b": [{"c": "v"}]}}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        name, _, rest = key.partition("[")
        parts = [name, *(rest[:-1].split("][") if rest else [])]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part or str(len(node)), {})
        node[parts[-1] or str(len(node))] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def _truthy(value: Any) -> bool:
    return str(value).lower() == "true"


def new_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))


class StripeError(Exception):
    """An error answered in Stripe's shape: ``{"error": {"type", "code", "message", "param"}}``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param

    def body(self) -> dict[str, Any]:
        error = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://docs.stripe.com/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


def _missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


@dataclass(frozen=True)
class Delivery:
    event_id: str
    event_type: str
    status: int | None
    error: str | None = None


class FakeStripe:
    """In-memory Stripe. Thread-safe; webhooks are sent outside the lock so receivers may call back."""

    def __init__(
        self,
        api_key: str = "sk_test_costpilot_fake",
        *,
        webhook_url: str | None = None,
        webhook_secret: str = "whsec_costpilot_fake",
        prices: Mapping[str, int] | None = None,
        deliver: Deliver = urllib_deliver,
        auto_deliver: bool = True,
        clock: Callable[[], float] = time.time,
        public_url: str | None = None,
        api_version: str = API_VERSION,
    ):
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.prices = dict(prices) if prices is not None else None  # price id -> unit amount in cents
        self.deliver = deliver
        self.auto_deliver = auto_deliver
        self.clock = clock
        self.public_url = public_url
        self.api_version = api_version
        self.customers: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.portal_sessions: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.events: dict[str, dict] = {}  # in creation order
        self.deliveries: list[Delivery] = []
        self._checkout_lines: dict[str, dict] = {}  # session id -> line items and subscription_data
        self._idempotent: dict[str, tuple[tuple, int, dict]] = {}
        self._offset = 0
        self._pending: list[str] = []
        self._request_ctx: dict[str, str | None] = {"id": None, "idempotency_key": None}
        self._host_url = "http://127.0.0.1"
        self._lock = threading.RLock()
        self._urls = Map(
            [
                Rule("/v1/customers", methods=["POST"], endpoint="create_customer"),
                Rule("/v1/customers/<object_id>", methods=["GET"], endpoint="get_customer"),
                Rule("/v1/checkout/sessions", methods=["POST"], endpoint="create_session"),
                Rule("/v1/checkout/sessions/<object_id>", methods=["GET"], endpoint="get_session"),
                Rule("/v1/checkout/sessions/<object_id>/expire", methods=["POST"], endpoint="expire_session"),
                Rule("/v1/billing_portal/sessions", methods=["POST"], endpoint="create_portal_session"),
                Rule("/v1/subscriptions/<object_id>", methods=["GET"], endpoint="get_subscription"),
                Rule("/v1/subscriptions/<object_id>", methods=["POST"], endpoint="update_subscription"),
                Rule("/v1/subscriptions/<object_id>", methods=["DELETE"], endpoint="delete_subscription"),
                Rule("/checkout/<object_id>", methods=["GET"], endpoint="page_checkout"),
                Rule("/checkout/<object_id>/pay", methods=["POST"], endpoint="page_pay"),
                Rule("/billing_portal/<object_id>", methods=["GET"], endpoint="page_portal"),
                Rule("/billing_portal/<object_id>/<sub_id>/<action>", methods=["POST"], endpoint="page_portal_action"),
            ]
        )

    # ---- time -------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock()) + self._offset

    def advance(self, seconds: int) -> None:
        """Move the fake's clock (``created``, periods) forward; signatures keep real time."""
        self._offset += int(seconds)

    # ---- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, args = self._urls.bind_to_environ(environ).match()
            if endpoint.startswith("page_"):
                response = getattr(self, "_" + endpoint)(request, **args)
            else:
                response = self._api(request, endpoint, args)
        except NotFound:
            if request.path.startswith("/v1/"):
                message = f"Unrecognized request URL ({request.method}: {request.path})."
                response = self._json(404, StripeError(404, message).body())
            else:
                response = Response("Not found", status=404)
        except HTTPException as e:
            response = e.get_response(environ)
        self._flush()
        return response(environ, start_response)

    def _api(self, request: Request, endpoint: str, args: dict[str, str]) -> Response:
        request_id = new_id("req")
        try:
            self._authenticate(request)
            pairs = list((request.form if request.method == "POST" else request.args).items(multi=True))
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            fingerprint = (request.method, request.path, tuple(sorted(pairs)))
            with self._lock:
                if key and key in self._idempotent:
                    seen, status, body = self._idempotent[key]
                    if seen != fingerprint:
                        raise StripeError(
                            400,
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            f"first used with. Try using a key other than '{key}' if you meant to execute a "
                            "different request.",
                            type="idempotency_error",
                        )
                    return self._json(status, body, request_id, replayed=True)
                self._request_ctx = {"id": request_id, "idempotency_key": key}
                self._host_url = request.host_url.rstrip("/")  # for the url of hosted pages
                try:
                    status, body = 200, getattr(self, "_" + endpoint)(parse_form(pairs), **args)
                except StripeError as e:
                    if e.status == 400:
                        raise  # failed validation: Stripe saves no idempotent result
                    status, body = e.status, e.body()
                finally:
                    self._request_ctx = {"id": None, "idempotency_key": None}
                if key:  # a copy: a replay answers what the first request got, not today's object
                    self._idempotent[key] = (fingerprint, status, copy.deepcopy(body))
                return self._json(status, body, request_id)
        except StripeError as e:
            return self._json(e.status, e.body(), request_id)

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "basic":  # stripe-python sends Bearer; curl -u sends Basic "key:"
            try:
                credential = base64.b64decode(credential).decode("utf-8", "replace").partition(":")[0]
            except ValueError:
                credential = ""
        elif scheme.lower() != "bearer":
            credential = ""
        if not credential:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization "
                "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if not hmac.compare_digest(credential, self.api_key):
            raise StripeError(401, f"Invalid API Key provided: {credential[:8]}{'*' * 12}{credential[-4:]}")

    def _json(self, status: int, body: dict, request_id: str | None = None, replayed: bool = False) -> Response:
        response = Response(json.dumps(body, indent=2), status=status, mimetype="application/json")
        response.headers["Request-Id"] = request_id or new_id("req")
        response.headers["Stripe-Version"] = self.api_version
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    def _base_url(self) -> str:
        return self.public_url or self._host_url

    # ---- API: customers ---------------------------------------------------------------------

    def _create_customer(self, params: dict) -> dict:
        customer = {
            "id": new_id("cus"),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self.now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": params.get("description"),
            "discount": None,
            "email": params.get("email"),
            "invoice_prefix": secrets.token_hex(4).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "name": params.get("name"),
            "phone": params.get("phone"),
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self.customers[customer["id"]] = customer
        return customer

    def _get_customer(self, params: dict, object_id: str) -> dict:
        if object_id not in self.customers:
            raise _missing("customer", object_id)
        return self.customers[object_id]

    # ---- API: checkout and portal sessions --------------------------------------------------

    def _create_session(self, params: dict) -> dict:
        if params.get("mode") != "subscription":
            if "mode" not in params:
                raise StripeError(400, "Missing required param: mode.", code="parameter_missing", param="mode")
            raise StripeError(400, "This fake supports only mode=subscription.", code="parameter_invalid_string",
                              param="mode")
        if params.get("customer") and params.get("customer_email"):
            raise StripeError(400, "You may only specify one of these parameters: customer, customer_email.",
                              param="customer_email")
        if params.get("customer") and params["customer"] not in self.customers:
            raise _missing("customer", params["customer"], param="customer")
        lines = params.get("line_items") or []
        if not lines:
            raise StripeError(400, "`line_items` is required in `subscription` mode.", code="parameter_missing",
                              param="line_items")
        for i, line in enumerate(lines):
            price = line.get("price")
            if not price or (self.prices is not None and price not in self.prices):
                raise _missing("price", price or "", param=f"line_items[{i}][price]")
        session_id = new_id("cs_test")
        now = self.now()
        total = sum(self._unit_amount(line["price"]) * int(line.get("quantity", 1)) for line in lines)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "allow_promotion_codes": _truthy(params.get("allow_promotion_codes")) or None,
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": "usd",
            "customer": params.get("customer"),
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "expires_at": now + 24 * 3600,
            "invoice": None,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "mode": "subscription",
            "payment_status": "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": params.get("success_url"),
            "ui_mode": "hosted_page",
            "url": f"{self._base_url()}/checkout/{session_id}",
        }
        self.sessions[session_id] = session
        self._checkout_lines[session_id] = {"lines": lines, "subscription_data": params.get("subscription_data") or {}}
        return session

    def _get_session(self, params: dict, object_id: str) -> dict:
        if object_id not in self.sessions:
            raise _missing("checkout.session", object_id)
        return self.sessions[object_id]

    def _expire_session(self, params: dict, object_id: str) -> dict:
        """Only an open session can be expired; it can then never be paid."""
        session = self._get_session({}, object_id)
        if session["status"] != "open":
            raise StripeError(400, f"Only Checkout Sessions with a status in ['open'] can be expired. This "
                              f"Checkout Session has a status of '{session['status']}'.",
                              code="checkout_session_not_open")
        session.update(status="expired", url=None)
        self._emit("checkout.session.expired", session)
        return session

    def _create_portal_session(self, params: dict) -> dict:
        customer = params.get("customer")
        if not customer:
            raise StripeError(400, "Missing required param: customer.", code="parameter_missing", param="customer")
        if customer not in self.customers:
            raise _missing("customer", customer, param="customer")
        portal_id = new_id("bps")
        portal = {
            "id": portal_id,
            "object": "billing_portal.session",
            "configuration": "bpc_fake_default",
            "created": self.now(),
            "customer": customer,
            "flow": None,
            "livemode": False,
            "locale": None,
            "on_behalf_of": None,
            "return_url": params.get("return_url"),
            "url": f"{self._base_url()}/billing_portal/{portal_id}",
        }
        self.portal_sessions[portal_id] = portal
        return portal

    # ---- API: subscriptions -----------------------------------------------------------------

    def _get_subscription(self, params: dict, object_id: str) -> dict:
        if object_id not in self.subscriptions:
            raise _missing("subscription", object_id)
        return self.subscriptions[object_id]

    def _update_subscription(self, params: dict, object_id: str) -> dict:
        sub = self._get_subscription({}, object_id)
        if sub["status"] == "canceled" and set(params) - {"metadata", "cancellation_details", "expand"}:
            raise StripeError(400, "A canceled subscription can only update its cancellation_details and metadata.")
        for i, item in enumerate(params.get("items") or []):
            if self.prices is not None and item.get("price") and item["price"] not in self.prices:
                raise _missing("price", item["price"], param=f"items[{i}][price]")
        before = copy.deepcopy(sub)
        if "cancel_at_period_end" in params:
            sub["cancel_at_period_end"] = _truthy(params["cancel_at_period_end"])
            sub["canceled_at"] = self.now() if sub["cancel_at_period_end"] else None
        if "cancel_at" in params:
            sub["cancel_at"] = int(params["cancel_at"]) if params["cancel_at"] else None
        if "metadata" in params:
            metadata = params["metadata"] if isinstance(params["metadata"], dict) else {}
            sub["metadata"] = {k: v for k, v in {**sub["metadata"], **metadata}.items() if v != ""}
        for i, item in enumerate(params.get("items") or []):
            if item.get("price"):
                sub["items"]["data"][i]["price"] = self._price(item["price"])
        self._emit_updated(sub, before)
        return sub

    def _delete_subscription(self, params: dict, object_id: str) -> dict:
        sub = self._get_subscription({}, object_id)
        if sub["status"] == "canceled":
            raise _missing("subscription", object_id)
        self._cancel_now(sub, reason="cancellation_requested")
        return sub

    # ---- hosted pages -----------------------------------------------------------------------

    def _page_checkout(self, request: Request, object_id: str) -> Response:
        session = self.sessions.get(object_id) or _raise(NotFound())
        lines = "".join(
            f"<li>{html.escape(line['price'])} &times; {html.escape(str(line.get('quantity', 1)))}</li>"
            for line in self._checkout_lines[object_id]["lines"]
        )
        amount = f"${session['amount_total'] / 100:.2f} / month"
        if session["status"] != "open":
            body = f"<p>This checkout session is {html.escape(session['status'])}.</p>"
        else:
            cancel = session.get("cancel_url")
            body = (
                f"<ul>{lines}</ul><p>Total: {amount}</p>"
                f'<form method="post" action="/checkout/{object_id}/pay"><button type="submit">Pay</button></form>'
                + (f'<p><a href="{html.escape(cancel)}">Cancel</a></p>' if cancel else "")
            )
        return _html("Fake Stripe Checkout", body)

    def _page_pay(self, request: Request, object_id: str) -> Response:
        if object_id not in self.sessions:
            raise NotFound()
        try:
            redirect_to = self.complete_checkout(object_id)
        except StripeError as e:
            return _html("Fake Stripe Checkout", f"<p>{html.escape(e.message)}</p>", status=e.status)
        if not redirect_to:
            return _html("Fake Stripe Checkout", "<p>Payment complete.</p>")
        return Response(status=303, headers={"Location": redirect_to})

    def _page_portal(self, request: Request, object_id: str) -> Response:
        portal = self.portal_sessions.get(object_id) or _raise(NotFound())
        rows = []
        for sub in self.subscriptions.values():
            if sub["customer"] != portal["customer"] or sub["status"] == "canceled":
                continue
            item = sub["items"]["data"][0]
            action = "resume" if sub["cancel_at_period_end"] else "cancel"
            label = "Don't cancel" if action == "resume" else "Cancel at period end"
            rows.append(
                f"<li>{html.escape(item['price']['id'])}: {html.escape(sub['status'])}"
                f"{' (cancels at period end)' if sub['cancel_at_period_end'] else ''}"
                f'<form method="post" action="/billing_portal/{object_id}/{sub["id"]}/{action}">'
                f'<button type="submit">{label}</button></form></li>'
            )
        back = portal.get("return_url")
        body = f"<ul>{''.join(rows) or '<li>No subscriptions.</li>'}</ul>" + (
            f'<p><a href="{html.escape(back)}">Return</a></p>' if back else ""
        )
        return _html("Fake Stripe customer portal", body)

    def _page_portal_action(self, request: Request, object_id: str, sub_id: str, action: str) -> Response:
        portal = self.portal_sessions.get(object_id) or _raise(NotFound())
        sub = self.subscriptions.get(sub_id) or _raise(NotFound())
        if sub["customer"] != portal["customer"] or action not in ("cancel", "resume"):
            raise NotFound()
        with self._lock:
            before = copy.deepcopy(sub)
            sub["cancel_at_period_end"] = action == "cancel"
            sub["canceled_at"] = self.now() if action == "cancel" else None
            self._emit_updated(sub, before)
        return Response(status=303, headers={"Location": f"/billing_portal/{object_id}"})

    # ---- simulation -------------------------------------------------------------------------

    def complete_checkout(self, session_id: str) -> str | None:
        """Pay an open session as the hosted page's button does; answers its success URL."""
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise StripeError(400, f"This checkout session is {session['status']}.")
            customer_id = session["customer"] or self._create_customer({"email": session["customer_email"]})["id"]
            checkout = self._checkout_lines[session_id]
            sub = self._new_subscription(customer_id, checkout["lines"], checkout["subscription_data"])
            invoice = self._new_invoice(sub, "subscription_create", paid=True)
            email = self.customers[customer_id]["email"]
            session.update(
                status="complete",
                payment_status="paid" if invoice["amount_due"] else "no_payment_required",
                customer=customer_id,
                subscription=sub["id"],
                invoice=invoice["id"],
                customer_details={"email": email, "name": None, "phone": None, "tax_exempt": "none"},
                url=None,
            )
            self._emit("checkout.session.completed", session)
            self._emit("customer.subscription.created", sub)
            self._emit("invoice.paid", invoice)
        self._flush()
        success = session["success_url"]
        return success.replace("{CHECKOUT_SESSION_ID}", session_id) if success else None

    def cancel_at_period_end(self, sub_id: str) -> dict:
        with self._lock:
            result = self._update_subscription({"cancel_at_period_end": "true"}, sub_id)
        self._flush()
        return result

    def end_period(self, sub_id: str) -> dict:
        """Move the clock to the period's end. A subscription set to cancel then ends
        (``customer.subscription.deleted``); any other renews for 30 days (``invoice.paid`` and
        ``customer.subscription.updated``)."""
        with self._lock:
            sub = self.subscriptions[sub_id]
            item = sub["items"]["data"][0]
            ends_at = sub["cancel_at"] or item["current_period_end"]
            self._offset += max(0, ends_at - self.now())
            if sub["cancel_at_period_end"] or sub["cancel_at"]:
                self._cancel_now(sub, reason="cancellation_requested")
            else:
                before = copy.deepcopy(sub)
                item["current_period_start"] = item["current_period_end"]
                item["current_period_end"] += PERIOD_SECONDS
                sub["status"] = "active"
                invoice = self._new_invoice(sub, "subscription_cycle", paid=True)
                sub["latest_invoice"] = invoice["id"]
                self._emit("invoice.paid", invoice)
                self._emit_updated(sub, before)
        self._flush()
        return sub

    def fail_payment(self, sub_id: str) -> dict:
        """A renewal payment fails: ``invoice.payment_failed`` and the subscription goes past_due."""
        with self._lock:
            sub = self.subscriptions[sub_id]
            before = copy.deepcopy(sub)
            invoice = self._new_invoice(sub, "subscription_cycle", paid=False)
            sub["latest_invoice"] = invoice["id"]
            sub["status"] = "past_due"
            self._emit("invoice.payment_failed", invoice)
            self._emit_updated(sub, before)
        self._flush()
        return sub

    def recover_payment(self, sub_id: str) -> dict:
        """The open invoice gets paid on retry: ``invoice.paid`` and the subscription is active again."""
        with self._lock:
            sub = self.subscriptions[sub_id]
            invoice = self.invoices[sub["latest_invoice"]]
            before = copy.deepcopy(sub)
            invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
            invoice["status_transitions"]["paid_at"] = self.now()
            sub["status"] = "active"
            self._emit("invoice.paid", invoice)
            self._emit_updated(sub, before)
        self._flush()
        return sub

    # ---- events and webhooks ----------------------------------------------------------------

    def replay(self, event_id: str) -> Delivery | None:
        """Send a logged event again (same id and body, fresh signature)."""
        return self._send(event_id)

    def deliver_events(self, ids: Iterable[str] | None = None, order: str = "given",
                       seed: int | None = None) -> list[Delivery | None]:
        """Send logged events (default: all), in ``order``: ``given``, ``reversed`` or ``shuffled``."""
        ids = list(self.events) if ids is None else list(ids)
        if order == "reversed":
            ids.reverse()
        elif order == "shuffled":
            random.Random(seed).shuffle(ids)
        elif order != "given":
            raise ValueError(f"unknown order {order!r}")
        return [self._send(event_id) for event_id in ids]

    def event_ids(self, event_type: str | None = None) -> list[str]:
        return [e["id"] for e in self.events.values() if event_type in (None, e["type"])]

    def _emit(self, event_type: str, obj: dict, previous_attributes: dict | None = None) -> dict:
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1 if self.webhook_url else 0,
            "request": dict(self._request_ctx),
            "type": event_type,
        }
        if previous_attributes is not None:
            event["data"]["previous_attributes"] = previous_attributes
        self.events[event["id"]] = event
        if self.auto_deliver:
            self._pending.append(event["id"])
        return event

    def _emit_updated(self, sub: dict, before: dict) -> None:
        previous = {k: v for k, v in before.items() if sub.get(k) != v}
        if previous:
            self._emit("customer.subscription.updated", sub, previous)

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for event_id in pending:
            self._send(event_id)

    def _send(self, event_id: str) -> Delivery | None:
        if not self.webhook_url:
            return None
        event = self.events[event_id]
        payload = json.dumps(event, indent=2).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(payload, self.webhook_secret),
        }
        try:
            delivery = Delivery(event_id, event["type"], self.deliver(self.webhook_url, payload, headers))
        except Exception as e:  # noqa: BLE001 - any receiver failure is recorded, as Stripe's dashboard shows it
            delivery = Delivery(event_id, event["type"], None, repr(e))
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    # ---- object builders --------------------------------------------------------------------

    def _unit_amount(self, price_id: str) -> int:
        return (self.prices or {}).get(price_id, DEFAULT_UNIT_AMOUNT)

    def _price(self, price_id: str) -> dict:
        return {
            "id": price_id,
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "currency": "usd",
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "product": "prod_" + hashlib.sha256(price_id.encode()).hexdigest()[:14],
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
            "type": "recurring",
            "unit_amount": self._unit_amount(price_id),
        }

    def _new_subscription(self, customer_id: str, lines: list[dict], subscription_data: dict) -> dict:
        now = self.now()
        sub_id = new_id("sub")
        trial_days = int(subscription_data.get("trial_period_days") or 0)
        period_end = now + (trial_days * 24 * 3600 if trial_days else PERIOD_SECONDS)
        items = [
            {
                "id": new_id("si"),
                "object": "subscription_item",
                "created": now,
                "current_period_start": now,
                "current_period_end": period_end,
                "metadata": {},
                "price": self._price(line["price"]),
                "quantity": int(line.get("quantity", 1)),
                "subscription": sub_id,
            }
            for line in lines
        ]
        sub = {
            "id": sub_id,
            "object": "subscription",
            "billing_cycle_anchor": period_end if trial_days else now,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": now,
            "currency": "usd",
            "customer": customer_id,
            "default_payment_method": new_id("pm"),
            "ended_at": None,
            "items": {"object": "list", "data": items, "has_more": False, "total_count": len(items),
                      "url": f"/v1/subscription_items?subscription={sub_id}"},
            "latest_invoice": None,
            "livemode": False,
            "metadata": subscription_data.get("metadata") or {},
            "start_date": now,
            "status": "trialing" if trial_days else "active",
            "trial_end": period_end if trial_days else None,
            "trial_start": now if trial_days else None,
        }
        self.subscriptions[sub_id] = sub
        return sub

    def _new_invoice(self, sub: dict, billing_reason: str, *, paid: bool) -> dict:
        now = self.now()
        item = sub["items"]["data"][0]
        amount = 0 if sub["status"] == "trialing" else sum(
            i["price"]["unit_amount"] * i["quantity"] for i in sub["items"]["data"]
        )
        invoice = {
            "id": new_id("in"),
            "object": "invoice",
            "amount_due": amount,
            "amount_paid": amount if paid else 0,
            "amount_remaining": 0 if paid else amount,
            "attempt_count": 1,
            "attempted": True,
            "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": "usd",
            "customer": sub["customer"],
            "livemode": False,
            "metadata": {},
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            },
            "period_start": item["current_period_start"],
            "period_end": item["current_period_end"],
            "status": "paid" if paid else "open",
            "status_transitions": {"finalized_at": now, "paid_at": now if paid else None},
            "subtotal": amount,
            "total": amount,
        }
        self.invoices[invoice["id"]] = invoice
        sub["latest_invoice"] = invoice["id"]
        return invoice

    def _cancel_now(self, sub: dict, reason: str) -> None:
        before = copy.deepcopy(sub)
        now = self.now()
        sub.update(status="canceled", ended_at=now, canceled_at=sub["canceled_at"] or now)
        sub["cancellation_details"] = {**sub["cancellation_details"], "reason": reason}
        self._emit("customer.subscription.deleted", sub, {k: v for k, v in before.items() if sub.get(k) != v})


def _raise(exc: Exception) -> Any:
    raise exc


def _html(title: str, body: str, status: int = 200) -> Response:
    # an empty icon: the browser asks no /favicon.ico, which the fake would answer 404
    page = (f'<!doctype html><html><head><title>{title}</title><link rel="icon" href="data:,"></head>'
            f"<body><h1>{title}</h1>{body}</body></html>")
    return Response(page, status=status, mimetype="text/html")


@dataclass
class RunningFake:
    base_url: str
    stop: Callable[[], None]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: Callable, host: str = "127.0.0.1", port: int = 0) -> RunningFake:
    """Serve a WSGI app (the fake) on a loopback port from a daemon thread."""
    server = make_server(host, port, app, threaded=True)
    # A short poll interval keeps stop() fast (serve_forever checks for shutdown between polls).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-stripe", daemon=True)
    thread.start()
    base_url = f"http://{host}:{server.server_port}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return RunningFake(base_url, stop)
