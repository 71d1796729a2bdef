"""A published Open Inference Protocol client (Triton's) against a real server, unchanged: over
JSON, and with its defaults, which send and ask for binary tensor data."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.http as triton
import tritonclient.http.aio as triton_aio
from tritonclient.utils import InferenceServerException

from tests.helpers import child_env, uvicorn_server

MODEL = "iris-random-forest"
ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)


@pytest.fixture(scope="module")
def server_address(predict_env: dict[str, str]) -> Iterator[str]:
    with uvicorn_server(child_env(**predict_env)) as server:
        yield server.url.removeprefix("http://")


@pytest.fixture
def client(server_address: str) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(url=server_address)
    try:
        yield client
    finally:
        client.close()


def _tensor(binary_data: bool | None = None) -> triton.InferInput:
    tensor = triton.InferInput("input-0", list(ROWS.shape), "FP32")
    if binary_data is None:
        tensor.set_data_from_numpy(ROWS)  # the client's default
    else:
        tensor.set_data_from_numpy(ROWS, binary_data=binary_data)
    return tensor


def test_triton_http_client_works_unchanged_over_json(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    metadata = client.get_model_metadata(MODEL)
    assert metadata["inputs"][0]["shape"] == [-1, 4]
    outputs = [
        triton.InferRequestedOutput("predict", binary_data=False),
        triton.InferRequestedOutput("predict_proba", binary_data=False),
    ]
    result = client.infer(MODEL, [_tensor(binary_data=False)], outputs=outputs, request_id="req-1")
    assert result.as_numpy("predict").tolist() == [0, 2]
    proba = result.as_numpy("predict_proba")
    assert proba.shape == (2, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert result.get_response()["id"] == "req-1"
    with pytest.raises(InferenceServerException, match="not found"):
        client.infer("no-such-model", [_tensor(binary_data=False)])


def test_triton_client_with_its_defaults(client: triton.InferenceServerClient) -> None:
    """The issue's new user: `set_data_from_numpy(x)`, no outputs named: binary in, binary out."""
    result = client.infer(MODEL, [_tensor()])
    assert result.as_numpy("predict").tolist() == [0, 2]
    assert "data" not in result.get_output("predict")
    versioned = client.infer(MODEL, [_tensor()], model_version="1", outputs=[triton.InferRequestedOutput("predict")])
    assert versioned.as_numpy("predict").tolist() == [0, 2]


@pytest.mark.parametrize(
    ("binary_input", "binary_outputs"),
    [(True, (False, False)), (False, (True, True)), (True, (True, False)), (False, (False, True))],
    ids=["binary-in-json-out", "json-in-binary-out", "labels-binary-proba-json", "labels-json-proba-binary"],
)
def test_binary_and_json_mixed(
    client: triton.InferenceServerClient, binary_input: bool, binary_outputs: tuple[bool, bool]
) -> None:
    outputs = [
        triton.InferRequestedOutput(name, binary_data=flag)
        for name, flag in zip(("predict", "predict_proba"), binary_outputs, strict=True)
    ]
    result = client.infer(MODEL, [_tensor(binary_data=binary_input)], outputs=outputs)
    assert result.as_numpy("predict").tolist() == [0, 2]
    assert result.as_numpy("predict_proba").argmax(axis=1).tolist() == [0, 2]
    for output, flag in zip(result.get_response()["outputs"], binary_outputs, strict=True):
        assert ("data" in output) is not flag
        assert ("binary_data_size" in (output.get("parameters") or {})) is flag


def test_triton_client_hears_why_a_binary_request_was_refused(client: triton.InferenceServerClient) -> None:
    wrong = triton.InferInput("input-0", [2, 3], "FP32")
    wrong.set_data_from_numpy(ROWS[:, :3].copy())
    with pytest.raises(InferenceServerException, match=r"shape \[2, 3\]") as refused:
        client.infer(MODEL, [wrong])
    assert refused.value.status() == "422"


def test_asyncio_client_with_its_defaults(server_address: str) -> None:
    """tritonclient.http.aio sends the same body as application/octet-stream (aiohttp's default)."""

    async def infer() -> tuple[list[int], list[int]]:
        client = triton_aio.InferenceServerClient(url=server_address)
        try:
            by_default = await client.infer(MODEL, [_tensor()])
            named = await client.infer(
                MODEL, [_tensor()], outputs=[triton_aio.InferRequestedOutput("predict")], request_id="aio-1"
            )
            assert named.get_response()["id"] == "aio-1"
            return by_default.as_numpy("predict").tolist(), named.as_numpy("predict").tolist()
        finally:
            await client.close()

    assert asyncio.run(infer()) == ([0, 2], [0, 2])
