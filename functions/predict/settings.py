"""Typed settings, read from the environment once per process (prefix PREDICT_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The embedded default model lives beside the code, so `make run`, the images and the
# zip variant all find it without configuration.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "model"

# Lambda's synchronous invocation payload limit: a larger body could never reach the
# Lambda entry point, so the server refuses it too and both behave alike.
LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024


class Settings(BaseSettings):
    # An empty variable is an unset one: SAM's local runner turns the template's `AWS::NoValue`
    # into "", and a deployment tool that blanks a variable means "use the default".
    # populate_by_name: a field with an alias (port) is still set by its name in code, Settings(port=...).
    model_config = SettingsConfigDict(env_prefix="PREDICT_", frozen=True, env_ignore_empty=True, populate_by_name=True)

    model_dir: Path = Field(DEFAULT_MODEL_DIR, description="Directory holding model.joblib and metadata.json")
    model_uri: str | None = Field(
        None, description="s3://bucket/prefix holding model.joblib and metadata.json (instead of model_dir)"
    )
    model_sha256: str | None = Field(
        None, description="Pinned SHA-256 of model.joblib; when set it must match as well as the metadata's"
    )
    model_onnx_sha256: str | None = Field(
        None, description="Pinned SHA-256 of model.onnx; with a pinned model digest the compiled form needs it too"
    )
    serving_form: Literal["auto", "onnx", "sklearn"] = Field(
        "auto", description="auto: the compiled form when the artifact has one, else scikit-learn"
    )
    skops_trusted: str = Field("", description="Comma-separated types a model.skops may load beyond skops' defaults")
    max_rows: int = Field(10_000, gt=0, description="Most rows accepted in one request")
    max_body_bytes: int = Field(LAMBDA_PAYLOAD_LIMIT_BYTES, gt=0, description="Largest request body accepted")
    base_path: str = Field("/", description="Path prefix stripped on Lambda (an API Gateway stage or mapping)")

    host: str = "127.0.0.1"
    # Knative and Cloud Run tell the container its port in PORT; PREDICT_PORT, when set, wins.
    port: int = Field(
        8000,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("PREDICT_PORT", "PORT"),
        description="Listening port: PREDICT_PORT, else PORT (set by Knative, Cloud Run), else 8000",
    )
    workers: int = Field(1, ge=1, description="uvicorn workers; on Kubernetes keep 1 and scale replicas")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    access_log: bool = Field(True, description="One JSON log line per request (no bodies)")
    drain_s: float = Field(0, ge=0, description="After SIGTERM: /ready is 503 but requests are served this long")
    graceful_shutdown_s: int = Field(20, ge=0, description="Then the time requests in flight get to finish")

    @property
    def skops_trusted_types(self) -> list[str]:
        return [name.strip() for name in self.skops_trusted.split(",") if name.strip()]

    @field_validator("model_sha256", "model_onnx_sha256")
    @classmethod
    def _is_hex_digest(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ValueError("must be a SHA-256 hex digest (64 hexadecimal characters)")
        return value
