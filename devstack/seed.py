"""Demo data for the local stack: a user and workspace whose credentials are printed on start."""

from __future__ import annotations

DEMO_EMAIL = "demo@costpilot.local"
DEMO_PASSWORD = "demo-password-123"


def seed_demo() -> dict:
    """Creates the demo account (idempotent across restarts against the same emulation)."""
    from chalicelib.errors import AlreadyExists
    from chalicelib.services import accounts

    try:
        created = accounts.signup(DEMO_EMAIL, DEMO_PASSWORD, "Demo workspace")
    except AlreadyExists:
        created = {"email": DEMO_EMAIL}
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, **created}
