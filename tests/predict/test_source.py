"""The model from S3 (moto, in-process): fetched with bounded retries, digest checked before unpickling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from predict.artifact import METADATA_FILE, MODEL_FILE, ONNX_FILE, read_metadata
from predict.errors import ArtifactError
from predict.settings import Settings
from predict.source import load_model, s3_client

BUCKET, PREFIX = "models", "iris/v1"


@pytest.fixture
def s3(artifact_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        for name in (METADATA_FILE, MODEL_FILE, ONNX_FILE):
            client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{name}", Body=(artifact_dir / name).read_bytes())
        yield client


def settings_for(
    artifact_dir: Path, uri: str = f"s3://{BUCKET}/{PREFIX}", pin: bool = True, pin_onnx: bool = True
) -> Settings:
    metadata = read_metadata(artifact_dir)
    assert metadata.compiled is not None
    return Settings(
        model_uri=uri,
        model_sha256=metadata.sha256 if pin else None,
        model_onnx_sha256=metadata.compiled.sha256 if pin_onnx else None,
    )


def test_model_from_s3_answers(s3: Any, artifact_dir: Path) -> None:
    import numpy as np

    model = load_model(settings_for(artifact_dir))
    assert model.serving_form == "onnx"
    assert model.predict(np.array([[5.1, 3.5, 1.4, 0.2]])).labels == [0]


def test_an_unpinned_compiled_form_is_not_served(s3: Any, artifact_dir: Path) -> None:
    # Whoever can write the bucket could swap model.onnx and its digest in metadata.json alike.
    assert load_model(settings_for(artifact_dir, pin_onnx=False)).serving_form == "sklearn"
    with pytest.raises(ArtifactError, match="PREDICT_MODEL_ONNX_SHA256"):
        load_model(settings_for(artifact_dir, pin_onnx=False).model_copy(update={"serving_form": "onnx"}))


def test_a_swapped_compiled_form_is_refused(s3: Any, artifact_dir: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{ONNX_FILE}", Body=b"another graph")
    with pytest.raises(ArtifactError, match=f"{ONNX_FILE} digest mismatch"):
        load_model(settings_for(artifact_dir))


def test_missing_object_is_named(s3: Any, artifact_dir: Path) -> None:
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{MODEL_FILE}")
    with pytest.raises(ArtifactError, match=rf"s3://{BUCKET}/{PREFIX}/{MODEL_FILE} not found"):
        load_model(settings_for(artifact_dir))


def test_tampered_object_is_refused_before_unpickling(s3: Any, artifact_dir: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{MODEL_FILE}", Body=b"not the model")
    with pytest.raises(ArtifactError, match="digest mismatch"):
        load_model(settings_for(artifact_dir))


def test_a_pin_is_required_and_the_uri_checked(s3: Any, artifact_dir: Path) -> None:
    with pytest.raises(ArtifactError, match="PREDICT_MODEL_SHA256"):
        load_model(settings_for(artifact_dir, pin=False))
    with pytest.raises(ArtifactError, match="s3://bucket/prefix"):
        load_model(settings_for(artifact_dir, uri="https://example.invalid/model"))


class _Body:
    """The raw body botocore reads an HTTP response from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def _error(url: str, status: int, code: str) -> AWSResponse:
    xml = f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
    return AWSResponse(url, status, {"content-type": "application/xml"}, _Body(xml))


def _failing(status: int, times: int, calls: list[int]) -> Any:
    """A botocore before-send hook: the first `times` GetObject attempts get `status` instead of S3's answer."""

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        calls.append(1)
        if len(calls) <= times:
            return _error(request.url, status, "SlowDown" if status == 503 else "InternalError")
        return None

    return hook


def test_a_failing_first_attempt_is_retried(s3: Any, artifact_dir: Path) -> None:
    client, calls = s3_client(), []
    client.meta.events.register("before-send.s3.GetObject", _failing(503, 1, calls))
    model = load_model(settings_for(artifact_dir), client)
    assert model.metadata.name == "iris-random-forest"
    assert len(calls) == 4  # metadata: 503 then retried; then the model and its compiled form


def test_retries_are_bounded_then_the_refusal_is_clear(s3: Any, artifact_dir: Path) -> None:
    client, calls = s3_client(attempts=3), []
    client.meta.events.register("before-send.s3.GetObject", _failing(500, 100, calls))
    with pytest.raises(ArtifactError, match=r"could not read s3://models/iris/v1/metadata.json"):
        load_model(settings_for(artifact_dir), client)
    assert len(calls) == 3


def test_access_denied_says_what_to_allow(s3: Any, artifact_dir: Path) -> None:
    client = s3_client()
    client.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_: _error(request.url, 403, "AccessDenied")
    )
    with pytest.raises(ArtifactError, match="denied: allow s3:GetObject"):
        load_model(settings_for(artifact_dir), client)
