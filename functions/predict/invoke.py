"""Run an API Gateway event file through the Lambda handler in-process, as `sam local invoke` would."""

from __future__ import annotations

import contextlib
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that the handler and Mangum read."""

    function_name: str = "twinserve-predict-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:twinserve-predict-local"
    log_group_name: str = "/aws/lambda/twinserve-predict-local"
    log_stream_name: str = "local"
    _deadline_ms: int = field(default_factory=lambda: int(time.time() * 1000) + 30_000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load_event(path: Path) -> dict[str, Any]:
    try:
        event = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise SystemExit(f"event file not found: {path}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SystemExit(f"event file is not JSON: {path}: {exc}") from exc
    if not isinstance(event, dict):
        raise SystemExit(f"event file must hold a JSON object: {path}")
    return event


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    # Imported here: importing the handler loads the model (Lambda's init phase).
    # Logs and embedded-metric lines go to stderr, so stdout holds only the response.
    with contextlib.redirect_stdout(sys.stderr):
        from .lambda_handler import handler

        response: dict[str, Any] = handler(event, LocalContext())
    return response
