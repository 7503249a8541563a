"""Every setting the app reads, in one place. Values are read inside functions, never at import.

Stage environment variables come from `.chalice/config.json`. Pure reads: nothing here does I/O
(secrets are read at run time by name through ``adapters.secrets``). Nothing here knows whether it
runs on Lambda or on the local stack: only the endpoint (AWS_ENDPOINT_URL, honoured by botocore)
and the credentials differ.
"""

from __future__ import annotations

import os


def stage() -> str:
    return os.environ.get("COSTPILOT_STAGE", "dev")


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def resource_name(logical: str) -> str:
    """Physical name of a table or queue declared in infra/resources.json (``costpilot-{stage}-x``)."""
    return f"costpilot-{stage()}-{logical}"


def kms_key_id() -> str:
    return os.environ.get("COSTPILOT_KMS_KEY_ID", f"alias/costpilot-{stage()}")


def public_url() -> str:
    """Base URL users reach the app at (links in emails, Stripe return URLs)."""
    return os.environ.get("COSTPILOT_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")


def local_channels_allowed() -> bool:
    """Alert channels may post to plain http and to loopback/private addresses. Only the local stack
    sets ``COSTPILOT_ALLOW_LOCAL_CHANNELS=true`` (its receivers listen on 127.0.0.1); every other
    stage, deployed or not, gets the strict rules (https, public addresses, checked at connect)."""
    return os.environ.get("COSTPILOT_ALLOW_LOCAL_CHANNELS", "false").lower() == "true"


def token_ttl_seconds() -> int:
    return int(os.environ.get("COSTPILOT_TOKEN_TTL_SECONDS", str(12 * 3600)))


def max_body_bytes() -> int:
    return int(os.environ.get("COSTPILOT_MAX_BODY_BYTES", str(1024 * 1024)))


def login_max_failures() -> int:
    """Failed logins one client may make against one account per throttle window."""
    return int(os.environ.get("COSTPILOT_LOGIN_MAX_FAILURES", "5"))


def login_max_client_failures() -> int:
    """Failed logins one client may make against all accounts together per throttle window."""
    return int(os.environ.get("COSTPILOT_LOGIN_MAX_CLIENT_FAILURES", "30"))


def login_lockout_seconds() -> int:
    """The login throttle's window: counters start afresh after it."""
    return int(os.environ.get("COSTPILOT_LOGIN_LOCKOUT_SECONDS", "900"))


def password_hash_params() -> dict[str, int]:
    """argon2id cost. Tests lower it through the environment to keep the suite fast."""
    return {
        "time_cost": int(os.environ.get("COSTPILOT_ARGON2_TIME_COST", "3")),
        "memory_cost": int(os.environ.get("COSTPILOT_ARGON2_MEMORY_KIB", "65536")),
        "parallelism": 1,
    }


def password_hash_concurrency() -> int:
    """argon2id hashes run at once in one process (each holds ``memory_cost`` KiB while it runs)."""
    return max(1, int(os.environ.get("COSTPILOT_ARGON2_CONCURRENCY", "2")))


def provider_base_url(provider: str) -> str | None:
    """Where a provider's API lives; unset means the provider's real endpoint. The local stack
    points these at its fake providers (``COSTPILOT_PROVIDER_URL_OPENAI=http://127.0.0.1:...``)."""
    return os.environ.get(f"COSTPILOT_PROVIDER_URL_{provider.upper()}") or None


def sync_interval_minutes() -> int:
    """Default interval between scheduled syncs of a connection (per stage)."""
    return int(os.environ.get("COSTPILOT_SYNC_INTERVAL_MINUTES", "15"))


def backfill_days() -> int:
    return int(os.environ.get("COSTPILOT_BACKFILL_DAYS", "90"))


def restatement_days() -> int:
    """Days re-fetched on every sync because providers restate recent buckets (at least 2)."""
    return max(2, int(os.environ.get("COSTPILOT_RESTATEMENT_DAYS", "3")))


def retention_days() -> int:
    """How old a pushed event may be (and how long usage history is kept)."""
    return int(os.environ.get("COSTPILOT_RETENTION_DAYS", "400"))


def stripe_api_base() -> str | None:
    """Where the Stripe API lives; unset means api.stripe.com. The local stack and the tests point
    it at the fake Stripe (``COSTPILOT_STRIPE_API_BASE=http://127.0.0.1:...``)."""
    return os.environ.get("COSTPILOT_STRIPE_API_BASE") or None


def stripe_price_ids() -> dict[str, str]:
    """The stage's Stripe price ids, keyed as domain.plans names them: ``COSTPILOT_STRIPE_PRICE_PRO``
    gives ``{"STRIPE_PRICE_PRO": "price_..."}``. A paid plan without one cannot be bought here."""
    prefix = "COSTPILOT_STRIPE_PRICE_"
    return {name.removeprefix("COSTPILOT_"): value for name, value in os.environ.items()
            if name.startswith(prefix) and value}


def alert_sender() -> str:
    """The verified SES sender of alert and digest emails (infra parameter SenderEmail)."""
    return os.environ.get("COSTPILOT_ALERT_SENDER", "alerts@costpilot.local")


def alert_coalesce_seconds() -> int:
    """Usage written within this many seconds of a queued evaluation joins it (SQS DelaySeconds)."""
    return max(0, min(int(os.environ.get("COSTPILOT_ALERT_COALESCE_SECONDS", "1")), 900))


def alert_history_days() -> int:
    """How long firings and their delivery records are kept (TTL)."""
    return int(os.environ.get("COSTPILOT_ALERT_HISTORY_DAYS", "400"))


def twilio_api_base() -> str:
    """Where Twilio's REST API lives (CostPilot's own account sends alert SMS there). The local
    stack and the tests point it at the fake (``COSTPILOT_TWILIO_API_BASE=http://127.0.0.1:...``)."""
    return (os.environ.get("COSTPILOT_TWILIO_API_BASE") or "https://api.twilio.com").rstrip("/")


def sms_daily_cap() -> int:
    """SMS one workspace may be sent per UTC day, verification codes included."""
    return max(0, int(os.environ.get("COSTPILOT_SMS_DAILY_CAP", "25")))
