"""Pushed usage is metadata only: the field and metadata names that would carry prompts or
responses, refused wherever they appear (``is_content_key``)."""

from __future__ import annotations

import re

METADATA_ONLY = "metadata only: prompts and responses are not accepted"

# Field names that carry content. Any word of a key in the first set, or the whole key / its
# last word in the second, marks the key as content ("user_prompt", "llm_response", "input").
# "response_time_ms" and "input_tokens" stay allowed.
_CONTENT_WORDS = frozenset(
    [
        "prompt",
        "prompts",
        "completion",
        "completions",
        "message",
        "messages",
        "content",
        "contents",
        "transcript",
        "transcripts",
        "instructions",
    ]
)
_CONTENT_KEYS = frozenset(
    [
        "response",
        "responses",
        "input",
        "inputs",
        "output",
        "outputs",
        "text",
        "texts",
        "body",
        "query",
        "question",
        "answer",
        "reply",
        "choices",
        "system",
        "user",
        "assistant",
    ]
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def is_content_key(key: str) -> bool:
    """True for metadata/field names that would carry prompts or responses."""
    words = [w.lower() for w in _WORD.findall(key)]
    if not words:
        return False
    if any(w in _CONTENT_WORDS for w in words):
        return True
    return "".join(words) in _CONTENT_KEYS or words[-1] in _CONTENT_KEYS


