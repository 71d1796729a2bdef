"""The load driver's engine: one event loop (uvloop) per process, in one process or several sharing the arrivals.

One worker sends its arrivals on schedule from a single event loop, with compare/load_http.py's
lean HTTP/1.1 client (asyncio Protocols and httptools over keep-alive connections); through an
HTTP proxy from the environment, with aiohttp, which speaks to proxies (at a fraction of the rate:
aiohttp took ~0.3 ms of CPU a request, the lean client ~0.06 ms). Each request notes its send time
just before it is sent, so whatever held it back (a busy loop, the in-flight cap) is lag. The cap:
at most `cap` requests in flight; beyond it a request waits for one to finish, so a slow server
costs lag (reported, and it marks the run driver-bound) and never unbounded memory. Each request
has at most `timeout_s`, and nothing is sent after `deadline_s`, so a run ends by itself.

When one core is not enough, `drive` starts `workers` processes and deals the arrivals to them in
turn (each gets every n-th, so each is the same process at 1/n of the rate). They share one start
instant on CLOCK_MONOTONIC, which is system-wide on Linux, and each is pinned to its own CPU of the
parent's affinity set when there are enough of them.
"""

from __future__ import annotations

import asyncio
import gc
import math
import multiprocessing as mp
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

if TYPE_CHECKING:
    import aiohttp

CLIENT_ERROR = 0  # no HTTP answer: connection refused, reset or timed out
HEADERS = {"content-type": "application/json"}
SKIP_HEADERS = ("User-Agent", "Accept-Encoding")  # aiohttp's defaults that the server has no use for
READY_TIMEOUT_S = 60.0  # for worker processes to start (imports) and report ready


@dataclass(frozen=True)
class Job:
    """What one worker sends: its share of the arrivals (seconds from the common start), and its bounds."""

    url: str  # full URL of the request
    body: bytes
    scheduled_s: np.ndarray
    cap: int  # most requests in flight at once
    timeout_s: float
    deadline_s: float  # send nothing scheduled or due after this (seconds from the start)
    progress: bool = False


@dataclass
class Columns:
    """Per request, in the order of `scheduled_s`; requests never sent are dropped by `sent_only`."""

    scheduled_s: np.ndarray
    sent_s: np.ndarray
    latency_s: np.ndarray
    status: np.ndarray
    cold_start: np.ndarray
    request_id: list[str]
    held_by_cap: int = 0  # requests that waited for a free in-flight slot before being sent
    started_at: float = math.nan  # the schedule's start on the driver's clock (time.monotonic)

    @classmethod
    def empty(cls, scheduled: np.ndarray) -> Columns:
        n = scheduled.size
        nan = np.full(n, np.nan)
        return cls(scheduled, nan, nan.copy(), np.zeros(n, dtype=np.int16), np.zeros(n, dtype=bool), [""] * n)

    def sent_only(self) -> Columns:
        keep = ~np.isnan(self.sent_s)
        ids = [rid for rid, k in zip(self.request_id, keep.tolist(), strict=True) if k]
        return Columns(self.scheduled_s[keep], self.sent_s[keep], self.latency_s[keep], self.status[keep],
                       self.cold_start[keep], ids, self.held_by_cap, self.started_at)  # fmt: skip

    @classmethod
    def merge(cls, parts: list[Columns]) -> Columns:
        scheduled = np.concatenate([p.scheduled_s for p in parts])
        order = np.argsort(scheduled, kind="stable")
        ids = [rid for p in parts for rid in p.request_id]
        return cls(
            scheduled[order],
            np.concatenate([p.sent_s for p in parts])[order],
            np.concatenate([p.latency_s for p in parts])[order],
            np.concatenate([p.status for p in parts])[order],
            np.concatenate([p.cold_start for p in parts])[order],
            [ids[i] for i in order.tolist()],
            sum(p.held_by_cap for p in parts),
            min((p.started_at for p in parts), default=math.nan),  # one common start: every worker has it
        )


