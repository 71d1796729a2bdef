"""The app's own behaviour beyond the case table: OpenAPI, request ids, unexpected failures, readiness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from predict.app import create_app
from predict.artifact import LoadedModel, read_metadata
from predict.settings import Settings
from predict.sklearn_runtime import SklearnRuntime


@pytest.fixture
def client(artifact_dir: Path) -> Any:
    with TestClient(create_app(Settings(model_dir=artifact_dir))) as test_client:
        yield test_client


def test_openapi_documents_the_three_request_forms(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"features", "input", "instances", "probabilities"} <= set(body["properties"])
    assert body["additionalProperties"] is False
    assert client.get("/docs").status_code == 200


def test_openapi_documents_the_binary_tensor_form_beside_the_json(client: TestClient) -> None:
    jsonschema = pytest.importorskip("jsonschema")  # comes with schemathesis
    infer = client.get("/openapi.json").json()["paths"]["/v2/models/{name}/infer"]["post"]
    content = infer["requestBody"]["content"]
    assert set(content) == {"application/json", "application/octet-stream"}
    assert "Inference-Header-Content-Length" in content["application/octet-stream"]["schema"]["description"]
    assert "Inference-Header-Content-Length" in [parameter["name"] for parameter in infer["parameters"]]
    assert set(infer["responses"]["200"]["content"]) == {"application/json", "application/octet-stream"}
    schema = content["application/json"]["schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    tensor = {"name": "input-0", "shape": [1, 4], "datatype": "FP32"}
    valid = jsonschema.Draft202012Validator(schema)
    assert valid.is_valid({"inputs": [{**tensor, "data": [5.1, 3.5, 1.4, 0.2]}]})  # the JSON form, as before
    assert valid.is_valid({"inputs": [{**tensor, "parameters": {"binary_data_size": 16}}]})  # a binary header
    assert not valid.is_valid({"inputs": []})
    assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]


def test_plain_request_id_is_echoed_and_unsafe_one_replaced(client: TestClient) -> None:
    echoed = client.get("/health", headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    replaced = client.get("/health", headers={"x-request-id": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] not in ("", "bad id\twith spaces")


class _Exploding:
    n_features_in_ = 4

    def predict(self, rows: np.ndarray) -> np.ndarray:
        raise RuntimeError("/secret/path/model.py line 3 exploded")


def test_a_model_failure_is_a_500_with_the_request_id_only(artifact_dir: Path) -> None:
    model = LoadedModel(SklearnRuntime(_Exploding()), read_metadata(artifact_dir))
    with TestClient(create_app(Settings(model_dir=artifact_dir), model), raise_server_exceptions=False) as client:
        reply = client.post("/predict", json={"features": [5.1, 3.5, 1.4, 0.2]})
    assert reply.status_code == 500
    assert reply.json() == {"error": "internal error", "request_id": reply.headers["x-request-id"]}
    assert "secret" not in reply.text


def test_not_ready_until_the_model_is_loaded(tmp_path: Path) -> None:
    app = create_app(Settings(model_dir=tmp_path))
    client = TestClient(app)  # no lifespan: the model was never loaded
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert client.get("/health").status_code == 200
    refused = client.post("/predict", json={"features": [5.1, 3.5, 1.4, 0.2]})
    assert refused.status_code == 503
    assert "model not ready" in refused.json()["error"]


def test_ready_turns_503_when_shutting_down(artifact_dir: Path) -> None:
    app = create_app(Settings(model_dir=artifact_dir))
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 200
    assert app.state.model_state.draining
    late = TestClient(app).get("/ready")
    assert (late.status_code, late.json()["reason"]) == (503, "shutting down")
