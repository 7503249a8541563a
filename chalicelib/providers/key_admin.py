"""Stopping a provider API key with the connection's admin key.

- Anthropic: ``POST /v1/organizations/api_keys/{id}`` with ``{"status": "inactive"}`` (and back to
  ``"active"``): reversible. Any Anthropic admin key may do it (admin keys have no scopes).
- OpenAI: project API keys cannot be paused, only deleted:
  ``DELETE /v1/organization/projects/{project_id}/api_keys/{key_id}``. Permanent. The admin key
  needs write access to the organization's projects (a key restricted to reading usage answers 403).

Every call here is idempotent: setting a status twice leaves it set; deleting a key that is
already gone answers ``KeyNotFound``, which the caller records as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib.providers.errors import BadRequest, ProviderError

_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # provider ids: apikey_01…, key_…, proj_…
REVERSIBLE = {"anthropic": True, "openai": False}  # providers whose keys can be stopped, and how
ACTIONS = {"anthropic": ("disable", "enable"), "openai": ("delete",)}


class KeyNotFound(ProviderError):
    """The provider has no such key (404): a wrong id, another organization, or already deleted."""


@dataclass(frozen=True)
class KeyState:
    api_key_id: str
    status: str  # active | inactive | archived | deleted
    name: str | None = None


def valid_id(value: str | None) -> bool:
    return bool(value) and bool(_ID.fullmatch(value or ""))


def not_found(error: BadRequest) -> ProviderError:
    """A 404 as ``KeyNotFound``; any other refusal as it was."""
    if error.status == 404:
        return KeyNotFound(error.provider, error.message, status=404, request_id=error.request_id)
    return error


def perform(client: Any, action: str, api_key_id: str, project_id: str | None = None) -> KeyState:
    """Runs ``action`` (disable | enable | delete) on the key with ``client``'s admin key."""
    provider = client.provider
    if action not in ACTIONS.get(provider, ()):
        raise ValueError(f"{provider} keys cannot be {action}d here")
    if not valid_id(api_key_id) or (provider == "openai" and not valid_id(project_id)):
        raise ValueError("not a key id this provider issues")
    if provider == "anthropic":
        return client.set_key_status(api_key_id, "inactive" if action == "disable" else "active")
    return client.delete_project_key(project_id, api_key_id)
