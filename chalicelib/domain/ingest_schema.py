"""The wire schema of one pushed usage event (``UsageEventIn``: strict, exact decimals, RFC 3339
times, no content) and the messages its errors become (``validate_event``: field, message)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.domain.ingest_privacy import METADATA_ONLY, is_content_key
from chalicelib.domain.money import MoneyError, normalize_currency, parse_decimal
from chalicelib.domain.usage_query import UNATTRIBUTED

MAX_TOKENS = 10**10
MAX_UNITS = Decimal(10**10)
MAX_COST = Decimal(1_000_000)  # per event, in the event's currency
MAX_DECIMAL_PLACES = 12  # keeps sums of a million events well inside DynamoDB's 38 digits
OUTSIDE_CALENDAR = "outside the calendar"  # a time that UTC cannot hold (years 1 and 9999 with an offset)
MAX_METADATA_ENTRIES = 20
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 256
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
)
RESERVED_METADATA_PREFIX = "cp."
ESTIMATE_CURRENCY = "USD"

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")



def _exact(value: Any) -> Decimal:
    try:
        amount = parse_decimal(value)
    except MoneyError:
        raise PydanticCustomError("decimal", "must be a decimal number or a decimal string") from None
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        raise PydanticCustomError("decimal", f"at most {MAX_DECIMAL_PLACES} decimal places")
    return amount


_Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
_Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"),
]
_Text = Annotated[str, StringConstraints(min_length=1, max_length=128)]
_Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]


class UsageEventIn(BaseModel):
    """One pushed usage event (the wire schema). Strict: no type coercion, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: _Id
    timestamp: datetime
    provider: _Slug
    model: _Text | None = None
    input_tokens: _Tokens | None = None
    output_tokens: _Tokens | None = None
    cached_input_tokens: _Tokens | None = None
    cache_write_tokens: _Tokens | None = None
    units: Decimal | None = None
    unit_type: _Slug | None = None
    cost: Decimal | None = None
    currency: str | None = None
    project: _Text | None = None
    feature: _Text | None = None
    customer: _Text | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime:
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            raise PydanticCustomError(
                "timestamp",
                "must be an RFC 3339 string with a timezone, e.g. 2025-01-31T12:00:00Z",
            )
        text = value.upper().replace(" ", "T")
        if "." in text:  # Python keeps microseconds: cut nanoseconds
            head, _, tail = text.partition(".")
            digits = re.match(r"\d+", tail).group(0)  # type: ignore[union-attr]
            text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits) :]}"
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except ValueError:
            raise PydanticCustomError("timestamp", "not a valid date and time") from None
        except OverflowError:  # 0001-01-01T00:00:00+01:00 or 9999-12-31T23:59:59-01:00 leave the calendar
            raise PydanticCustomError("timestamp", OUTSIDE_CALENDAR) from None

    @field_validator("cost", mode="before")
    @classmethod
    def _cost(cls, value: Any) -> Decimal | None:
        if value is None:
            return None
        amount = _exact(value)
        if amount < 0:
            raise PydanticCustomError("cost", "must not be negative")
        if amount > MAX_COST:
            raise PydanticCustomError("cost", f"must be at most {MAX_COST} per event")
        return amount

    @field_validator("units", mode="before")
    @classmethod
    def _units(cls, value: Any) -> Decimal | None:
        if value is None:
            return None
        amount = _exact(value)
        if amount < 0:
            raise PydanticCustomError("units", "must not be negative")
        if amount > MAX_UNITS:
            raise PydanticCustomError("units", f"must be at most {MAX_UNITS}")
        return amount

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_currency(value)
        except MoneyError:
            raise PydanticCustomError(
                "currency", "unknown currency; expected an ISO 4217 code such as USD"
            ) from None

    @field_validator("model", "project", "feature", "customer")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _CONTROL.search(value):
            raise PydanticCustomError("text", "must not contain control characters")
        if value.strip() != value or not value:
            raise PydanticCustomError("text", "must not start or end with spaces")
        if value == UNATTRIBUTED:
            raise PydanticCustomError("text", f"{UNATTRIBUTED} is reserved")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_METADATA_ENTRIES:
            raise PydanticCustomError("metadata", f"at most {MAX_METADATA_ENTRIES} entries")
        return value

    @model_validator(mode="after")
    def _quantities(self) -> UsageEventIn:
        has_tokens = any(getattr(self, f) is not None for f in TOKEN_FIELDS)
        if has_tokens and (self.units is not None or self.unit_type is not None):
            raise PydanticCustomError("quantity", "give token counts or units + unit_type, not both")
        if not has_tokens:
            if self.units is None and self.unit_type is None:
                raise PydanticCustomError(
                    "quantity",
                    "give token counts (input_tokens...) or units + unit_type",
                )
            if self.units is None:
                raise PydanticCustomError("units", "required with unit_type")
            if self.unit_type is None:
                raise PydanticCustomError("unit_type", "required with units")
        if self.currency is not None and self.cost is None and self.currency != ESTIMATE_CURRENCY:
            raise PydanticCustomError(
                "currency",
                "given without cost; estimates are in USD, so send cost with it",
            )
        return self


_FRIENDLY = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "string_type": "must be a string",
    "dict_type": "must be an object",
    "string_too_short": "must not be empty",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}
# the model-level checks raise errors located at the model; these codes name their field
_MODEL_ERROR_FIELDS = {
    "quantity": "units",
    "units": "units",
    "unit_type": "unit_type",
    "currency": "currency",
}


def _error_field(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    if not loc:
        return _MODEL_ERROR_FIELDS.get(error.get("type", ""), "event")
    return ".".join(loc)


def _error_message(error: Mapping[str, Any], field: str) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden" and is_content_key(field):
        return METADATA_ONLY
    if kind == "string_pattern_mismatch":
        if field == "id":
            return "printable ASCII without spaces, 1-128 characters"
        return "letters, digits and . _ : / - only, starting with a letter or digit"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "greater_than_equal":
        return f"must be >= {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be <= {ctx.get('le')}"
    return _FRIENDLY.get(kind, error.get("msg", "invalid"))


def _metadata_errors(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    metadata = event.get("metadata")
    if not isinstance(metadata, dict):
        return []
    errors = []
    for key, value in metadata.items():
        name = f"metadata.{key}"
        if is_content_key(key) or (isinstance(value, str) and len(value) > MAX_METADATA_VALUE):
            errors.append((name, METADATA_ONLY))
        elif key.startswith(RESERVED_METADATA_PREFIX):
            errors.append((name, f"keys starting with {RESERVED_METADATA_PREFIX!r} are reserved"))
        elif len(key) > MAX_METADATA_KEY or not key:
            errors.append((name, f"keys must be 1-{MAX_METADATA_KEY} characters"))
        elif _CONTROL.search(key) or (isinstance(value, str) and _CONTROL.search(value)):
            errors.append((name, "must not contain control characters"))
    return errors


def validate_event(event: Any) -> tuple[UsageEventIn | None, list[tuple[str, str]]]:
    """The validated event, or the (field, message) errors, content checks first."""
    if not isinstance(event, dict):
        return None, [("event", "must be an object")]
    errors = _metadata_errors(event)
    try:
        parsed = UsageEventIn.model_validate(event)
    except ValidationError as e:
        seen = {f for f, _ in errors}
        for err in e.errors(include_url=False):
            name = _error_field(err)
            if name not in seen:
                errors.append((name, _error_message(err, name)))
                seen.add(name)
        return None, errors
    return (None, errors) if errors else (parsed, [])


