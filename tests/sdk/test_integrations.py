"""instrument_openai / instrument_anthropic on the official clients, whose HTTP goes to local
fakes in the real response shapes: sync, async and streamed calls record model, tokens (cache reads
and writes) and latency, the caller sees the provider's answer unchanged, and no prompt or response
text is in anything sent to CostPilot."""

from __future__ import annotations

import asyncio

import anthropic
import costpilot
import httpx2
import openai
import pytest
from costpilot.client import Client

from tests.sdk.fakes import FakeIngest
from tests.sdk.provider_fakes import ANSWER, PROMPT, SYSTEM, ProviderFake


@pytest.fixture
def ingest():
    fake = FakeIngest()
    c = Client("cpk_live_test", "http://costpilot.test", transport=fake.transport(), flush_interval=3600)
    yield fake, c
    c.close()


def tokens(event):
    return {k: event.get(k, 0) for k in ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens")}


def no_text_left(fake):
    sent = b"".join(fake.bodies) + b"".join(str(r.headers).encode() + str(r.url).encode() for r in fake.requests)
    for marker in (PROMPT, ANSWER, SYSTEM, *ANSWER.split(" ")[:2], *PROMPT.split(" ")[:2]):
        assert marker.encode() not in sent, marker


def test_openai_sync_and_stream(ingest):
    fake, cp = ingest
    provider = ProviderFake()
    client = costpilot.instrument_openai(openai.OpenAI(
        api_key="sk-test", base_url="http://openai.test/v1", http_client=httpx2.Client(transport=provider.transport())),
        costpilot_client=cp)
    with costpilot.tags(feature="search", customer="acme"):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}])
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                     stream_options={"include_usage": True},
                                                     messages=[{"role": "user", "content": PROMPT}]))
    assert reply.choices[0].message.content == ANSWER  # the caller's answer is untouched
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == ANSWER
    cp.flush()
    first, streamed = fake.events
    assert first["provider"] == "openai" and first["model"] == "gpt-4o-mini-2024-07-18"
    assert tokens(first) == {"input_tokens": 1000, "output_tokens": 300, "cached_input_tokens": 200,
                             "cache_write_tokens": 0}
    assert (first["feature"], first["customer"]) == ("search", "acme")
    assert int(first["metadata"]["latency_ms"]) >= 0 and first["metadata"]["integration"] == "openai.chat"
    assert tokens(streamed) == {"input_tokens": 40, "output_tokens": 12, "cached_input_tokens": 0,
                                "cache_write_tokens": 0}
    assert PROMPT.encode() in provider.requests[0].content  # the provider did get the prompt ...
    no_text_left(fake)  # ... CostPilot did not


def test_openai_async_stream_and_plain(ingest):
    fake, cp = ingest
    provider = ProviderFake()
    client = costpilot.instrument_openai(openai.AsyncOpenAI(
        api_key="sk-test", base_url="http://openai.test/v1",
        http_client=httpx2.AsyncClient(transport=provider.transport())), costpilot_client=cp)

    async def run():
        await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
        stream = await client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                      stream_options={"include_usage": True},
                                                      messages=[{"role": "user", "content": PROMPT}])
        return [chunk async for chunk in stream]

    with costpilot.tags(feature="async-chat"):
        chunks = asyncio.run(run())
    assert chunks[-1].usage.completion_tokens == 12
    cp.flush()
    assert [tokens(e)["output_tokens"] for e in fake.events] == [300, 12]
    assert {e["feature"] for e in fake.events} == {"async-chat"}
    no_text_left(fake)


def test_openai_responses_api(ingest):
    fake, cp = ingest
    client = costpilot.instrument_openai(openai.OpenAI(
        api_key="sk-test", base_url="http://openai.test/v1",
        http_client=httpx2.Client(transport=ProviderFake().transport())), costpilot_client=cp)
    reply = client.responses.create(model="gpt-4o-mini", input=PROMPT, instructions=SYSTEM)
    assert reply.output_text == ANSWER
    cp.flush()
    [event] = fake.events
    assert event["metadata"]["integration"] == "openai.responses" and event["model"] == "gpt-4o-mini-2024-07-18"
    assert tokens(event) == {"input_tokens": 400, "output_tokens": 80, "cached_input_tokens": 100,
                             "cache_write_tokens": 0}
    no_text_left(fake)


def test_instrumenting_twice_records_once(ingest):
    fake, cp = ingest
    client = openai.OpenAI(api_key="sk-test", base_url="http://openai.test/v1",
                           http_client=httpx2.Client(transport=ProviderFake().transport()))
    costpilot.instrument_openai(costpilot.instrument_openai(client, costpilot_client=cp), costpilot_client=cp)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    cp.flush()
    assert len(fake.events) == 1


