"""Where the model artifact comes from: a local directory, or an S3 prefix fetched into a cache.

From S3, `metadata.json` and the files it names (the model file, the compiled form if any) are
downloaded with bounded retries (botocore's standard mode: exponential backoff with jitter on
throttling, 5xx and connection errors), then loaded like a local artifact: digests are checked
before anything is loaded, and the model's must be pinned (PREDICT_MODEL_SHA256; the compiled
form's too, PREDICT_MODEL_ONNX_SHA256, for it to be served), since whoever can write the bucket
can write the metadata too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .artifact import METADATA_FILE, ONNX_FILE, LoadedModel, load_artifact, read_metadata
from .errors import ArtifactError
from .settings import Settings

S3_ATTEMPTS = 4


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ArtifactError(f"PREDICT_MODEL_URI must look like s3://bucket/prefix, got {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


def s3_client(attempts: int = S3_ATTEMPTS) -> Any:
    import boto3  # only on this path: the local one never needs it
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": attempts, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    return boto3.client("s3", config=config)


def fetch_s3_artifact(uri: str, dest: Path, client: Any = None) -> Path:
    """metadata.json first, then the files it names; their digests are checked on load."""
    bucket, prefix = parse_s3_uri(uri)
    s3 = client or s3_client()
    dest.mkdir(parents=True, exist_ok=True)
    _fetch(s3, bucket, prefix, METADATA_FILE, dest)
    metadata = read_metadata(dest)
    for name in (metadata.model_file, *([ONNX_FILE] if metadata.compiled else [])):
        _fetch(s3, bucket, prefix, name, dest)
    return dest


def _fetch(s3: Any, bucket: str, prefix: str, name: str, dest: Path) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    key = f"{prefix}/{name}" if prefix else name
    where = f"s3://{bucket}/{key}"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NoSuchBucket"):
            raise ArtifactError(f"no model artifact: {where} not found") from exc
        if code in ("AccessDenied", "403"):
            raise ArtifactError(f"access to {where} denied: allow s3:GetObject on it") from exc
        raise ArtifactError(f"could not read {where}: {code or type(exc).__name__}") from exc
    except BotoCoreError as exc:
        raise ArtifactError(f"could not reach S3 for {where}: {type(exc).__name__}") from exc
    (dest / name).write_bytes(body)


def load_model(settings: Settings, client: Any = None) -> LoadedModel:
    """The verified model the settings point at, from S3 when PREDICT_MODEL_URI is set."""
    if settings.model_uri is None:
        return _load(settings.model_dir, settings)
    if settings.model_sha256 is None:
        raise ArtifactError("a model from S3 needs its digest pinned: set PREDICT_MODEL_SHA256")
    cache = Path(tempfile.mkdtemp(prefix="twinserve-model-"))  # /tmp: the one writable place on Lambda
    return _load(fetch_s3_artifact(settings.model_uri, cache, client), settings)


def _load(model_dir: Path, settings: Settings) -> LoadedModel:
    return load_artifact(
        model_dir,
        settings.model_sha256,
        form=settings.serving_form,
        pinned_onnx_sha256=settings.model_onnx_sha256,
        skops_trusted=settings.skops_trusted_types,
    )
