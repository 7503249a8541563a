"""Key admin calls against the fakes in their real shapes: Anthropic sets a key's status (and back),
OpenAI deletes a project key; an unknown key is ``KeyNotFound`` (404), an admin key that may not
manage keys an ``AuthError`` (403); ids that are not ids never reach the provider."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from chalicelib.providers import key_admin
from chalicelib.providers.anthropic import AnthropicClient
from chalicelib.providers.errors import AuthError
from chalicelib.providers.openai import OpenAIClient
from devstack.fakes import FakeAnthropic, FakeOpenAI
from devstack.fakes.anthropic import API_KEYS as ANTHROPIC_KEYS
from devstack.fakes.openai import API_KEYS as OPENAI_KEYS
from devstack.fakes.openai import PROJECTS

NOW = datetime(2025, 9, 10, 15, 30, tzinfo=UTC)
LIMITED = "limited-admin-key"


def client(cls, fake, key, clock, sleep):
    return cls(key, transport=httpx.WSGITransport(app=fake), now=clock, sleep=sleep)


def test_anthropic_keys_are_disabled_and_enabled_again(clock, sleep):
    fake = FakeAnthropic(seed=1, now=clock, history_days=2, limited_keys={LIMITED})
    c = client(AnthropicClient, fake, fake.admin_key, clock, sleep)
    state = key_admin.perform(c, "disable", ANTHROPIC_KEYS[0])
    assert (state.api_key_id, state.status) == (ANTHROPIC_KEYS[0], "inactive")
    assert fake.key_status(ANTHROPIC_KEYS[0]) == "inactive" and fake.key_status(ANTHROPIC_KEYS[1]) == "active"
    assert not fake.grow_today(api_key=ANTHROPIC_KEYS[0])
    assert key_admin.perform(c, "disable", ANTHROPIC_KEYS[0]).status == "inactive"  # idempotent
    assert key_admin.perform(c, "enable", ANTHROPIC_KEYS[0]).status == "active"
    [post] = [r for r in fake.requests if r.method == "POST"][:1]
    assert post.path == f"/v1/organizations/api_keys/{ANTHROPIC_KEYS[0]}"
    with pytest.raises(key_admin.KeyNotFound):
        key_admin.perform(c, "disable", "apikey_01Unknown")
    with pytest.raises(AuthError) as refused:
        key_admin.perform(client(AnthropicClient, fake, LIMITED, clock, sleep), "disable", ANTHROPIC_KEYS[1])
    assert refused.value.status == 403 and fake.key_status(ANTHROPIC_KEYS[1]) == "active"
    with pytest.raises(ValueError):
        key_admin.perform(c, "delete", ANTHROPIC_KEYS[1])  # Anthropic keys are disabled, not deleted here


def test_openai_project_keys_are_deleted_once(clock, sleep):
    fake = FakeOpenAI(seed=2, now=clock, history_days=2, limited_keys={LIMITED})
    c = client(OpenAIClient, fake, fake.admin_key, clock, sleep)
    with pytest.raises(key_admin.KeyNotFound):  # the key lives in the other project
        key_admin.perform(c, "delete", OPENAI_KEYS[0], PROJECTS[1])
    with pytest.raises(AuthError) as refused:
        key_admin.perform(client(OpenAIClient, fake, LIMITED, clock, sleep), "delete", OPENAI_KEYS[0], PROJECTS[0])
    assert refused.value.status == 403 and "api.management.write" in refused.value.message
    assert key_admin.perform(c, "delete", OPENAI_KEYS[0], PROJECTS[0]).status == "deleted"
    assert fake.key_status(OPENAI_KEYS[0]) == "deleted" and not fake.grow_today(api_key=OPENAI_KEYS[0])
    with pytest.raises(key_admin.KeyNotFound):
        key_admin.perform(c, "delete", OPENAI_KEYS[0], PROJECTS[0])
    for bad in ("../costs", "key x", ""):
        with pytest.raises(ValueError):
            key_admin.perform(c, "delete", bad, PROJECTS[0])
    with pytest.raises(ValueError):
        key_admin.perform(c, "disable", OPENAI_KEYS[1], PROJECTS[1])  # OpenAI keys cannot be paused
    assert [r.method for r in fake.requests].count("DELETE") == 4


def test_the_local_stacks_leak_control_grows_one_keys_usage_until_it_is_stopped(clock):
    fake = FakeAnthropic(seed=3, now=clock, history_days=0)
    http = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="http://fake")
    before = {k: sum(u.output_tokens for u in fake.usage if u.api_key_id == k) for k in ANTHROPIC_KEYS}
    assert http.post("/_fake/leak", params={"api_key": ANTHROPIC_KEYS[0]}).json() == {"leaked": ANTHROPIC_KEYS[0]}
    after = {k: sum(u.output_tokens for u in fake.usage if u.api_key_id == k) for k in ANTHROPIC_KEYS}
    assert after[ANTHROPIC_KEYS[0]] - before[ANTHROPIC_KEYS[0]] == 40 * 400_000
    assert after[ANTHROPIC_KEYS[1]] == before[ANTHROPIC_KEYS[1]]
    assert http.post("/_fake/leak", params={"api_key": "apikey_nope"}).status_code == 404
    fake.keys[ANTHROPIC_KEYS[0]].status = "inactive"
    http.post("/_fake/leak", params={"api_key": ANTHROPIC_KEYS[0]})
    assert sum(u.output_tokens for u in fake.usage if u.api_key_id == ANTHROPIC_KEYS[0]) == after[ANTHROPIC_KEYS[0]]
