"""Password hashing with argon2id (argon2-cffi: the reference implementation's bindings, memory-hard).

Each hash or verification holds ``memory_cost`` KiB (64 MiB by default) while it runs, so at most
``config.password_hash_concurrency()`` run at once in a process; the others wait their turn. A
burst of sign-ups or logins then costs that many times 64 MiB, not one 64 MiB per request. Lambda
runs one request per execution environment, so there the cap is not reached; the local stack's
threaded server and any threaded caller are bounded by it. ``python -m bench.password_bench``
measures the memory of one hash and prints the Lambda memory setting these parameters need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from chalicelib import config

MIN_LENGTH = 10
MAX_LENGTH = 256


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher(**config.password_hash_params())


@lru_cache(maxsize=1)
def _slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(config.password_hash_concurrency())


T = TypeVar("T")


def _bounded(work: Callable[[], T]) -> T:
    """Runs one hash or verification once a slot is free."""
    with _slots():
        return work()


def hash_password(password: str) -> str:
    return _bounded(lambda: _hasher().hash(password))


def verify_password(stored_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _bounded(lambda: _hasher().verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password-used-for-timing")


def burn_equal_time(password: str) -> None:
    """Spend the time of one verification, so unknown emails answer as slowly as wrong passwords."""
    verify_password(_dummy_hash(), password)
