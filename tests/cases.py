"""One table of requests and what each entry point must answer (status, and body or error words).

The test settings cap bodies at BODY_LIMIT bytes and batches at ROW_LIMIT rows, so the limit
cases stay small enough for every path, the Lambda event included.
"""

from __future__ import annotations

import json
import struct
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


MODEL = "iris-random-forest"


def _infer(
    shape: list[int],
    data: list[Any],
    request_id: str | None = None,
    datatype: str = "FP64",
    outputs: list[str] | None = None,
) -> bytes:
    body: dict[str, Any] = {"inputs": [{"name": "input-0", "shape": shape, "datatype": datatype, "data": data}]}
    if request_id is not None:
        body["id"] = request_id
    if outputs is not None:
        body["outputs"] = [{"name": name} for name in outputs]
    return json.dumps(body).encode()


# The binary tensor data extension: a JSON header of Inference-Header-Content-Length bytes, then
# each input's raw values, little-endian (what Triton's client sends by default).
OCTET_STREAM = "application/octet-stream"
HEADER_LENGTH = "inference-header-content-length"
SETOSA_VIRGINICA_FP32 = struct.pack("<8f", *SETOSA, *VIRGINICA)
JSON_PREDICT = [{"name": "predict", "parameters": {"binary_data": False}}]


def binary_input(size: int, shape: list[int] | None = None, datatype: str = "FP32", **fields: Any) -> dict[str, Any]:
    tensor = {
        "name": "input-0",
        "shape": shape or [2, 4],
        "datatype": datatype,
        "parameters": {"binary_data_size": size},
    }
    return {"inputs": [tensor], **fields}


