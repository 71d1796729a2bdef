"""A published Open Inference Protocol client (Triton's) against a real server, unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.helpers import child_env, uvicorn_server

MODEL = "iris-random-forest"


def test_triton_http_client_works_unchanged(predict_env: dict[str, str]) -> None:
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
    with uvicorn_server(child_env(**predict_env)) as server:
        client = triton.InferenceServerClient(url=server.url.removeprefix("http://"))
        try:
            assert client.is_server_live()
            assert client.is_server_ready()
            assert client.is_model_ready(MODEL)
            metadata = client.get_model_metadata(MODEL)
            assert metadata["inputs"][0]["shape"] == [-1, 4]
            tensor = triton.InferInput("input-0", list(rows.shape), "FP32")
            tensor.set_data_from_numpy(rows, binary_data=False)
            outputs = [
                triton.InferRequestedOutput("predict", binary_data=False),
                triton.InferRequestedOutput("predict_proba", binary_data=False),
            ]
            result = client.infer(MODEL, [tensor], outputs=outputs, request_id="req-1")
            assert result.as_numpy("predict").tolist() == [0, 2]
            proba = result.as_numpy("predict_proba")
            assert proba.shape == (2, 3)
            assert np.allclose(proba.sum(axis=1), 1.0)
            assert result.get_response()["id"] == "req-1"
            with pytest.raises(InferenceServerException, match="not found"):
                client.infer("no-such-model", [tensor])
        finally:
            client.close()
