"""The load generator: wrk (installed from Debian's package when missing), its --latency output parsed.

Without wrk, a bounded Python generator (bench.loadgen) stands in; its results say so in `tool`.
"""

from __future__ import annotations

import os
import re
import shutil

# Only wrk and apt-get, found on PATH and given fixed arguments.
import subprocess  # nosec B404
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

POST_LUA = Path(__file__).resolve().with_name("post.lua")
_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}  # to milliseconds
_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}  # to seconds
_NUMBER_UNIT = r"([0-9.]+)(us|ms|s|m|h)"


@dataclass(frozen=True)
class LoadResult:
    """One load run against one server: throughput, latency percentiles (ms) and failures."""

    tool: str  # "wrk" or "python" (the fallback generator)
    connections: int
    requests: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0

    @property
    def failed(self) -> int:
        return self.non_2xx + self.socket_errors

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class WrkOutputError(ValueError):
    """wrk printed something this parser does not understand (or nothing at all)."""


def _time_ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS[unit]


def parse_wrk(text: str) -> LoadResult:
    """Parse the text wrk prints with --latency (one run, any thread and connection count)."""
    connections = re.search(r"(\d+) threads? and (\d+) connections?", text)
    total = re.search(r"(\d+) requests in " + _NUMBER_UNIT, text)
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if connections is None or total is None or rate is None:
        raise WrkOutputError(f"not wrk --latency output: {text[-500:]!r}")
    percentiles: dict[str, float] = {}
    for percent, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+" + _NUMBER_UNIT + r"\s*$", text, re.MULTILINE):
        percentiles[percent] = _time_ms(value, unit)
    if set(percentiles) != {"50", "75", "90", "99"}:
        raise WrkOutputError("no latency distribution in wrk's output: was --latency given?")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return LoadResult(
        tool="wrk",
        connections=int(connections.group(2)),
        requests=int(total.group(1)),
        duration_s=float(total.group(2)) * _DURATION_UNITS[total.group(3)],
        requests_per_s=float(rate.group(1)),
        p50_ms=percentiles["50"],
        p75_ms=percentiles["75"],
        p90_ms=percentiles["90"],
        p99_ms=percentiles["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def ensure_wrk() -> str | None:
    """Path of wrk; when it is missing, install Debian's package (`apt-get install -y wrk`) if we are root.

    Returns None when wrk cannot be had: the caller then uses the Python fallback generator.
    """
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        print("wrk is not installed and cannot be (no apt-get, or not root): using the Python load generator")
        return None
    print("wrk is not installed: installing Debian's package (apt-get update; apt-get install -y wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "wrk"]):
        try:
            subprocess.run(command, env=env, capture_output=True, timeout=300, check=True)  # noqa: S603  # nosec B603
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            print(f"could not install wrk ({' '.join(command[1:])}: {exc}): using the Python load generator")
            return None
    return shutil.which("wrk")


def wrk_version(wrk: str) -> str:
    """E.g. "wrk debian/4.1.0-3+b2" (wrk prints its version, then its usage, and exits 1)."""
    result = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10, check=False)  # noqa: S603  # nosec B603
    words = (result.stdout + result.stderr).split()
    return " ".join(words[:2]) if words[:1] == ["wrk"] else "wrk"


def _invoke(
    wrk: str, url: str, *, connections: int, seconds: float, body: bytes, env: dict[str, str], cpu: int | None
) -> str:
    command = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(POST_LUA), url]
    taskset = shutil.which("taskset")
    if cpu is not None and taskset:
        command = [taskset, "-c", str(cpu), *command]
    result = subprocess.run(  # noqa: S603  # nosec B603
        command,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}, **env, "BENCH_BODY": body.decode()},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if result.returncode != 0:
        raise WrkOutputError(f"wrk exited with {result.returncode}: {result.stderr[-500:]}")
    return result.stdout


def run_wrk(wrk: str, url: str, *, connections: int, seconds: float, body: bytes, cpu: int | None = None) -> LoadResult:
    """`[taskset -c CPU] wrk -t1 -cN -dS --latency -s post.lua URL`, bounded by S plus a margin."""
    return parse_wrk(_invoke(wrk, url, connections=connections, seconds=seconds, body=body, env={}, cpu=cpu))


@dataclass(frozen=True)
class Sent:
    """A run of a fixed number of requests: how many got a response, and how many of those failed."""

    requests: int
    failed: int


def parse_sent(text: str) -> Sent:
    """post.lua's own line when it reached BENCH_REQUESTS; wrk's summary when -d ran out first."""
    line = re.search(r"^bench: (\d+) responses, (\d+) failed$", text, re.MULTILINE)
    if line:
        return Sent(int(line.group(1)), int(line.group(2)))
    result = parse_wrk(text)
    return Sent(result.requests, result.failed)


def send_wrk(wrk: str, url: str, *, requests: int, connections: int, body: bytes, timeout_s: float) -> Sent:
    """`requests` requests with wrk (post.lua exits at the count), or as many as `timeout_s` allows."""
    env = {"BENCH_REQUESTS": str(requests)}
    return parse_sent(_invoke(wrk, url, connections=connections, seconds=timeout_s, body=body, env=env, cpu=None))
