"""Structured access logs, Prometheus metrics on the server, CloudWatch EMF metrics on Lambda."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from predict.app import create_app
from predict.invoke import LocalContext
from predict.settings import Settings
from tests.helpers import child_env, import_with_env, load_event, reply_from_lambda, uvicorn_server

SECRET = 987654.321  # a value only a request body holds: it must never reach a log


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "predict.access"]


def test_one_json_line_per_request_without_the_body(artifact_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="predict.access")
    with TestClient(create_app(Settings(model_dir=artifact_dir))) as client:
        ok = client.post("/predict", json={"features": [SECRET, 3.5, 1.4, 0.2]}, headers={"x-request-id": "abc"})
        client.post("/predict", json={"features": [SECRET]})
        client.get("/v2/models/iris-random-forest")
    lines = _access_lines(caplog)
    assert len(lines) == 3
    first = lines[0]
    assert first["request_id"] == "abc" == ok.headers["x-request-id"]
    assert (first["method"], first["route"], first["status"]) == ("POST", "/predict", 200)
    assert first["model"] == "iris-random-forest"
    assert first["model_version"] == "1"
    assert first["latency_ms"] > 0
    assert lines[1]["status"] == 422
    assert lines[2]["route"] == "/v2/models/{name}"
    assert str(SECRET) not in caplog.text


def test_lambda_log_carries_the_lambda_request_id_and_cold_start(
    predict_env: dict[str, str], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="predict.access")
    module: ModuleType = import_with_env("predict.lambda_handler", predict_env)
    contexts = [LocalContext(), LocalContext()]
    for context in contexts:
        assert reply_from_lambda(module.handler(load_event("predict-features-v2.json"), context)).status == 200
    lines = _access_lines(caplog)
    assert [line["request_id"] for line in lines] == [c.aws_request_id for c in contexts]
    assert [line["cold_start"] for line in lines] == [True, False]
    # Embedded metric format on stdout: a ColdStart metric once, Requests and Latency every time.
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metric_names = [m["Name"] for b in blobs for d in b["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert metric_names.count("ColdStart") == 1
    assert metric_names.count("Requests") == 2
    assert "Latency" in metric_names


def test_prometheus_metrics_on_the_server(predict_env: dict[str, str]) -> None:
    with uvicorn_server(child_env(**predict_env)) as server, httpx.Client(base_url=server.url) as client:
        for _ in range(3):
            client.post("/predict", json={"features": [5.1, 3.5, 1.4, 0.2]})
        client.post("/predict", json={"features": [1.0]})
        text = client.get("/metrics").text
    assert 'twinserve_requests_total{method="POST",route="/predict",status="200"} 3.0' in text
    assert 'twinserve_requests_total{method="POST",route="/predict",status="422"} 1.0' in text
    assert 'twinserve_request_duration_seconds_count{method="POST",route="/predict",status="200"} 3.0' in text
    assert 'twinserve_request_duration_seconds_count{method="POST",route="/predict",status="422"} 1.0' in text
    assert 'twinserve_model_info{name="iris-random-forest"' in text
    assert "twinserve_model_ready 1.0" in text
    assert "twinserve_requests_in_flight 1.0" in text  # the /metrics request itself
    assert "process_resident_memory_bytes" in text
    # No library or interpreter versions for a scraper to read (the platform collector's python_info).
    assert "python_info" not in text
    assert platform.python_version() not in text


def test_each_entry_point_imports_only_its_own_telemetry(predict_env: dict[str, str]) -> None:
    probe = (
        "import sys, predict.{module}; "
        "print(sorted(m for m in ('prometheus_client', 'aws_lambda_powertools', 'uvicorn') if m in sys.modules))"
    )
    seen = {}
    for module in ("lambda_handler", "server"):
        result = subprocess.run(
            [sys.executable, "-c", probe.format(module=module)],
            env=child_env(**predict_env), capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        seen[module] = result.stdout.strip().splitlines()[-1]
    assert seen["lambda_handler"] == "['aws_lambda_powertools']"
    assert "aws_lambda_powertools" not in seen["server"]


def test_no_metrics_route_on_lambda(lambda_module: ModuleType) -> None:
    event = load_event("ready-v2.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/metrics"
    assert reply_from_lambda(lambda_module.handler(event, LocalContext())).status == 404
