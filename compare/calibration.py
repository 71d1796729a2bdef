"""The calibration record: measured cold and warm service times per entry point and batch size.

Written by `python -m compare calibrate` (or by hand, from your own cloud measurements) and read
by `simulate`. All times in seconds. JSON shape:

    {"created": "...", "source": "local" | "lambda-logs" | "load-run" | "hand",
     "machine": {...}, "versions": {...},
     "lambda": {"cold_start_s": [...], "warm_s": {"1": [...], "10": [...]}, "memory_mb": 1024},
     "server": {"cold_start_s": [...], "warm_s": {"1": [...]},
                "pod_start_s": [...], "pod_start_source": "container" | "process"}}

`cold_start_s` is the whole time of a request that starts an environment or a pod's process
(process start to the first answer); `warm_s` the time of a request on a warm one. The server's
`pod_start_s` (optional: older records lack it) is what a new pod costs before its probe passes:
the server image's container under the Deployment's contract, `docker run` to the first correct
answer ("container"), or, where no Docker engine answered, the process's cold start ("process").
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from .platforms.base import Constant, Empirical

ENTRY_POINTS = ("lambda", "server")
PodStartSource = Literal["container", "process"]


class EntryPointTimes(BaseModel):
    cold_start_s: list[float] = Field(min_length=1)
    warm_s: dict[str, list[float]] = Field(description="batch size -> warm request times")
    memory_mb: int | None = None
    # The server's only: a new pod's start, and what was timed (see the module's docstring).
    pod_start_s: list[float] | None = Field(default=None, min_length=1)
    pod_start_source: PodStartSource | None = None

    @field_validator("pod_start_s")
    @classmethod
    def _non_negative(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(s < 0 for s in value):
            raise ValueError("pod_start_s: times are non-negative")
        return value

    @model_validator(mode="after")
    def _pod_start_says_its_source(self) -> Self:
        if (self.pod_start_s is None) != (self.pod_start_source is None):
            raise ValueError("pod_start_s and pod_start_source come together (what was timed: container or process)")
        return self

    @field_validator("warm_s")
    @classmethod
    def _has_single_rows(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        if "1" not in value or not value["1"]:
            raise ValueError("warm_s needs samples for batch size 1")
        for size, samples in value.items():
            if not size.isdigit() or any(s < 0 for s in samples):
                raise ValueError(f"warm_s[{size!r}]: batch sizes are whole numbers, times non-negative")
        return value


class Calibration(BaseModel):
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    source: str = "local"
    machine: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    # `lambda` is a keyword: the attribute is lambda_, the JSON key "lambda".
    lambda_: EntryPointTimes = Field(alias="lambda")
    server: EntryPointTimes

    model_config = {"populate_by_name": True}

    @model_validator(mode="after")
    def _pod_start_is_the_servers(self) -> Self:
        if self.lambda_.pod_start_s is not None:
            raise ValueError("lambda: pod_start_s belongs to the server (a Lambda environment has no pod)")
        return self

    @classmethod
    def read(cls, path: Path) -> Calibration:
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except FileNotFoundError as exc:
            raise ValueError(f"no calibration at {path}; run `python -m compare calibrate` first") from exc

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(by_alias=True, indent=2) + "\n")
        return path

    def times(self, entry_point: str) -> EntryPointTimes:
        if entry_point not in ENTRY_POINTS:
            raise ValueError(f"unknown entry point {entry_point!r}")
        return self.lambda_ if entry_point == "lambda" else self.server

    def warm(self, entry_point: str, batch: int = 1) -> Empirical:
        samples = self.times(entry_point).warm_s.get(str(batch))
        if not samples:
            raise ValueError(f"the calibration has no warm times for {entry_point} at batch size {batch}")
        return Empirical(tuple(samples))

    def pod_start_s(self) -> list[float]:
        """A new pod's start before its probe passes: the measured pod start, else (an older record) the
        server process's cold start."""
        return self.server.pod_start_s or self.server.cold_start_s

    def cold_extra(self, entry_point: str, batch: int = 1) -> Empirical | Constant:
        """The time a cold request takes beyond a warm one (init and first-call costs)."""
        warm = self.warm(entry_point, batch).mean
        extra = tuple(max(0.0, cold - warm) for cold in self.times(entry_point).cold_start_s)
        return Empirical(extra)


def machine_facts() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
