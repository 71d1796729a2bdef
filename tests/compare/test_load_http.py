"""The lean client of the load driver against a scripted HTTP/1.1 server: what it sends, what it reads
back, and how it ends a request that has no answer. Structural facts only, no timings."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pytest

from compare.load_driver import CLIENT_ERROR, Job, run_in_process
from compare.load_http import Target

BODY = b'{"features": [5.1, 3.5, 1.4, 0.2]}'


@dataclass
class Seen:
    """What the scripted server received."""

    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


Reply = Callable[[int], bytes | None]  # request number -> bytes to answer (None: never answer)


def ok(n: int) -> bytes:
    body = b'{"prediction": 0}'
    cold = b"true" if n == 0 else b"false"
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nX-Request-Id: req-%d\r\nx-cold-start: %s\r\n"
            b"content-length: %d\r\n\r\n%s" % (n, cold, len(body), body))  # fmt: skip


@contextmanager
def scripted(reply: Reply, close_after: bool = False) -> Iterator[tuple[str, Seen]]:
    """An HTTP/1.1 server on a free port, a thread per connection: reads each request whole, answers `reply(n)`."""
    seen = Seen()
    lock = threading.Lock()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            with lock:
                seen.connections += 1
            while head := self._head():
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))  # fmt: skip
                with lock:
                    n = len(seen.requests)
                    seen.requests.append(head + self.rfile.read(length))
                if (answer := reply(n)) is not None:
                    self.wfile.write(answer)
                    if close_after:
                        return

        def _head(self) -> bytes:
            lines = []
            while (line := self.rfile.readline()) not in (b"\r\n", b""):
                lines.append(line)
            return b"".join(lines)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True  # a handler waits for its client's next request until the client closes
        block_on_close = False

    with Server(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/predict", seen
        finally:
            server.shutdown()
            thread.join(10)


def job(url: str, arrivals: np.ndarray, cap: int = 64, timeout_s: float = 5.0) -> Job:
    return Job(url, BODY, arrivals, cap, timeout_s, deadline_s=float(arrivals[-1]) + timeout_s)


def test_the_request_is_encoded_once_as_http_1_1_with_host_and_length() -> None:
    target = Target.of("http://example.test:8080/predict?x=1", BODY)
    head, _, body = target.request.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"POST /predict?x=1 HTTP/1.1",
        b"Host: example.test:8080",
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(BODY),
    ]
    assert body == BODY
    assert (target.host, target.port, target.tls) == ("example.test", 8080, None)
    assert Target.of("https://example.test/prod/predict", BODY).port == 443
    with pytest.raises(ValueError, match="not an http"):
        Target.of("ftp://example.test/", BODY)


def test_answers_are_read_over_kept_alive_connections() -> None:
    arrivals = np.linspace(0, 1, 20)  # 20/s: each answered long before the next is due
    with scripted(ok) as (url, seen):
        columns = run_in_process(job(url, arrivals))
    assert columns.status.tolist() == [200] * 20
    # One carries them all, one request after another (a second only if an answer took over 50 ms).
    assert seen.connections <= 2
    assert all(request.endswith(BODY) for request in seen.requests)
    assert columns.request_id == [f"req-{n}" for n in range(20)]
    assert columns.cold_start.tolist() == [True] + [False] * 19
    assert np.all(columns.latency_s > 0)
    assert np.all(columns.sent_s >= columns.scheduled_s), "nothing is sent before its time"
    assert columns.held_by_cap == 0


def test_a_server_that_closes_after_each_answer_gets_a_new_connection_each_time() -> None:
    arrivals = np.linspace(0, 0.2, 10)
    with scripted(lambda n: ok(n).replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1), close_after=True) as (
        url,
        seen,
    ):
        columns = run_in_process(job(url, arrivals))
    assert columns.status.tolist() == [200] * 10
    assert seen.connections == 10


def test_a_request_without_answer_times_out_and_the_rest_go_on() -> None:
    arrivals = np.linspace(0, 0.5, 6)
    with scripted(lambda n: None if n == 0 else ok(n)) as (url, seen):
        columns = run_in_process(job(url, arrivals, timeout_s=1.0))
    assert columns.status.tolist() == [CLIENT_ERROR] + [200] * 5
    assert 1.0 <= columns.latency_s[0] < 3.0  # the timeout, looked at every 50 ms
    assert seen.connections == 2, "the silent connection is abandoned, the others share a second one"


def test_an_answer_that_is_not_http_is_an_error_not_a_crash() -> None:
    arrivals = np.linspace(0, 0.1, 3)
    with scripted(lambda n: b"nonsense\r\n\r\n") as (url, _):
        columns = run_in_process(job(url, arrivals))
    assert columns.status.tolist() == [CLIENT_ERROR] * 3


def test_the_cap_holds_requests_until_a_connection_is_free() -> None:
    arrivals = np.zeros(20)  # all due at once, one connection: 19 wait their turn, in order
    with scripted(ok) as (url, seen):
        columns = run_in_process(job(url, arrivals, cap=1))
    assert columns.status.tolist() == [200] * 20
    assert seen.connections == 1
    assert columns.held_by_cap == 19
    assert np.all(np.diff(columns.sent_s) > 0)
    assert columns.request_id == [f"req-{n}" for n in range(20)]


def test_through_a_proxy_from_the_environment_requests_go_to_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The lean client speaks to no proxy: aiohttp does, for such targets, and they are sent the same way.
    arrivals = np.linspace(0, 0.2, 5)
    with scripted(ok) as (proxy, seen):
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", proxy.removesuffix("/predict"))
        columns = run_in_process(job("http://twinserve.invalid/predict", arrivals))
    assert columns.status.tolist() == [200] * 5
    assert columns.request_id == [f"req-{n}" for n in range(5)]
    assert all(request.startswith(b"POST http://twinserve.invalid/predict HTTP/1.1") for request in seen.requests)