def test_anthropic_sync_stream_and_cache_tokens(ingest):
    fake, cp = ingest
    provider = ProviderFake()
    client = costpilot.instrument_anthropic(anthropic.Anthropic(
        api_key="sk-ant-test", base_url="http://anthropic.test",
        http_client=httpx2.Client(transport=provider.transport())), costpilot_client=cp)
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=100, system=SYSTEM,
                                     messages=[{"role": "user", "content": PROMPT}])
    with client.messages.create(model="claude-haiku-4-5", max_tokens=100, stream=True,
                                messages=[{"role": "user", "content": PROMPT}]) as stream:
        text = "".join(e.delta.text for e in stream if e.type == "content_block_delta")
    assert message.content[0].text == ANSWER and text.strip() == ANSWER
    cp.flush()
    plain, streamed = fake.events
    expected = {"input_tokens": 100, "output_tokens": 50, "cached_input_tokens": 30, "cache_write_tokens": 20}
    assert plain["model"] == streamed["model"] == "claude-haiku-4-5-20251001"
    assert tokens(plain) == tokens(streamed) == expected
    assert plain["provider"] == "anthropic"
    no_text_left(fake)


def test_anthropic_async_stream(ingest):
    fake, cp = ingest
    client = costpilot.instrument_anthropic(anthropic.AsyncAnthropic(
        api_key="sk-ant-test", base_url="http://anthropic.test",
        http_client=httpx2.AsyncClient(transport=ProviderFake().transport())), costpilot_client=cp)

    async def run():
        stream = await client.messages.create(model="claude-haiku-4-5", max_tokens=100, stream=True,
                                              messages=[{"role": "user", "content": PROMPT}])
        async with stream:
            return [e async for e in stream]

    events = asyncio.run(run())
    assert events[0].type == "message_start"
    cp.flush()
    assert tokens(fake.events[0])["output_tokens"] == 50 and tokens(fake.events[0])["cached_input_tokens"] == 30
    no_text_left(fake)


def test_a_failing_provider_call_still_raises_its_own_error_and_records_nothing(ingest):
    fake, cp = ingest

    def down(request):
        return httpx2.Response(400, json={"error": {"type": "invalid_request_error", "message": "bad"}})

    client = costpilot.instrument_openai(openai.OpenAI(
        api_key="sk-test", base_url="http://openai.test/v1", max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(down))), costpilot_client=cp)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    cp.flush()
    assert fake.events == []


def test_anthropic_stream_helper_records_once_however_it_is_consumed(ingest):
    fake, cp = ingest
    client = costpilot.instrument_anthropic(anthropic.Anthropic(
        api_key="sk-ant-test", base_url="http://anthropic.test",
        http_client=httpx2.Client(transport=ProviderFake().transport())), costpilot_client=cp)
    costpilot.instrument_anthropic(client, costpilot_client=cp)  # twice: still one record per call
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=100, system=SYSTEM,
                                messages=[{"role": "user", "content": PROMPT}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=100,
                                messages=[{"role": "user", "content": PROMPT}]) as stream:
        kinds = [e.type for e in stream]
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=100,
                                messages=[{"role": "user", "content": PROMPT}]):
        pass  # opened, never read: no usage was seen (reading it at exit would block), nothing recorded
    assert text.strip() == ANSWER and final.content[0].text.strip() == ANSWER and "message_stop" in kinds
    cp.flush()
    assert len(fake.events) == 2
    whole = {"input_tokens": 100, "output_tokens": 50, "cached_input_tokens": 30, "cache_write_tokens": 20}
    assert tokens(fake.events[0]) == tokens(fake.events[1]) == whole
    assert {e["model"] for e in fake.events} == {"claude-haiku-4-5-20251001"}
    assert {e["metadata"]["integration"] for e in fake.events} == {"anthropic.messages.stream"}
    no_text_left(fake)


def test_anthropic_async_stream_helper(ingest):
    fake, cp = ingest
    client = costpilot.instrument_anthropic(anthropic.AsyncAnthropic(
        api_key="sk-ant-test", base_url="http://anthropic.test",
        http_client=httpx2.AsyncClient(transport=ProviderFake().transport())), costpilot_client=cp)

    async def run():
        async with client.messages.stream(model="claude-haiku-4-5", max_tokens=100,
                                          messages=[{"role": "user", "content": PROMPT}]) as stream:
            chunks = [t async for t in stream.text_stream]
            return "".join(chunks), await stream.get_final_message()

    text, final = asyncio.run(run())
    assert text.strip() == ANSWER and final.usage.output_tokens == 50
    cp.flush()
    assert [tokens(e) for e in fake.events] == [{"input_tokens": 100, "output_tokens": 50, "cached_input_tokens": 30,
                                                 "cache_write_tokens": 20}]
    no_text_left(fake)


def test_a_stream_helper_that_fails_raises_the_providers_error_and_records_nothing(ingest):
    fake, cp = ingest

    def overloaded(request):
        return httpx2.Response(529, json={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})

    client = costpilot.instrument_anthropic(anthropic.Anthropic(
        api_key="sk-ant-test", base_url="http://anthropic.test", max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(overloaded))), costpilot_client=cp)
    with pytest.raises(anthropic.APIStatusError), client.messages.stream(
            model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": PROMPT}]) as stream:
        list(stream)
    cp.flush()
    assert fake.events == []
