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


@pytest.mark.parametrize("raw,expected", [(" Alice@Example.COM ", "alice@example.com"), ("ｂob@example.com", "bob@example.com")])
def test_email_normalisation(raw, expected):
    assert identity.normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "no-at", "a@b", "a b@example.com", "x" * 250 + "@example.com"])
def test_bad_emails(raw):
    with pytest.raises(ValueError):
        identity.normalize_email(raw)


def test_lockout_after_max_failures_and_forgetting_old_ones():
    count, until = 0, 0
    for _ in range(4):
        count, until = identity.after_failure(count, 1000, 1000, max_failures=5, lockout=900)
        assert until == 0
    count, until = identity.after_failure(count, 1000, 1000, 5, 900)
    assert (count, until) == (5, 1900)
    count, until = identity.after_failure(count, 1000, 1001, 5, 900)
    assert until == 1001 + 1800  # doubles
    assert identity.after_failure(4, 0, 5000, 5, 900) == (1, 0)  # old failures forgotten
