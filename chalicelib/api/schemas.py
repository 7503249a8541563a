"""Request body models shared by the blueprints: strict (unknown fields rejected), size-bounded."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class Strict(BaseModel):
    # defer_build: a model's validator is built on its first use, not when the module is imported
    # (every route's models would otherwise be built in each Lambda cold start).
    model_config = ConfigDict(extra="forbid", str_max_length=10_000, defer_build=True)


# Provider credentials: field name -> value. The per-provider shape (which fields, what each value
# looks like) is checked by the provider registry before any provider is called; here only sizes.
# 8 KiB fits a Google service account key file (~2.3 KB); the other providers' keys are short.
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8192)]
Credentials = dict[Annotated[str, StringConstraints(max_length=64)], Secret]
