"""The fake Stripe API, driven by the real stripe-python client over loopback HTTP."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import stripe

from chalicelib.domain.subscription import (
    SubscriptionState,
    apply_event,
    effective_plan,
)
from devstack.fakes.stripe_api import FakeStripe, parse_form, serve_in_thread, sign

API_KEY = "sk_test_fake_costpilot"
SECRET = "whsec_fake_costpilot"
PRICES = {"price_pro": 900, "price_team": 2900}
WEBHOOK_URL = "http://costpilot.invalid/api/stripe/webhook"


class Inbox:
    """A webhook receiver: the pluggable ``deliver`` records what would have been POSTed."""

    def __init__(self):
        self.received = []

    def __call__(self, url, payload, headers):
        self.received.append((url, payload, dict(headers)))
        return 200

    def events(self):
        return [stripe.Webhook.construct_event(p, h["Stripe-Signature"], SECRET) for _, p, h in self.received]

    def types(self):
        return [json.loads(p)["type"] for _, p, _ in self.received]


@pytest.fixture
def inbox():
    return Inbox()


@pytest.fixture
def fake(inbox):
    return FakeStripe(API_KEY, webhook_url=WEBHOOK_URL, webhook_secret=SECRET, prices=PRICES, deliver=inbox)


@pytest.fixture
def server(fake):
    served = serve_in_thread(fake)
    yield served
    served.stop()


@pytest.fixture
def client(server):
    return stripe.StripeClient(API_KEY, base_addresses={"api": server.base_url}, max_network_retries=0)


def no_redirect_opener():
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    return urllib.request.build_opener(NoRedirect)


def pay(url):
    """Press "Pay" on the hosted checkout page; answers the redirect target."""
    page = urllib.request.urlopen(url, timeout=5).read().decode()
    assert "<button" in page and "Pay" in page
    try:
        no_redirect_opener().open(urllib.request.Request(url + "/pay", data=b"", method="POST"), timeout=5)
    except urllib.error.HTTPError as e:
        assert e.code == 303
        return e.headers["Location"]
    raise AssertionError("no redirect after paying")


def create_checkout(client, **extra):
    params = {
        "mode": "subscription",
        "line_items": [{"price": "price_pro", "quantity": 1}],
        "success_url": "http://127.0.0.1:8000/billing/done?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:8000/billing",
        "client_reference_id": "ws_1",
        "metadata": {"workspace_id": "ws_1"},
        **extra,
    }
    return client.v1.checkout.sessions.create(params=params)


def test_parse_form_nested_keys():
    pairs = [("line_items[0][price]", "p"), ("line_items[0][quantity]", "1"), ("metadata[workspace_id]", "w"),
             ("line_items[1][price]", "q"), ("expand[]", "a"), ("expand[]", "b"), ("mode", "subscription")]
    assert parse_form(pairs) == {
        "line_items": [{"price": "p", "quantity": "1"}, {"price": "q"}],
        "metadata": {"workspace_id": "w"},
        "expand": ["a", "b"],
        "mode": "subscription",
    }


def test_customer_create_with_idempotency_key_twice_makes_one_customer(client, fake):
    params = {"email": "owner@example.com", "metadata": {"workspace_id": "ws_1"}}
    first = client.v1.customers.create(params=params, options={"idempotency_key": "ws_1-customer"})
    again = client.v1.customers.create(params=params, options={"idempotency_key": "ws_1-customer"})
    assert first.id == again.id and first.id.startswith("cus_")
    assert len(fake.customers) == 1
    assert first.metadata["workspace_id"] == "ws_1" and first.livemode is False
    assert client.v1.customers.retrieve(first.id).email == "owner@example.com"


def test_same_idempotency_key_with_other_params_is_an_idempotency_error(client):
    client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "k1"})
    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "k1"})
    assert raised.value.http_status == 400
    assert raised.value.json_body["error"]["type"] == "idempotency_error"


def test_idempotent_replay_answers_the_first_response(client, fake):
    options = {"idempotency_key": "ws_1-checkout-1"}
    session = client.v1.checkout.sessions.create(params={"mode": "subscription",
                                                         "line_items": [{"price": "price_pro"}]}, options=options)
    fake.complete_checkout(session.id)
    replayed = client.v1.checkout.sessions.create(params={"mode": "subscription",
                                                          "line_items": [{"price": "price_pro"}]}, options=options)
    assert replayed.id == session.id and replayed.status == "open"
    assert replayed.last_response.headers["Idempotent-Replayed"] == "true"


def test_wrong_api_key_is_an_authentication_error(server):
    wrong = stripe.StripeClient("sk_test_wrong", base_addresses={"api": server.base_url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError) as raised:
        wrong.v1.customers.create(params={"email": "a@example.com"})
    assert raised.value.http_status == 401


def test_missing_object_is_invalid_request_with_stripe_error_shape(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscriptions.retrieve("sub_missing")
    error = raised.value
    assert error.http_status == 404 and error.code == "resource_missing" and error.param == "id"
    assert error.json_body["error"]["type"] == "invalid_request_error"


def test_unknown_price_is_rejected(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        create_checkout(client, line_items=[{"price": "price_nope", "quantity": 1}])
    assert raised.value.param == "line_items[0][price]"


def test_checkout_session_returns_hosted_url(client, server):
    session = create_checkout(client)
    assert session.id.startswith("cs_test_")
    assert session.url == f"{server.base_url}/checkout/{session.id}"
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "subscription")
    assert session.client_reference_id == "ws_1" and session.metadata["workspace_id"] == "ws_1"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_pay_delivers_signed_events_and_redirects(client, fake, inbox):
    session = create_checkout(client)
    location = pay(session.url)
    assert location == f"http://127.0.0.1:8000/billing/done?session={session.id}"

    assert inbox.types() == ["checkout.session.completed", "customer.subscription.created", "invoice.paid"]
    assert {url for url, _, _ in inbox.received} == {WEBHOOK_URL}
    completed, created, paid = inbox.events()  # verified with stripe's own verifier
    assert completed.data.object.subscription == created.data.object.id
    assert completed.data.object.client_reference_id == "ws_1"
    item = created.data.object["items"].data[0]
    assert item.price.id == "price_pro"
    assert item.current_period_end - item.current_period_start == 30 * 24 * 3600
    assert paid.data.object.parent.subscription_details.subscription == created.data.object.id

    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    sub = client.v1.subscriptions.retrieve(done.subscription)
    assert sub.status == "active" and sub.customer == done.customer


def test_events_fold_into_pro_then_cancel_at_period_end_then_free(client, fake, inbox):
    pay(create_checkout(client).url)
    sub_id = next(iter(fake.subscriptions))
    fake.cancel_at_period_end(sub_id)
    fake.end_period(sub_id)
    assert inbox.types()[3:] == ["customer.subscription.updated", "customer.subscription.deleted"]

    states = []
    state = SubscriptionState()
    for _, payload, _ in inbox.received:
        state = apply_event(state, json.loads(payload), {"price_pro": "pro", "price_team": "team"})
        states.append(state)
    period_end = fake.subscriptions[sub_id]["items"]["data"][0]["current_period_end"]
    assert effective_plan(states[2], period_end - 1) == ("pro", None)
    plan, notice = effective_plan(states[3], period_end - 1)
    assert plan == "pro" and notice.code == "cancels_at_period_end"
    assert effective_plan(state, period_end)[0] == "free" and state.status == "canceled"


def test_update_and_delete_through_the_api(client, fake, inbox):
    pay(create_checkout(client).url)
    sub_id = next(iter(fake.subscriptions))
    updated = client.v1.subscriptions.update(sub_id, params={"cancel_at_period_end": True})
    assert updated.cancel_at_period_end is True
    event = json.loads(inbox.received[-1][1])
    assert event["type"] == "customer.subscription.updated"
    assert event["data"]["previous_attributes"]["cancel_at_period_end"] is False
    assert event["request"]["id"] and event["request"]["idempotency_key"]
    canceled = client.v1.subscriptions.cancel(sub_id)
    assert canceled.status == "canceled"
    assert inbox.types()[-1] == "customer.subscription.deleted"


def test_fail_payment_goes_past_due_and_recovers(client, fake, inbox):
    pay(create_checkout(client).url)
    sub_id = next(iter(fake.subscriptions))
    fake.fail_payment(sub_id)
    assert inbox.types()[-2:] == ["invoice.payment_failed", "customer.subscription.updated"]
    assert client.v1.subscriptions.retrieve(sub_id).status == "past_due"
    fake.recover_payment(sub_id)
    assert client.v1.subscriptions.retrieve(sub_id).status == "active"


def test_replay_and_reorder_events(client, fake, inbox):
    fake.auto_deliver = False
    fake.complete_checkout(create_checkout(client).id)
    assert inbox.received == []
    ids = fake.event_ids()
    fake.deliver_events(ids, order="reversed")
    assert inbox.types() == ["invoice.paid", "customer.subscription.created", "checkout.session.completed"]
    fake.replay(ids[0])
    replayed = inbox.events()[-1]
    assert replayed.id == ids[0]


def test_billing_portal_session_returns_url(client, server):
    customer = client.v1.customers.create(params={"email": "owner@example.com"})
    portal = client.v1.billing_portal.sessions.create(params={"customer": customer.id, "return_url": "http://x/"})
    assert portal.url.startswith(f"{server.base_url}/billing_portal/")
    page = urllib.request.urlopen(portal.url, timeout=5).read().decode()
    assert "No subscriptions" in page


def test_portal_cancel_button_sets_cancel_at_period_end(client, fake, inbox):
    session = create_checkout(client)
    pay(session.url)
    sub_id = next(iter(fake.subscriptions))
    customer = fake.subscriptions[sub_id]["customer"]
    portal = client.v1.billing_portal.sessions.create(params={"customer": customer})
    form = urllib.parse.urlsplit(portal.url).path + f"/{sub_id}/cancel"
    urllib.request.urlopen(urllib.request.Request(client_base(portal.url) + form, data=b"", method="POST"), timeout=5)
    assert fake.subscriptions[sub_id]["cancel_at_period_end"] is True
    assert inbox.types()[-1] == "customer.subscription.updated"


def client_base(url):
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_sign_matches_stripe_verifier():
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {}}})
    header = sign(payload, SECRET, int(time.time()))
    assert stripe.Webhook.construct_event(payload, header, SECRET).id == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign(payload, "whsec_other"), SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign(payload, SECRET, int(time.time()) - 600), SECRET)


def test_global_api_base_also_routes_to_the_fake(server, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", API_KEY)
    monkeypatch.setattr(stripe, "api_base", server.base_url)
    assert stripe.Customer.create(email="legacy@example.com").id.startswith("cus_")