def binary(
    case_id: str,
    header: dict[str, Any],
    tensors: bytes,
    status: int,
    *,
    header_length: str | None = None,
    content_type: str | None = OCTET_STREAM,
    **kwargs: Any,
) -> Case:
    """POST /v2/models/{MODEL}/infer with a binary tensor body (the header length is the JSON's unless given)."""
    json_header = json.dumps(header).encode()
    headers = {HEADER_LENGTH: header_length if header_length is not None else str(len(json_header))}
    if content_type is not None:
        headers["content-type"] = content_type
    return Case(case_id, "POST", f"/v2/models/{MODEL}/infer", json_header + tensors, status, headers=headers, **kwargs)


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
    post("beyond-float32", {"features": [5.1, 3.5, 1.4, 1e39]}, 422, error_words=("features.3", "less than or equal")),
    post("null-form", {"features": None, "input": SETOSA}, 422, error_words=("'features' must be an array",)),
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
    post("100000-rows", {"instances": [SETOSA] * 100_000}, 413, error_words=("exceeds the limit",)),
    # Duplicate keys: the last one wins, as in Python's json and most parsers.
    post(
        "duplicate-keys",
        b'{"features": [1.0, 2.0], "features": [5.1, 3.5, 1.4, 0.2]}',
        200,
        expect={"prediction": 0},
    ),
    post(
        "body-over-limit",
        {"instances": [SETOSA] * (BODY_LIMIT // 20)},
        413,
        error_words=("exceeds the limit",),
    ),
    # Open Inference Protocol (KServe V2) and KServe V1, over the same model and checks.
    Case("v2-server", "GET", "/v2", None, 200, headers={}),
    Case("v2-live", "GET", "/v2/health/live", None, 200, expect={"live": True}, headers={}),
    Case("v2-ready", "GET", "/v2/health/ready", None, 200, expect={"ready": True}, headers={}),
    Case("v2-model", "GET", f"/v2/models/{MODEL}", None, 200, headers={}),
    Case("v2-model-version", "GET", f"/v2/models/{MODEL}/versions/1", None, 200, headers={}),
    Case(
        "v2-model-ready",
        "GET",
        f"/v2/models/{MODEL}/ready",
        None,
        200,
        expect={"name": MODEL, "ready": True},
        headers={},
    ),
    Case("v2-unknown-model", "GET", "/v2/models/nope", None, 404, error_words=("'nope' not found",), headers={}),
    Case(
        "v2-unknown-version",
        "GET",
        f"/v2/models/{MODEL}/versions/7",
        None,
        404,
        error_words=("version '7'",),
        headers={},
    ),
    Case(
        "v2-infer-flat",
        "POST",
        f"/v2/models/{MODEL}/infer",
        _infer([2, 4], [*SETOSA, *VIRGINICA], "r1"),
        200,
        expect={
            "model_name": MODEL,
            "model_version": "1",
            "id": "r1",
            "outputs": [{"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 2]}],
        },
    ),
    Case(
        "v2-infer-nested-fp32",
        "POST",
        f"/v2/models/{MODEL}/versions/1/infer",
        _infer([2, 4], [SETOSA, VIRGINICA], None, "FP32"),
        200,
        expect={
            "model_name": MODEL,
            "model_version": "1",
            "id": None,
            "outputs": [{"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 2]}],
        },
    ),
    Case(
        "v2-infer-probabilities",
        "POST",
        f"/v2/models/{MODEL}/infer",
        _infer([1, 4], SETOSA, "p", outputs=["predict", "predict_proba"]),
        200,
    ),
    Case(
        "v2-infer-wrong-shape",
        "POST",
        f"/v2/models/{MODEL}/infer",
        _infer([1, 3], SETOSA[:3]),
        422,
        error_words=("shape [1, 3]", "expected [rows, 4]"),
    ),
    Case(
        "v2-infer-data-mismatch",
        "POST",
        f"/v2/models/{MODEL}/infer",
        _infer([2, 4], SETOSA),
        422,
        error_words=("has 4 values", "needs 8"),
    ),
    Case(
        "v2-infer-bytes",
        "POST",
        f"/v2/models/{MODEL}/infer",
        _infer([1, 4], ["a", "b", "c", "d"], None, "BYTES"),
        422,
        error_words=("datatype 'BYTES'",),
    ),
    Case(
        "v2-infer-unknown-output",
        "POST",
        f"/v2/models/{MODEL}/infer",
        _infer([1, 4], SETOSA, outputs=["embedding"]),
        422,
        error_words=("unknown output 'embedding'",),
    ),
    Case("v2-infer-no-inputs", "POST", f"/v2/models/{MODEL}/infer", b'{"inputs": []}', 422, error_words=("inputs",)),
    Case(
        "v1-predict",
        "POST",
        f"/v1/models/{MODEL}:predict",
        json.dumps({"instances": [SETOSA, VIRGINICA]}).encode(),
        200,
        expect={"predictions": [0, 2]},
    ),
    Case("v1-model", "GET", f"/v1/models/{MODEL}", None, 200, expect={"name": MODEL, "ready": True}, headers={}),
    Case(
        "v1-wrong-features",
        "POST",
        f"/v1/models/{MODEL}:predict",
        json.dumps({"instances": [[1.0]]}).encode(),
        422,
        error_words=("expected 4, got 1",),
    ),
    # The binary tensor data extension in; JSON out where the request asks for it (binary out is in
    # test_entry_points.py, with Triton's client reading it).
    binary(
        "v2-binary-in-json-out",
        binary_input(32, outputs=JSON_PREDICT, id="b1"),
        SETOSA_VIRGINICA_FP32,
        200,
        expect={
            "model_name": MODEL,
            "model_version": "1",
            "id": "b1",
            "outputs": [{"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 2]}],
        },
    ),
    binary(
        "v2-binary-no-content-type",  # as Triton's synchronous client sends it
        binary_input(32, outputs=JSON_PREDICT),
        SETOSA_VIRGINICA_FP32,
        200,
        content_type=None,
    ),
    binary(
        "v2-binary-json-content-type",
        binary_input(32, outputs=JSON_PREDICT),
        SETOSA_VIRGINICA_FP32,
        200,
        content_type="application/json",
    ),
    binary(
        "v2-binary-int64-one-row",
        binary_input(32, shape=[1, 4], datatype="INT64", outputs=JSON_PREDICT),
        struct.pack("<4q", 5, 3, 1, 0),
        200,
    ),
    binary("v2-binary-fp16-vector", binary_input(8, shape=[4], datatype="FP16"), struct.pack("<4e", *SETOSA), 200),
    Case(
        "v2-octet-stream-all-json",  # Triton's asyncio client with binary_data=False: JSON, sent as octet-stream
        "POST",
        f"/v2/models/{MODEL}/infer",
        _infer([2, 4], [*SETOSA, *VIRGINICA], "o1"),
        200,
        headers={"content-type": OCTET_STREAM},
    ),
    binary(
        "v2-binary-header-beyond-body",
        binary_input(32),
        SETOSA_VIRGINICA_FP32,
        400,
        header_length="100000",
        error_words=("Inference-Header-Content-Length is 100000", "only"),
    ),
    binary(
        "v2-binary-header-not-a-number",
        binary_input(32),
        SETOSA_VIRGINICA_FP32,
        400,
        header_length="ten",
        error_words=("Inference-Header-Content-Length", "number of bytes", "'ten'"),
    ),
    binary(
        "v2-binary-header-negative",
        binary_input(32),
        SETOSA_VIRGINICA_FP32,
        400,
        header_length="-12",
        error_words=("Inference-Header-Content-Length", "number of bytes"),
    ),
    binary(
        "v2-binary-header-zero",
        binary_input(32),
        SETOSA_VIRGINICA_FP32,
        400,
        header_length="0",
        error_words=("Inference-Header-Content-Length is 0",),
    ),
    binary(
        "v2-binary-header-cuts-the-json",
        binary_input(32),
        SETOSA_VIRGINICA_FP32,
        400,
        header_length="20",
        error_words=("malformed JSON in the inference header", "first 20 bytes"),
    ),
    binary(
        "v2-binary-size-not-the-shape",
        binary_input(24),
        SETOSA_VIRGINICA_FP32[:24],
        422,
        error_words=("binary_data_size is 24 bytes", "shape [2, 4] of FP32 takes 32"),
    ),
    binary(
        "v2-binary-size-not-the-body",
        binary_input(32),
        SETOSA_VIRGINICA_FP32[:28],
        400,
        error_words=("28 bytes of tensor data", "add up to 32"),
    ),
    binary(
        "v2-binary-size-missing",
        {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32"}]},
        SETOSA_VIRGINICA_FP32,
        422,
        error_words=("'input-0' has no data", "binary_data_size"),
    ),
    binary(
        "v2-binary-size-not-a-number",
        binary_input(-32),
        SETOSA_VIRGINICA_FP32,
        422,
        error_words=("binary_data_size must be a number of bytes",),
    ),
    binary(
        "v2-binary-and-json-data",
        {"inputs": [{**binary_input(32)["inputs"][0], "data": [*SETOSA, *VIRGINICA]}]},
        SETOSA_VIRGINICA_FP32,
        422,
        error_words=("both 'data' and parameters.binary_data_size",),
    ),
    binary(
        "v2-binary-bytes-after-json-data",
        json.loads(_infer([2, 4], [*SETOSA, *VIRGINICA])),
        SETOSA_VIRGINICA_FP32,
        400,
        error_words=("32 bytes of tensor data", "add up to 0"),
    ),
    binary(
        "v2-binary-bytes-datatype",
        binary_input(24, shape=[1, 4], datatype="BYTES"),
        b"".join(struct.pack("<I", 2) + b"ab" for _ in range(4)),
        422,
        error_words=("datatype 'BYTES'",),
    ),
    binary(
        "v2-binary-nan",
        binary_input(16, shape=[1, 4]),
        struct.pack("<4f", float("nan"), 3.5, 1.4, 0.2),
        422,
        error_words=("finite",),
    ),
    binary(
        "v2-binary-beyond-float32",
        binary_input(32, shape=[1, 4], datatype="FP64"),
        struct.pack("<4d", 1e300, 3.5, 1.4, 0.2),
        422,
        error_words=("finite", "float32"),
    ),
    Case(
        "v2-infer-beyond-float32",
        "POST",
        f"/v2/models/{MODEL}/infer",
        _infer([1, 4], [1e39, 3.5, 1.4, 0.2]),
        422,
        error_words=("finite", "float32"),
    ),
    binary(
        "v2-binary-output-flag-not-bool",
        binary_input(32, parameters={"binary_data_output": "yes"}),
        SETOSA_VIRGINICA_FP32,
        422,
        error_words=("parameters.binary_data_output", "true or false"),
    ),
    binary(
        "v2-binary-over-limit",
        binary_input(BODY_LIMIT, shape=[BODY_LIMIT // 16, 4]),
        bytes(BODY_LIMIT),
        413,
        error_words=("exceeds the limit",),
    ),
    binary(
        "v2-binary-too-many-rows",
        binary_input(16 * (ROW_LIMIT + 1), shape=[ROW_LIMIT + 1, 4]),
        struct.pack("<4f", *SETOSA) * (ROW_LIMIT + 1),
        413,
        error_words=("too many rows",),
    ),
    Case(
        "v2-infer-wrong-content-type",
        "POST",
        f"/v2/models/{MODEL}/infer",
        b"x",
        415,
        error_words=("text/csv", "application/json", OCTET_STREAM),
        headers={"content-type": "text/csv"},
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
