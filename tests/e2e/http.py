"""httpx calls with a patient timeout: a busy CI runner can take seconds to answer, and what the
e2e tests check is correctness, not speed (speed is measured by bench/)."""

from __future__ import annotations

from functools import partial

import httpx

PATIENT = httpx.Timeout(60.0)

get = partial(httpx.get, timeout=PATIENT)
post = partial(httpx.post, timeout=PATIENT)
patch = partial(httpx.patch, timeout=PATIENT)
delete = partial(httpx.delete, timeout=PATIENT)