def _proxy_for(url: str) -> str | None:
    """The environment's proxy for this URL, looked up once (as httpx did, without a lookup per request)."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


class _Sender:
    """The requests of one job: each notes its send time, its answer, and frees its in-flight slot."""

    def __init__(self, job: Job, session: aiohttp.ClientSession, start: float, clock: Callable[[], float]) -> None:
        self.job, self.session, self.start, self.clock = job, session, start, clock
        self.out = Columns.empty(job.scheduled_s)
        import yarl  # aiohttp's URL type, imported with it

        self.url = yarl.URL(job.url)  # parsed once, not per request
        self.options: dict[str, Any] = {"data": job.body, "headers": HEADERS}
        if (proxy := _proxy_for(job.url)) is not None:
            self.options["proxy"] = proxy
        self.in_flight = 0
        self.answered = 0
        self.slot_free = asyncio.Event()

    async def one(self, i: int) -> None:
        import aiohttp

        out = self.out
        sent_at = self.clock() - self.start
        out.sent_s[i] = sent_at
        try:
            async with self.session.post(self.url, **self.options) as answer:
                await answer.read()
                out.status[i] = answer.status
                out.cold_start[i] = answer.headers.get("x-cold-start") == "true"
                out.request_id[i] = answer.headers.get("x-request-id", "")
        except (aiohttp.ClientError, TimeoutError, OSError):
            out.status[i] = CLIENT_ERROR
        out.latency_s[i] = self.clock() - self.start - sent_at
        self.answered += 1
        self.in_flight -= 1
        self.slot_free.set()

    async def wait_for_slot(self) -> None:
        self.out.held_by_cap += 1
        self.slot_free.clear()
        await self.slot_free.wait()


async def _run_job(
    job: Job, ready: Callable[[], float] | None = None, clock: Callable[[], float] = time.monotonic
) -> Columns:
    """Send `job`'s arrivals, each at the start + its scheduled time on `clock`, and record every request.

    The start: once the client is set up, or what `ready` (called then) returns, for workers that
    share one start instant."""
    if _proxy_for(job.url) is None:
        from .load_http import run_job  # imports this module: imported here, once this one is loaded

        return await run_job(job, ready, clock)
    return await _run_job_aiohttp(job, ready, clock)


async def _run_job_aiohttp(job: Job, ready: Callable[[], float] | None, clock: Callable[[], float]) -> Columns:
    """As `_run_job`, with aiohttp: for a target behind an HTTP proxy, which the lean client does not speak to."""
    import aiohttp  # here, not at the top: the other `compare` commands start without it

    schedule = job.scheduled_s.tolist()
    connector = aiohttp.TCPConnector(limit=job.cap, limit_per_host=0, ttl_dns_cache=None, enable_cleanup_closed=False)
    timeout = aiohttp.ClientTimeout(total=job.timeout_s)
    pending: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        raise_for_status=False,
        trust_env=False,
        skip_auto_headers=SKIP_HEADERS,
    ) as session:
        start = clock() if ready is None else ready()
        if (delay := start - clock()) > 0:
            await asyncio.sleep(delay)
        sender = _Sender(job, session, start, clock)
        next_report = 1.0
        i, n = 0, len(schedule)
        while i < n:
            now = clock() - start
            if now >= job.deadline_s:
                break
            if schedule[i] > now:
                await asyncio.sleep(schedule[i] - now)
                continue
            if sender.in_flight >= job.cap:
                await sender.wait_for_slot()
                continue
            # Start every request that is due now (and that a slot allows) before yielding to the loop.
            while i < n and sender.in_flight < job.cap and schedule[i] <= now:
                task = asyncio.create_task(sender.one(i))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sender.in_flight += 1
                i += 1
            if job.progress and now >= next_report:
                print(f"\r{now:7.0f} s  sent {i:>8}  answered {sender.answered:>8}  in flight {sender.in_flight:>5}",
                      end="", file=sys.stderr)  # fmt: skip
                next_report = math.floor(now) + 1.0
        if pending:
            await asyncio.wait(set(pending))
    if job.progress:
        print(file=sys.stderr)
    sender.out.started_at = start
    return sender.out


def _event_loop_runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the compare extra, except on Windows
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def _run(coroutine: Coroutine[Any, Any, Columns]) -> Columns:
    import httptools  # noqa: F401 - imported before the run starts, not on its clock

    from . import load_http  # noqa: F401 - likewise

    # Objects alive now (modules, the schedule) never become garbage: keep the collector off them.
    gc.collect()
    gc.freeze()
    try:
        with _event_loop_runner() as runner:
            return runner.run(coroutine)
    finally:
        gc.unfreeze()


def run_in_process(job: Job) -> Columns:
    return _run(_run_job(job))


def _worker(job: Job, cpu: int | None, conn: Connection) -> None:
    """One worker process: report ready, receive the common start, send, return the columns."""
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

        def ready() -> float:  # set up: say so, and wait for the common start
            conn.send("ready")
            start: float = conn.recv()
            return start

        conn.send(("ok", _run(_run_job(job, ready))))
    except BaseException as exc:  # reported to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _cpus_for(workers: int) -> list[int | None]:
    """A CPU of this process's affinity set for each worker when there are enough of them; else no pinning."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(allowed) >= workers > 1:
        return list(allowed[:workers])
    return [None] * workers


def _await_message(conn: Connection, timeout_s: float, what: str) -> Any:
    if not conn.poll(max(timeout_s, 1.0)):
        raise RuntimeError(f"a load worker did not {what} within {timeout_s:.0f} s")
    try:
        message = conn.recv()
    except EOFError as exc:
        raise RuntimeError(f"a load worker exited before it could {what}") from exc
    if isinstance(message, tuple) and message[0] == "error":
        raise RuntimeError(f"load worker failed: {message[1]}")
    return message


def run_in_workers(jobs: list[Job]) -> Columns:
    """Each job in its own process, all starting at the same instant; their records merged by schedule."""
    context = mp.get_context("spawn")  # no fork of a process that may hold threads (numpy's, the caller's)
    pipes, processes = [], []
    try:
        for job, cpu in zip(jobs, _cpus_for(len(jobs)), strict=True):
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(job, cpu, child), daemon=True)
            process.start()
            child.close()
            pipes.append(parent)
            processes.append(process)
        for conn in pipes:
            _await_message(conn, READY_TIMEOUT_S, "start")
        start = time.monotonic() + 0.1  # every worker is set up and has its start before it comes
        for conn in pipes:
            conn.send(start)
        # Every worker stops sending at its deadline and waits at most timeout_s for what is in flight.
        end = start + max(job.deadline_s for job in jobs) + max(job.timeout_s for job in jobs) + READY_TIMEOUT_S
        parts = [_await_message(conn, end - time.monotonic(), "finish")[1] for conn in pipes]
        return Columns.merge(parts)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        for conn in pipes:
            conn.close()


def drive(job: Job, workers: int) -> Columns:
    """Send `job` from `workers` processes (the arrivals dealt in turn, the cap shared), or in this process."""
    if workers <= 1:
        return run_in_process(job).sent_only()
    cap = max(1, math.ceil(job.cap / workers))
    jobs = [
        Job(job.url, job.body, job.scheduled_s[k::workers], cap, job.timeout_s, job.deadline_s, job.progress and k == 0)
        for k in range(workers)
    ]
    return run_in_workers(jobs).sent_only()
