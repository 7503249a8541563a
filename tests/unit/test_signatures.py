"""HMAC request signatures and ingest keys."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from chalicelib.domain.signatures import (
    INGEST_KEY_PREFIX,
    SignatureError,
    bearer_token,
    compute_signature,
    generate_ingest_key,
    generate_signing_secret,
    hash_ingest_key,
    is_ingest_key,
    parse_signature_header,
    public_prefix,
    sign,
    verify_ingest_key,
    verify_signature,
)

SECRET = "cpsig_test_secret_0123456789abcdefghijklmnop"
BODY = (b'{"events":[{"id":"e1","timestamp":"2025-01-01T00:00:00Z","provider":"openai",'
        b'"units":1,"unit_type":"requests"}]}')
T = 1_735_689_600


def reason_of(header, body=BODY, secrets=(SECRET,), now=T):
    with pytest.raises(SignatureError) as info:
        verify_signature(header, body, secrets, now)
    return info.value.reason


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute_signature(SECRET, T, BODY) == expected
    assert sign(SECRET, BODY, T) == f"t={T},v1={expected}"


def test_good_signature_verifies_within_tolerance_both_directions():
    header = sign(SECRET, BODY, T, key_id="cpsig_test_sec")
    for now in (T, T + 300, T - 300, datetime.fromtimestamp(T + 120, UTC)):
        parsed = verify_signature(header, BODY, [SECRET], now)
        assert parsed.timestamp == T
        assert parsed.key_id == "cpsig_test_sec"


def test_stale_signature_is_refused_past_300_seconds_either_way():
    header = sign(SECRET, BODY, T)
    assert reason_of(header, now=T + 301) == SignatureError.STALE
    assert reason_of(header, now=T - 301) == SignatureError.STALE


def test_altered_body_wrong_secret_and_moved_timestamp_are_mismatches():
    header = sign(SECRET, BODY, T)
    assert reason_of(header, body=BODY.replace(b"e1", b"e2")) == SignatureError.MISMATCH
    assert reason_of(header, secrets=("another secret",)) == SignatureError.MISMATCH
    moved = header.replace(f"t={T}", f"t={T + 1}")
    assert reason_of(moved, now=T + 1) == SignatureError.MISMATCH
    assert reason_of(header, secrets=()) == SignatureError.MISMATCH


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(header):
    assert reason_of(header) == SignatureError.MISSING


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={'a' * 64}",  # no timestamp
        f"t={T}",  # no signature
        f"t=abc,v1={'a' * 64}",
        f"t={T},t={T},v1={'a' * 64}",
        f"t={T},v1=nothex",
        f"t={T},v1={'a' * 63}",
        f"t={T}," + ",".join([f"v1={'a' * 64}"] * 9),
        "t=1," + "x" * 3000,
    ],
)
def test_malformed_header(header):
    assert reason_of(header) == SignatureError.MALFORMED


def test_rotation_several_v1_or_several_secrets():
    old, new = "old-secret-value", "new-secret-value"
    both = sign([old, new], BODY, T)
    assert both.count("v1=") == 2
    assert verify_signature(both, BODY, [new], T).timestamp == T  # server already rotated
    assert verify_signature(both, BODY, [old], T).timestamp == T  # server not yet rotated
    assert verify_signature(sign(old, BODY, T), BODY, [new, old], T)  # server accepts both
    assert reason_of(sign(old, BODY, T), secrets=[new]) == SignatureError.MISMATCH


def test_unknown_schemes_are_ignored_and_signature_case_insensitive():
    sig = compute_signature(SECRET, T, BODY)
    header = f"t={T},v0=whatever,v1={sig.upper()}"
    assert parse_signature_header(header).signatures == (sig,)
    assert verify_signature(header, BODY, [SECRET], T)


def test_str_body_is_signed_as_utf8():
    text = '{"events":[{"id":"é"}]}'
    assert verify_signature(sign(SECRET, text, T), text.encode(), [SECRET], T)


def test_ingest_key_generation_shape_and_prefix():
    key = generate_ingest_key()
    assert key.startswith(INGEST_KEY_PREFIX)
    assert len(key) >= len(INGEST_KEY_PREFIX) + 43  # 32 bytes urlsafe base64
    assert is_ingest_key(key)
    assert generate_ingest_key() != key
    prefix = public_prefix(key)
    assert key.startswith(prefix) and 12 <= len(prefix) < len(key) // 2
    assert generate_signing_secret().startswith("cpsig_")
    with pytest.raises(ValueError):
        generate_ingest_key(16)


def test_ingest_key_hash_and_verify():
    key = generate_ingest_key()
    stored = hash_ingest_key(key)
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    assert key not in stored
    assert verify_ingest_key(key, stored)
    assert not verify_ingest_key(key[:-1] + ("A" if key[-1] != "A" else "B"), stored)
    assert not verify_ingest_key(generate_ingest_key(), stored)
    assert not verify_ingest_key(key, "")
    assert not verify_ingest_key(key, "é" * 64)


@pytest.mark.parametrize(
    "value",
    ["", "cpk_live_short", "sk-live_" + "a" * 50, INGEST_KEY_PREFIX + "a b" * 20, None],
)
def test_not_ingest_keys(value):
    assert not is_ingest_key(value)


def test_bearer_token():
    assert bearer_token("Bearer cpk_live_abc") == "cpk_live_abc"
    assert bearer_token("bearer   cpk_live_abc ") == "cpk_live_abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token("Bearer a b") is None
    assert bearer_token(None) is None
