"""A bounded Python load generator, for when wrk cannot be installed: keep-alive HTTP/1.1 POSTs
over N connections for a fixed time (or request count). It is slower than wrk, so against a fast
server it measures itself too: its results carry tool="python" and the tables say so."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .stats import percentile
from .wrk import LoadResult, Sent


@dataclass
class _State:
    deadline: float
    limit: int | None
    sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    non_2xx: int = 0
    socket_errors: int = 0

    def more(self) -> bool:
        return time.perf_counter() < self.deadline and (self.limit is None or self.sent < self.limit)


def _request(host: str, port: int, body: bytes) -> bytes:
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _one_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "content-length"), None)
    if length is None:
        raise ConnectionError("response without Content-Length")
    await reader.readexactly(length)
    return status


async def _connection(host: str, port: int, request: bytes, state: _State) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        state.socket_errors += 1
        return
    try:
        while state.more():
            state.sent += 1
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status = await _one_response(reader)
            state.latencies_ms.append((time.perf_counter() - started) * 1000)
            if status > 399:  # what wrk counts as "Non-2xx or 3xx responses"
                state.non_2xx += 1
    except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        state.socket_errors += 1
    finally:
        writer.close()


async def _run(url: str, connections: int, seconds: float, body: bytes, requests: int | None) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    state = _State(deadline=time.perf_counter() + seconds, limit=requests)
    started = time.perf_counter()
    tasks = [_connection(host, port, _request(host, port, body), state) for _ in range(connections)]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
    elapsed = time.perf_counter() - started
    done = state.latencies_ms or [float("nan")]
    return LoadResult(
        tool="python",
        connections=connections,
        requests=len(state.latencies_ms),
        duration_s=round(elapsed, 3),
        requests_per_s=round(len(state.latencies_ms) / elapsed, 2),
        p50_ms=percentile(done, 50),
        p75_ms=percentile(done, 75),
        p90_ms=percentile(done, 90),
        p99_ms=percentile(done, 99),
        non_2xx=state.non_2xx,
        socket_errors=state.socket_errors,
    )


def run_python_load(url: str, *, connections: int, seconds: float, body: bytes) -> LoadResult:
    """The same run as bench.wrk.run_wrk, in this process, bounded by `seconds`."""
    return asyncio.run(_run(url, connections, seconds, body, None))


def send_python(url: str, *, requests: int, connections: int, body: bytes, timeout_s: float) -> Sent:
    """The same as bench.wrk.send_wrk: `requests` requests, or as many as `timeout_s` allows."""
    result = asyncio.run(_run(url, connections, timeout_s, body, requests))
    return Sent(result.requests, result.failed)
