"""Request ids: the Lambda request id on Lambda, else the caller's (when short and plain), else a new one.

A new id is a per-process random prefix and a counter, 32 hex digits like the uuid4 hex it
replaces: as unique (64 random bits tell processes apart, the counter tells requests apart) for a
fraction of the cost, since uuid4 reads the OS's random source on every request.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from typing import Any

# A caller's id is echoed only if it is short and plain, so it cannot inject into logs or headers.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class _Sequence:
    """Random prefix + counter. A forked child draws its own prefix, or parent and child would repeat ids."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)  # next() on a count is atomic under the GIL: threads get distinct ids

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_sequence = _Sequence()


def new_request_id() -> str:
    return _sequence.next()


def request_id(context: Any, caller_id: bytes | None) -> str:
    """The id for a request: `context` is the Lambda context (scope["aws.context"]), if any;
    `caller_id` the first x-request-id header's raw value, if any."""
    lambda_id = getattr(context, "aws_request_id", None)
    if isinstance(lambda_id, str) and lambda_id:
        return lambda_id
    if caller_id is not None:
        candidate = caller_id.decode("latin-1")
        if SAFE_REQUEST_ID.fullmatch(candidate):
            return candidate
    return _sequence.next()
