"""Modules imported on first use, so a Lambda cold start pays only for what a request touches.

The route modules name the services they call at the top, as usual, but through ``lazy``: the
service (and PynamoDB, botocore, the encryption SDK behind it) is imported by the first request
that calls it, not when API Gateway's handler module is loaded. Attribute access goes to the real
module every time, so monkeypatching the module in tests still works.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def _module(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name}>"


def lazy(name: str) -> Any:
    return LazyModule(name)
