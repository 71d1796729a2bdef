"""One table of requests and what each entry point must answer (status, and body or error words).

The test settings cap bodies at BODY_LIMIT bytes and batches at ROW_LIMIT rows, so the limit
cases stay small enough for every path, the Lambda event included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

BODY_LIMIT = 64 * 1024
ROW_LIMIT = 50
SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: bytes | None
    status: int
    expect: dict[str, Any] | None = None  # the whole JSON body, when it is known exactly
    error_words: tuple[str, ...] = ()  # words the {"error": ...} message must contain
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))


def post(case_id: str, payload: Any, status: int, **kwargs: Any) -> Case:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Case(case_id, "POST", "/predict", body, status, **kwargs)


CASES: list[Case] = [
    # The tutorials' requests, unchanged, with their answers.
    post("features", {"features": SETOSA}, 200, expect={"prediction": 0}),
    post("tutorial-input", {"input": SETOSA}, 200, expect={"prediction": [0]}),
    post("virginica", {"features": VIRGINICA}, 200, expect={"prediction": 2}),
    post("integers", {"features": [5, 3, 1, 0]}, 200, expect={"prediction": 0}),
    post("batch", {"instances": [SETOSA, VIRGINICA]}, 200, expect={"predictions": [0, 2]}),
    post("batch-probabilities", {"instances": [SETOSA, VIRGINICA], "probabilities": True}, 200),
    post("features-probabilities", {"features": SETOSA, "probabilities": True}, 200),
    post(
        "charset",
        {"features": SETOSA},
        200,
        expect={"prediction": 0},
        headers={"content-type": "application/json; charset=utf-8"},
    ),
    post("no-content-type", {"features": SETOSA}, 200, expect={"prediction": 0}, headers={}),
    # Valid JSON, invalid request: 422 saying what was wrong.
    post("too-few-features", {"features": [5.1, 3.5, 1.4]}, 422, error_words=("expected 4", "got 3")),
    post("too-many-features", {"input": [*SETOSA, 1.0]}, 422, error_words=("expected 4", "got 5")),
    post("string-value", {"features": [5.1, "3.5", 1.4, 0.2]}, 422, error_words=("features.1", "number")),
    post("boolean-value", {"features": [5.1, True, 1.4, 0.2]}, 422, error_words=("features.1", "number")),
    post("null-value", {"features": [5.1, None, 1.4, 0.2]}, 422, error_words=("features.1",)),
    post("nested-list", {"features": [[5.1, 3.5, 1.4, 0.2]]}, 422, error_words=("features.0",)),
    post("empty-features", {"features": []}, 422, error_words=("features", "at least 1")),
    post("empty-batch", {"instances": []}, 422, error_words=("instances", "at least 1")),
    post(
        "ragged-batch",
        {"instances": [SETOSA, [1.0, 2.0]]},
        422,
        error_words=("instances[1]", "expected 4", "got 2"),
    ),
    post("two-forms", {"features": SETOSA, "input": SETOSA}, 422, error_words=("exactly one",)),
    post("no-form", {}, 422, error_words=("exactly one",)),
    post("unknown-key", {"features": SETOSA, "feature": SETOSA}, 422, error_words=("feature", "not permitted")),
    post(
        "probabilities-not-bool",
        {"features": SETOSA, "probabilities": "yes"},
        422,
        error_words=("probabilities",),
    ),
    post("array-body", [SETOSA], 422, error_words=("expected a JSON object", "array")),
    # Not JSON, or not finite JSON numbers: 400.
    post("malformed-json", b'{"features": [5.1, 3.5,', 400, error_words=("malformed JSON",)),
    post("nan", b'{"features": [NaN, 3.5, 1.4, 0.2]}', 400, error_words=("malformed JSON",)),
    post("infinity", b'{"features": [Infinity, 3.5, 1.4, 0.2]}', 400, error_words=("malformed JSON",)),
    post(
        "overflow-1e309",
        b'{"features": [1e309, 3.5, 1.4, 0.2]}',
        400,
        error_words=("malformed JSON", "infinity"),
    ),
    post("empty-body", b"", 400, error_words=("empty request body",)),
    post("deep-nesting", b"[" * 10_000 + b"]" * 10_000, 400, error_words=("malformed JSON",)),
    post("invalid-utf8", b'{"features": [5.1, 3.5, 1.4, 0.2], "x": "\xff"}', 400, error_words=("UTF-8",)),
    # Limits and media types.
    post(
        "wrong-content-type",
        b"features=5.1",
        415,
        error_words=("text/plain", "application/json"),
        headers={"content-type": "text/plain"},
    ),
    post(
        "too-many-rows",
        {"instances": [SETOSA] * (ROW_LIMIT + 1)},
        413,
        error_words=("too many rows", str(ROW_LIMIT)),
    ),
    post(
        "body-over-limit",
        {"instances": [SETOSA] * (BODY_LIMIT // 20)},
        413,
        error_words=("exceeds the limit",),
    ),
    # Routes and methods.
    Case("health", "GET", "/health", None, 200, expect={"status": "ok"}, headers={}),
    Case(
        "ready",
        "GET",
        "/ready",
        None,
        200,
        expect={"status": "ready", "model": "iris-random-forest"},
        headers={},
    ),
    Case("model", "GET", "/model", None, 200, headers={}),
    Case("unknown-route", "GET", "/nope", None, 404, error_words=("no route", "/nope"), headers={}),
    Case("get-predict", "GET", "/predict", None, 405, error_words=("GET", "allowed: POST"), headers={}),
    Case("post-health", "POST", "/health", b"{}", 405, error_words=("POST", "allowed: GET")),
]
