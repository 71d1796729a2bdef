"""The calibration record: measured cold and warm times per entry point and batch size, and what each
platform itself sees of a request.

Written by `python -m compare calibrate` (or by hand, from your own cloud measurements) and read
by `simulate` and `validate`. All times in seconds. JSON shape (version 2):

    {"version": 2, "created": "...", "source": "local" | "lambda-logs" | "load-run" | "hand",
     "machine": {...}, "versions": {...},
     "lambda": {"cold_start_s": [...], "warm_s": {"1": [...], "10": [...]}, "memory_mb": 1024,
                "handler_s": {"1": [...], "10": [...]}},
     "server": {"cold_start_s": [...], "warm_s": {"1": [...]},
                "pod_start_s": [...], "pod_start_source": "container" | "process",
                "load": {"capacity_per_s": ..., "capacity_cpu_s_per_request": ..., "capacity_utilisation": ...,
                         "capacity_connections": 32, "idle_cpu_cores": ..., "open_capacity_per_s": ...,
                         "driver_held_per_s": null,
                         "levels": [{"offered_per_s": ..., "achieved_per_s": ..., "requests": ..., "seconds": ...,
                                     "cpu_s_per_request": ..., "utilisation": ...,
                                     "in_process_s": [...], "overhead_s": [...]}, ...]}}}

`cold_start_s` is the whole time of a request that starts an environment or a pod's process
(process start to the first answer); `warm_s` the client's round trip of a request on a warm one
(the server's one at a time; Lambda's, locally, under light Poisson load on a pool of one runtime,
as `compare validate` loads it, since back to back the runtime never idles). The server's
`pod_start_s` (optional: older records lack it) is what a new pod costs before its probe passes:
the server image's container under the Deployment's contract, `docker run` to the first correct
answer ("container"), or, where no Docker engine answered, the process's cold start ("process").

What the platforms see (version 2; optional, so version-1 records still load and simulate as they
did, on the round trip alone):
- Lambda's `handler_s`: the handler's duration as the local Runtime API sees it, from handing out
  the invocation to receiving its response (what REPORT's Duration bills), paired by index with
  `warm_s`: the difference is the caller's overhead.
- The server's `load`: its saturation throughput (a closed-loop burst), its open-loop capacity (the
  Poisson rate at which its CPU reaches 0.95 of its core; `driver_held_per_s` where the load driver
  could not hold that and capped the levels) and, at several fractions of the open-loop capacity,
  the process's CPU seconds per request (/proc/PID/stat over the window, divided by the requests
  served), its CPU utilisation, and per request its in-process latency (the
  access log's latency_ms: arrival at the middleware to response start) and the overhead around it
  (the load driver's latency less the in-process one, matched by x-request-id).
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

from .platforms.base import Constant, Empirical
from .platforms.service import ServerService

ENTRY_POINTS = ("lambda", "server")
PodStartSource = Literal["container", "process"]
VERSION = 2  # 2: handler_s and load (what the platforms see); 1 (no "version" key): round trips only


class LoadLevel(BaseModel):
    """The server under open-loop Poisson load at one rate: what its process used and how long requests took."""

    offered_per_s: float = Field(gt=0)
    achieved_per_s: float = Field(gt=0, description="requests served over the window's wall time")
    requests: int = Field(gt=0)
    seconds: float = Field(gt=0, description="the window: wall time over which the CPU was read")
    cpu_s_per_request: float = Field(ge=0, description="CPU seconds over the window / requests served")
    utilisation: float = Field(ge=0, description="CPU seconds / wall seconds of the window")
    in_process_s: list[float] = Field(min_length=1, description="per request: the access log's latency")
    overhead_s: list[float] = Field(description="the same requests: the driver's latency less in_process_s")
    driver_bound: bool = False
    # Per core (server, driver): other tasks' work and the hypervisor's steal over the window, in cores (None:
    # unknown); load the calibrated figures carry and a pod with its core to itself would not see.
    other_work_cores: dict[str, dict[str, float] | None] | None = None
    # The machine's speed over the window (compare/core_speed.py's summary), and how many answered requests were
    # left out of in_process_s/overhead_s for running, at some moment, below half of it (None, 0: older records).
    machine_speed: dict[str, float] | None = None
    slow_left_out: int = 0
    # Of the server's main thread's run time over the window (/proc/PID/schedstat, read by the speed probe), the
    # share that was full-speed work (weighted by the machine's speed): by that reckoning, what a request costs a
    # core that never slows is cpu_s_per_request times this (1: older records, or no schedstat). Recorded, not
    # applied (server_service says why).
    work_share: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _paired(self) -> Self:
        if len(self.overhead_s) != len(self.in_process_s):
            raise ValueError("load level: in_process_s and overhead_s are paired per request (same length)")
        return self


class ServerLoad(BaseModel):
    """The server's capacity and its load levels (see the module's docstring)."""

    capacity_per_s: float = Field(gt=0, description="saturation throughput: a closed-loop burst")
    capacity_cpu_s_per_request: float = Field(gt=0)
    capacity_utilisation: float = Field(ge=0, description="the process's CPU during the burst (about 1: CPU-bound)")
    capacity_connections: int = Field(gt=0, description="requests the burst kept in flight")
    idle_cpu_cores: float = Field(ge=0, description="what the idle process uses")
    # What Poisson arrivals can use (compare/server_calibration.py's open_capacity); older records lack it.
    open_capacity_per_s: float | None = Field(default=None, gt=0, description="the process's CPU at 0.95: open loop")
    driver_held_per_s: float | None = Field(default=None, gt=0, description="set where the driver capped the levels")
    levels: list[LoadLevel] = Field(min_length=1)


class EntryPointTimes(BaseModel):
    cold_start_s: list[float] = Field(min_length=1)
    warm_s: dict[str, list[float]] = Field(description="batch size -> warm request times")
    memory_mb: int | None = None
    # The server's only: a new pod's start, and what was timed (see the module's docstring).
    pod_start_s: list[float] | None = Field(default=None, min_length=1)
    pod_start_source: PodStartSource | None = None
    # Version 2: Lambda's handler duration (paired with warm_s) and the server's load levels.
    handler_s: dict[str, list[float]] | None = None
    load: ServerLoad | None = None

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
    version: int = VERSION
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    source: str = "local"
    machine: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    # `lambda` is a keyword: the attribute is lambda_, the JSON key "lambda".
    lambda_: EntryPointTimes = Field(alias="lambda")
    server: EntryPointTimes

    model_config = {"populate_by_name": True}

    @model_validator(mode="before")
    @classmethod
    def _version(cls, data: Any) -> Any:
        if isinstance(data, dict) and "version" in data:
            version = data["version"]
            if not isinstance(version, int) or not 1 <= version <= VERSION:
                raise ValueError(
                    f"calibration version {version!r}: this twinserve reads versions 1 to {VERSION}; "
                    "run `python -m compare calibrate` again"
                )
        return data

    @model_validator(mode="after")
    def _pod_start_is_the_servers(self) -> Self:
        if self.lambda_.pod_start_s is not None:
            raise ValueError("lambda: pod_start_s belongs to the server (a Lambda environment has no pod)")
        if self.lambda_.load is not None:
            raise ValueError("lambda: load levels belong to the server")
        if self.server.handler_s is not None:
            raise ValueError("server: handler_s belongs to Lambda (the Runtime API's view of the handler)")
        for size, samples in (self.lambda_.handler_s or {}).items():
            if len(samples) != len(self.lambda_.warm_s.get(size, [])):
                raise ValueError(f"lambda: handler_s[{size!r}] pairs with warm_s[{size!r}] (same length)")
        return self

    @classmethod
    def read(cls, path: Path) -> Calibration:
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                data.setdefault("version", 1)  # a record written before version 2 carries none
            return cls.model_validate(data)
        except FileNotFoundError as exc:
            raise ValueError(f"no calibration at {path}; run `python -m compare calibrate` first") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not a calibration (not JSON: {exc})") from exc

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

    def lambda_handler(self, batch: int = 1) -> tuple[Empirical, Empirical] | None:
        """The handler's duration as the Runtime API sees it (billed) and the caller's overhead around it
        (round trip less duration); None for a record without them (version 1, or REPORT lines)."""
        handler = (self.lambda_.handler_s or {}).get(str(batch))
        if not handler:
            return None
        trips = self.lambda_.warm_s[str(batch)]
        overhead = [max(0.0, trip - inside) for trip, inside in zip(trips, handler, strict=True)]
        return Empirical(tuple(handler)), Empirical(tuple(overhead))

    def server_service(self) -> ServerService | None:
        """The server's CPU per request against its offered rate, and what callers see beyond the queue
        (compare/platforms/service.py); None for a record without load levels (version 1, a load run).

        CPU per request is taken net of the idle process's share ((utilisation - idle) / rate), since the
        simulator adds the idle cores to every pod's utilisation itself (as measured: a level's work_share is
        recorded, not applied; scaled by it, one validate run's plain utilisation came out 0.15-0.18 under
        the measured one and the replay still 0.04-0.13 under); the saturation burst closes the
        table (a level that reached the capacity is left out). A level the driver could not hold still
        counts here: the server's CPU over what it served is its own, only the latency is the driver's."""
        load = self.server.load
        if load is None:
            return None
        idle = load.idle_cpu_cores
        table = {
            level.achieved_per_s: max(1e-6, (level.utilisation - idle) / level.achieved_per_s)
            for level in load.levels
            if level.achieved_per_s < load.capacity_per_s
        }
        table[load.capacity_per_s] = max(1e-6, (load.capacity_utilisation - idle) / load.capacity_per_s)
        rates = sorted(table)
        busiest = 0.0  # a noisy level never makes a higher rate cost the core less than a lower one did
        for rate in rates:
            busiest = max(busiest, rate * table[rate])
            table[rate] = busiest / rate
        lightest = min(load.levels, key=lambda level: level.offered_per_s)
        return ServerService(
            rates_per_s=tuple(rates),
            cpu_s=tuple(table[rate] for rate in rates),
            seen=tuple(zip(lightest.in_process_s, lightest.overhead_s, strict=True)),
            idle_cpu_cores=idle,
            capacity_per_s=load.open_capacity_per_s or load.capacity_per_s,
        )

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


def platform_view(calibration: Calibration) -> dict[str, Any]:
    """What `calibrate` prints of the platforms' view: medians in ms, the server's capacity and CPU per level."""
    out: dict[str, Any] = {}
    if (handler := calibration.lambda_handler()) is not None:
        duration, overhead = handler
        out["lambda_handler_1_row_ms"] = round(float(np.median(duration.samples)) * 1000, 3)
        out["lambda_overhead_1_row_ms"] = round(float(np.median(overhead.samples)) * 1000, 3)
    load = calibration.server.load
    if load is not None:
        out["server_capacity_per_s"] = round(load.capacity_per_s, 1)
        out["server_capacity_utilisation"] = round(load.capacity_utilisation, 3)
        if load.open_capacity_per_s is not None:
            out["server_open_loop_capacity_per_s"] = round(load.open_capacity_per_s, 1)
        if load.driver_held_per_s is not None:
            out["server_levels_capped_by_driver_at_per_s"] = round(load.driver_held_per_s, 1)
        out["server_idle_cpu_cores"] = round(load.idle_cpu_cores, 4)
        out["server_levels"] = [
            {
                "offered_per_s": round(level.offered_per_s, 1),
                "achieved_per_s": round(level.achieved_per_s, 1),
                "cpu_ms_per_request": round(level.cpu_s_per_request * 1000, 3),
                "utilisation": round(level.utilisation, 3),
                "in_process_p50_ms": round(float(np.median(level.in_process_s)) * 1000, 3),
                "overhead_p50_ms": round(float(np.median(level.overhead_s)) * 1000, 3),
                "driver_bound": level.driver_bound,
                "other_work_cores": level.other_work_cores,
                "machine_speed": level.machine_speed,
                "slow_left_out": level.slow_left_out,
                "work_share": round(level.work_share, 4),
            }
            for level in load.levels
        ]
    return out
