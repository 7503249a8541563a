import pytest

from chalicelib.domain import identity
from chalicelib.domain.roles import Permission, Role, allows, can_manage_member


def test_permission_table():
    assert allows(Role.MEMBER, Permission.READ)
    assert not allows(Role.MEMBER, Permission.MANAGE_CONNECTIONS)
    for p in (Permission.MANAGE_CONNECTIONS, Permission.MANAGE_ALERTS, Permission.MANAGE_KEYS):
        assert allows(Role.ADMIN, p) and allows(Role.OWNER, p)
    for p in (Permission.MANAGE_BILLING, Permission.MANAGE_ROLES, Permission.DELETE_WORKSPACE):
        assert allows(Role.OWNER, p) and not allows(Role.ADMIN, p)
    assert can_manage_member(Role.ADMIN, Role.MEMBER) and not can_manage_member(Role.ADMIN, Role.OWNER)


@pytest.mark.parametrize("raw,expected", [(" Alice@Example.COM ", "alice@example.com"),
                                          ("ｂob@example.com", "bob@example.com")])
def test_email_normalisation(raw, expected):
    assert identity.normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "no-at", "a@b", "a b@example.com", "x" * 250 + "@example.com"])
def test_bad_emails(raw):
    with pytest.raises(ValueError):
        identity.normalize_email(raw)


def test_throttle_keys_are_per_pair_and_client_per_window_and_hide_who():
    w = identity.throttle_window("203.0.113.7", "owner@example.com", 1_000, 900)
    assert w.expires_at == 1_800 and w.pair_key != w.client_key
    assert "203.0.113.7" not in w.pair_key + w.client_key and "owner" not in w.pair_key
    same_window = identity.throttle_window("203.0.113.7", "owner@example.com", 1_799, 900)
    assert same_window == w
    other_client = identity.throttle_window("198.51.100.1", "owner@example.com", 1_000, 900)
    assert other_client.pair_key != w.pair_key and other_client.client_key != w.client_key
    other_email = identity.throttle_window("203.0.113.7", "x@example.com", 1_000, 900)
    assert other_email.pair_key != w.pair_key and other_email.client_key == w.client_key
    next_window = identity.throttle_window("203.0.113.7", "owner@example.com", 1_800, 900)
    assert next_window.pair_key != w.pair_key and next_window.expires_at == 2_700
