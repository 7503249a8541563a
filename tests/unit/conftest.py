"""The provider tests' shared preamble: a hand-moved clock at the test module's ``NOW`` (the same
instance goes to the fake and to the client) and a sleep that records instead of waiting."""

from __future__ import annotations

import pytest

from devstack.fakes.testing import FakeClock, RecordingSleep


@pytest.fixture
def clock(request):
    return FakeClock(request.module.NOW)


@pytest.fixture
def sleep():
    return RecordingSleep()
