"""OpenAI and Anthropic APIs as the official clients see them: httpx2 mock transports answering
in the real JSON and server-sent-event shapes. Prompts and answers carry marker strings so a test
can prove none of them reaches CostPilot."""

from __future__ import annotations

import json
from typing import Any

import httpx2

PROMPT = "PROMPT-MARKER-7f3a please summarise the merger plan"
ANSWER = "ANSWER-MARKER-9b2c the merger closes on friday"
SYSTEM = "SYSTEM-MARKER-4d1e you are terse"


def _sse(events: list[Any], named: bool = False) -> bytes:
    out = []
    for e in events:
        data = e if isinstance(e, str) else json.dumps(e)
        if named and not isinstance(e, str):
            out.append(f"event: {e['type']}\ndata: {data}\n\n")
        else:
            out.append(f"data: {data}\n\n")
    return "".join(out).encode()


def openai_chat(model: str = "gpt-4o-mini-2024-07-18") -> dict:
    return {
        "id": "chatcmpl-AbC123", "object": "chat.completion", "created": 1764504000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER, "refusal": None,
                                             "annotations": []}, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
                  "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_0ba0d124f1",
    }


def openai_chat_stream(model: str = "gpt-4o-mini-2024-07-18") -> bytes:
    base = {"id": "chatcmpl-AbC124", "object": "chat.completion.chunk", "created": 1764504000, "model": model,
            "service_tier": "default", "system_fingerprint": "fp_0ba0d124f1"}
    words = ANSWER.split(" ")
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None},
                                    "logprobs": None, "finish_reason": None}], "usage": None}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": w + " "}, "logprobs": None,
                                     "finish_reason": None}], "usage": None} for w in words]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
                   "usage": None})
    chunks.append({**base, "choices": [], "usage": {
        "prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}})
    return _sse([*chunks, "[DONE]"])


def openai_response(model: str = "gpt-4o-mini-2024-07-18") -> dict:
    """A Responses API answer (POST /v1/responses)."""
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc054267", "object": "response", "created_at": 1764504000,
        "status": "completed", "error": None, "incomplete_details": None, "instructions": None,
        "max_output_tokens": None, "model": model,
        "output": [{"type": "message", "id": "msg_67ccd2bf17f0", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": ANSWER, "annotations": []}]}],
        "parallel_tool_calls": True, "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
        "store": True, "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
        "top_p": 1.0, "truncation": "disabled", "user": None, "metadata": {},
        "usage": {"input_tokens": 500, "input_tokens_details": {"cached_tokens": 100}, "output_tokens": 80,
                  "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 580},
    }


def anthropic_message(model: str = "claude-haiku-4-5-20251001") -> dict:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": ANSWER}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 50, "cache_creation_input_tokens": 20,
                  "cache_read_input_tokens": 30, "service_tier": "standard"},
    }


def anthropic_stream(model: str = "claude-haiku-4-5-20251001") -> bytes:
    start = anthropic_message(model)
    start["content"], start["stop_reason"] = [], None
    start["usage"] = {"input_tokens": 100, "output_tokens": 1, "cache_creation_input_tokens": 20,
                      "cache_read_input_tokens": 30}
    events = [{"type": "message_start", "message": start},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              {"type": "ping"}]
    events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w + " "}}
               for w in ANSWER.split(" ")]
    events += [{"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 50}},
               {"type": "message_stop"}]
    return _sse(events, named=True)


class ProviderFake:
    """Answers POST /v1/chat/completions and /v1/messages, streamed when the body asks."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        path = request.url.path
        sse = {"content-type": "text/event-stream"}
        if path.endswith("/chat/completions"):
            if body.get("stream"):
                return httpx2.Response(200, headers=sse, content=openai_chat_stream())
            return httpx2.Response(200, json=openai_chat())
        if path.endswith("/responses"):
            return httpx2.Response(200, json=openai_response())
        if path.endswith("/messages"):
            if body.get("stream"):
                return httpx2.Response(200, headers=sse, content=anthropic_stream())
            return httpx2.Response(200, json=anthropic_message())
        return httpx2.Response(404, json={"error": {"message": "not found"}})

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self)
