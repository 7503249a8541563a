"""argon2id hashing is bounded in the process: at most COSTPILOT_ARGON2_CONCURRENCY at once."""

from __future__ import annotations

import threading

import pytest

from chalicelib.services import passwords


class GatedHasher:
    """Stands in for argon2's PasswordHasher: each call waits at a gate, counting who is inside."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.calls = 0
        self.gate = threading.Event()
        self.changed = threading.Condition()

    def _enter(self) -> None:
        with self.changed:
            self.inside += 1
            self.calls += 1
            self.most = max(self.most, self.inside)
            self.changed.notify_all()
        assert self.gate.wait(timeout=30)
        with self.changed:
            self.inside -= 1
            self.changed.notify_all()

    def hash(self, password: str) -> str:
        self._enter()
        return "$argon2id$fake"

    def verify(self, stored: str, password: str) -> bool:
        self._enter()
        return True


@pytest.fixture
def gated(monkeypatch):
    monkeypatch.setenv("COSTPILOT_ARGON2_CONCURRENCY", "2")
    fake = GatedHasher()
    passwords._slots.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", lambda: fake)
    yield fake
    fake.gate.set()
    passwords._slots.cache_clear()


def test_a_burst_runs_at_most_the_cap_at_once_and_every_call_completes(gated):
    work = [threading.Thread(target=passwords.hash_password, args=("pw",)) for _ in range(5)]
    work += [threading.Thread(target=passwords.verify_password, args=("$argon2id$x", "pw")) for _ in range(5)]
    for t in work:
        t.start()
    with gated.changed:  # two get in; the eight others wait for a slot
        assert gated.changed.wait_for(lambda: gated.inside == 2, timeout=30)
    assert gated.calls == 2
    gated.gate.set()
    for t in work:
        t.join(timeout=30)
    assert gated.calls == 10 and gated.most == 2 and gated.inside == 0


def test_the_cap_is_at_least_one(monkeypatch):
    monkeypatch.setenv("COSTPILOT_ARGON2_CONCURRENCY", "0")
    from chalicelib import config

    assert config.password_hash_concurrency() == 1
