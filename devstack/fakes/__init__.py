"""Fake provider APIs: the outside world for the local stack and the tests.

Each fake is a WSGI app speaking the provider's real wire format (paths, params, pagination,
money shapes, error bodies; see /work/shared/providers.md) over an in-memory ledger seeded
deterministically, so a test can compare what a client normalised with what the fake "billed",
to the cent. Use in-process with ``httpx.WSGITransport(app=fake)`` or on a loopback port with
``serve(fake)``.
"""

from devstack.fakes.anthropic import FakeAnthropic
from devstack.fakes.balance_transactions import FakeStripeBalance
from devstack.fakes.base import FakeProvider, ServedFake, serve
from devstack.fakes.bigquery import FakeBigQuery
from devstack.fakes.openai import FakeOpenAI
from devstack.fakes.twilio import FakeTwilio

__all__ = ["FakeAnthropic", "FakeBigQuery", "FakeOpenAI", "FakeProvider", "FakeStripeBalance", "FakeTwilio",
           "ServedFake", "serve"]
