"""The load driver's lean HTTP/1.1 client: asyncio Protocols over keep-alive connections, httptools to parse.

Why not aiohttp here: per request it builds a request and a response object, header multidicts,
timeout timers and a task, ~0.3 ms of one core; at 2,000 requests/s that is ~65 % of the core, and
a Poisson burst queues behind it (schedule lag p99 19-46 ms). This client takes ~0.06 ms (lag p99
~2 ms): a request is one write of bytes encoded once; its answer is parsed by httptools (uvicorn's
parser) in the Protocol's callbacks; no task, future or timer per request. One request in flight
per connection (no pipelining, as every HTTP/1.1 client does): up to `cap` connections, kept alive
and reused, most recently used first.

Arrivals are started from loop timers, every one that is due at once. uvloop's timers count whole
milliseconds (libuv's clock), and may fire up to 1 ms early: each tick asks for the next arrival
plus half a millisecond and sends nothing before its time, so the timer costs at most ~2 ms of
lag, and the loop never spins waiting (which would take the CPU from a server on the same core).
A request's send time is noted just before its bytes are written (or its connection is opened):
whatever held it back, a busy loop or the in-flight cap, is lag.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools
import numpy as np

from .load_driver import CLIENT_ERROR, Columns, Job

IDLE_S = 4.0  # close a connection idle this long: uvicorn closes them at 5 s, and a write then races the close
SWEEP_S = 0.05  # how often timeouts and idle connections are looked at


@dataclass(frozen=True)
class Target:
    """Where to connect, and the request's bytes, encoded once."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    request: bytes

    @classmethod
    def of(cls, url: str, body: bytes) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        tls = ssl.create_default_context() if parts.scheme == "https" else None
        port = parts.port or (443 if tls else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc.rpartition('@')[2]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return cls(parts.hostname, port, tls, head.encode("latin-1") + body)


class _Connection(asyncio.Protocol):
    """One keep-alive connection, carrying at most one request at a time (`index`, -1 when none)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.transport: asyncio.Transport  # from connection_made: only connected ones are in the pool
        self.parser = httptools.HttpResponseParser(self)
        self.index = -1
        self.sent_at = 0.0  # on the client's clock
        self.idle_since = 0.0
        self.cold = False
        self.request_id = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not a subclass of asyncio.Transport, only like one).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):  # not HTTP/1.1 we can read: drop it
            self.client.failed(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"x-cold-start":
            self.cold = value == b"true"
        elif name == b"x-request-id":
            self.request_id = value.decode("latin-1")

    def on_message_complete(self) -> None:
        self.client.answered(self, self.parser.get_status_code(), self.parser.should_keep_alive())

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.lost(self)


class Client:
    """The requests of one job: send each when told, keep its answer, hold it while `cap` are in flight."""

    def __init__(self, job: Job, target: Target, start: float, clock: Callable[[], float]) -> None:
        self.loop = asyncio.get_running_loop()
        self.target, self.start, self.clock = target, start, clock
        self.cap, self.timeout_s = job.cap, job.timeout_s
        n = job.scheduled_s.size
        # Python lists, not numpy, while running: an element store is ~4x cheaper.
        self.sent_s: list[float] = [math.nan] * n
        self.latency_s: list[float] = [math.nan] * n
        self.status: list[int] = [0] * n
        self.cold: list[bool] = [False] * n
        self.request_id: list[str] = [""] * n
        self.held_by_cap = 0
        self.idle: list[_Connection] = []  # a stack: the most recently used connection first
        self.connections: set[_Connection] = set()  # open, idle or busy
        self.connecting: set[asyncio.Task[None]] = set()  # each carries the request it was opened for
        self.waiting: deque[int] = deque()  # held by the cap, in arrival order
        self.accepting = True  # false once the deadline passed: held requests are then never sent
        self.answered_count = 0
        self.drained = self.loop.create_future()  # set when nothing is in flight after `finish`
        self.finishing = False

    @property
    def in_flight(self) -> int:
        return len(self.connecting) + len(self.connections) - len(self.idle)

    def send(self, i: int) -> None:
        if self.idle:
            self._write(self.idle.pop(), i)
        elif len(self.connecting) + len(self.connections) < self.cap:
            self._open(i)
        else:
            self.held_by_cap += 1
            self.waiting.append(i)

    def _write(self, conn: _Connection, i: int) -> None:
        now = self.clock()
        conn.index, conn.sent_at, conn.cold, conn.request_id = i, now, False, ""
        self.sent_s[i] = now - self.start
        conn.transport.write(self.target.request)

    def _open(self, i: int) -> None:
        sent_at = self.clock()
        self.sent_s[i] = sent_at - self.start
        task = self.loop.create_task(self._connect(i, sent_at))
        self.connecting.add(task)
        task.add_done_callback(self._connected)

    async def _connect(self, i: int, sent_at: float) -> None:
        target = self.target
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: _Connection(self), target.host, target.port, ssl=target.tls,
                    server_hostname=target.host if target.tls else None,
                ),
                timeout=max(self.timeout_s - (self.clock() - sent_at), 0.0),
            )  # fmt: skip
        except (OSError, TimeoutError, ssl.SSLError):  # refused, unreachable, timed out, bad certificate
            self._record(i, sent_at, CLIENT_ERROR)
            return
        self.connections.add(conn)
        conn.index, conn.sent_at = i, sent_at
        conn.transport.write(target.request)

    def _connected(self, task: asyncio.Task[None]) -> None:
        self.connecting.discard(task)
        self._next_or_done()

    def _record(self, i: int, sent_at: float, status: int, cold: bool = False, request_id: str = "") -> None:
        self.latency_s[i] = self.clock() - sent_at
        self.status[i] = status
        self.cold[i] = cold
        self.request_id[i] = request_id
        self.answered_count += 1

    def answered(self, conn: _Connection, status: int, keep_alive: bool) -> None:
        i = conn.index
        if i < 0:  # an answer nobody asked for (after a timeout): the connection is out of step
            self.failed(conn)
            return
        conn.index = -1
        self._record(i, conn.sent_at, status, conn.cold, conn.request_id)
        if not keep_alive:
            self._close(conn)
        elif self.waiting and self.accepting:
            self._write(conn, self.waiting.popleft())
            return
        else:
            conn.idle_since = self.clock()
            self.idle.append(conn)
        self._next_or_done()

    def failed(self, conn: _Connection) -> None:
        """Reset, unparsable or timed out: the request (if any) has no answer, and the connection goes."""
        if conn.index >= 0:
            self._record(conn.index, conn.sent_at, CLIENT_ERROR)
            conn.index = -1
        self._close(conn, abort=True)
        self._next_or_done()

    def lost(self, conn: _Connection) -> None:
        if conn in self.connections:
            self.failed(conn)

    def _close(self, conn: _Connection, abort: bool = False) -> None:
        self.connections.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if abort:
            conn.transport.abort()
        else:
            conn.transport.close()

    def _next_or_done(self) -> None:
        """A slot is free: give it to a held request; or, once all are sent and answered, say so."""
        if self.waiting and self.accepting and len(self.connecting) + len(self.connections) < self.cap:
            self._open(self.waiting.popleft())
        elif self.finishing and not self.waiting and self.in_flight == 0 and not self.drained.done():
            self.drained.set_result(None)

    def sweep(self) -> None:
        """Time out what has waited `timeout_s`; close connections idle for `IDLE_S`."""
        now = self.clock()
        for conn in [c for c in self.connections if c.index >= 0 and now - c.sent_at > self.timeout_s]:
            self.failed(conn)
        while self.idle and now - self.idle[0].idle_since > IDLE_S:
            self._close(self.idle[0])

    def stop_accepting(self) -> None:
        """The deadline: nothing held is sent any more."""
        self.accepting = False
        self.waiting.clear()

    def finish(self) -> None:
        self.finishing = True
        self._next_or_done()

    def close(self) -> None:
        for conn in list(self.connections):
            self._close(conn)

    def columns(self, scheduled: np.ndarray) -> Columns:
        return Columns(
            scheduled,
            np.array(self.sent_s, dtype=float),
            np.array(self.latency_s, dtype=float),
            np.array(self.status, dtype=np.int16),
            np.array(self.cold, dtype=bool),
            self.request_id,
            self.held_by_cap,
            self.start,
        )


class _Schedule:
    """Start each arrival at its time from loop timers; sweep and report progress beside it."""

    def __init__(self, job: Job, client: Client, start: float, clock: Callable[[], float]) -> None:
        self.job, self.client, self.start, self.clock = job, client, start, clock
        self.schedule: list[float] = job.scheduled_s.tolist()
        self.next = 0
        self.loop = client.loop
        self.next_report = 1.0
        self.sweeper: asyncio.TimerHandle | None = None

    def begin(self) -> None:
        self.tick()
        self.sweep()

    def tick(self) -> None:
        now = self.clock() - self.start
        schedule, client, n = self.schedule, self.client, len(self.schedule)
        if now >= self.job.deadline_s:  # nothing more is sent, held requests included
            self.next = n
            client.stop_accepting()
        # Every arrival that is due, in one go: they share this tick.
        while self.next < n and schedule[self.next] <= now:
            client.send(self.next)
            self.next += 1
        if self.next < n:
            # Half a millisecond more: uvloop rounds to whole ms, and an early timer would just tick again.
            delay = schedule[self.next] - (self.clock() - self.start)
            self.loop.call_later(max(delay, 0.0) + 0.0005, self.tick)
        else:
            client.finish()

    def sweep(self) -> None:
        client = self.client
        client.sweep()
        now = self.clock() - self.start
        if now >= self.job.deadline_s:
            client.stop_accepting()
            client.finish()
        if self.job.progress and now >= self.next_report:
            print(f"\r{now:7.0f} s  sent {self.next:>8}  answered {client.answered_count:>8}  "
                  f"in flight {client.in_flight:>5}", end="", file=sys.stderr)  # fmt: skip
            self.next_report = math.floor(now) + 1.0
        if not client.drained.done():
            self.sweeper = self.loop.call_later(SWEEP_S, self.sweep)


async def run_job(job: Job, ready: Callable[[], float] | None, clock: Callable[[], float]) -> Columns:
    """Send `job`'s arrivals, each at the start + its scheduled time on `clock`, and record every request."""
    target = Target.of(job.url, job.body)
    start = clock() if ready is None else ready()
    if (delay := start - clock()) > 0:
        await asyncio.sleep(delay)
    client = Client(job, target, start, clock)
    schedule = _Schedule(job, client, start, clock)
    schedule.begin()
    try:
        await client.drained
    finally:
        if schedule.sweeper is not None:
            schedule.sweeper.cancel()
        client.close()
    if job.progress:
        print(file=sys.stderr)
    return client.columns(job.scheduled_s)
