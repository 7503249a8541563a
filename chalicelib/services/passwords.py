"""Password hashing with argon2id (argon2-cffi: the reference implementation's bindings, memory-hard)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib import config

MIN_LENGTH = 10
MAX_LENGTH = 256


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher(**config.password_hash_params())


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password-used-for-timing")


def burn_equal_time(password: str) -> None:
    """Spend the time of one verification, so unknown emails answer as slowly as wrong passwords."""
    verify_password(_dummy_hash(), password)
