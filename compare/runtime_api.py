"""A small local implementation of the documented AWS Lambda Runtime API, on 127.0.0.1.

The real runtime client (`awslambdaric`, as in Lambda's Python images) runs against it in its
own process, so the Lambda entry point is exercised the way Lambda drives it: init, then
GET next / POST response or error, one invocation at a time. Endpoints:

  GET  /2018-06-01/runtime/invocation/next
  POST /2018-06-01/runtime/invocation/{id}/response
  POST /2018-06-01/runtime/invocation/{id}/error
  POST /2018-06-01/runtime/init/error

Each result carries the handler's duration as this API sees it: from handing the invocation out
(the answer to GET next written) to the runtime's POST of its response or error arriving. That is
the span Lambda's REPORT line bills as Duration; the round trip around it (queueing the event,
the runtime's poll, waking the caller) is the caller's overhead, not the function's.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:twinserve-predict"


@dataclass(frozen=True)
class Invocation:
    request_id: str
    event: bytes
    deadline_ms: int


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    kind: str  # "response" or "error"
    payload: Any
    error_type: str | None = None
    duration_s: float | None = None  # handed out -> response received (what REPORT's Duration bills)

    @property
    def ok(self) -> bool:
        return self.kind == "response"


class RuntimeInitError(RuntimeError):
    """The function's init phase failed; the runtime posted this error and exited."""

    def __init__(self, payload: Any, error_type: str | None) -> None:
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        super().__init__(f"init error ({error_type}): {message}")
        self.payload = payload
        self.error_type = error_type


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime client expects
    disable_nagle_algorithm = True  # TCP_NODELAY: small responses must not wait 40 ms for an ACK
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for one line per poll."""

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return raw.decode("utf-8", "replace")

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, b'{"errorMessage":"unknown path"}')
            return
        invocation = self.server.runtime.next_invocation()
        if invocation is None:  # shutting down: tell the runtime to stop polling
            self._reply(410, b'{"errorMessage":"runtime API shutting down"}')
            return
        # Noted before the answer is written, so a response on another connection cannot come first.
        self.server.runtime.handed_out(invocation.request_id)
        self._reply(
            200,
            invocation.event,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
            },
        )

    def do_POST(self) -> None:
        received = time.perf_counter()  # the response has arrived: the handler's duration ends here
        payload = self._read_json()
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        parts = self.path.removeprefix(PREFIX).strip("/").split("/")
        if parts == ["init", "error"]:
            self.server.runtime.init_failed(payload, error_type)
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            if not self.server.runtime.complete(parts[1], parts[2], payload, error_type, received):
                self._reply(400, b'{"errorMessage":"unknown request id"}')
                return
        else:
            self._reply(404, b'{"errorMessage":"unknown path"}')
            return
        self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    runtime: LocalRuntimeAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A runtime process stopped mid-poll resets its connection: expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalRuntimeAPI:
    """Serve the Runtime API on 127.0.0.1 (a free port by default) and hand out invocations."""

    def __init__(self, port: int = 0, timeout_s: float = 30.0) -> None:
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.runtime = self
        self._pending: queue.Queue[Invocation | None] = queue.Queue()
        self._results: dict[str, Future[InvocationResult]] = {}
        self._handed_out: dict[str, float] = {}  # request id -> perf_counter when GET next answered
        self._lock = threading.Lock()
        self._init_error: Future[RuntimeInitError] = Future()
        self._first_poll = threading.Event()
        self.polling = 0  # runtimes waiting in GET next now: a pool is ready when all of them are
        self.timeout_s = timeout_s
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True)

    @property
    def address(self) -> str:
        """The value for AWS_LAMBDA_RUNTIME_API."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> LocalRuntimeAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pending.put(None)
        self._server.shutdown()
        self._server.server_close()

    # Called by the HTTP handler threads.
    def next_invocation(self) -> Invocation | None:
        self._first_poll.set()
        with self._lock:
            self.polling += 1
        invocation = self._pending.get()
        with self._lock:
            self.polling -= 1
        if invocation is None:
            self._pending.put(None)  # let any other poller see the shutdown too
        return invocation

    def handed_out(self, request_id: str) -> None:
        with self._lock:
            self._handed_out[request_id] = time.perf_counter()

    def complete(
        self, request_id: str, kind: str, payload: Any, error_type: str | None, received: float | None = None
    ) -> bool:
        with self._lock:
            future = self._results.pop(request_id, None)
            started = self._handed_out.pop(request_id, None)
        if future is None:
            return False
        ended = received if received is not None else time.perf_counter()
        duration = ended - started if started is not None else None
        future.set_result(InvocationResult(request_id, kind, payload, error_type, duration))
        return True

    def init_failed(self, payload: Any, error_type: str | None) -> None:
        if not self._init_error.done():
            self._init_error.set_result(RuntimeInitError(payload, error_type))

    # Called by the test or the calibration driving the function.
    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until the runtime finished init and polls for work, or raise its init error."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while time.monotonic() < deadline:
            if self._init_error.done():
                raise self._init_error.result()
            if self._first_poll.wait(0.005):
                return
        raise TimeoutError("the runtime neither polled for an invocation nor reported an init error")

    def wait_polling(self, count: int, timeout_s: float | None = None) -> None:
        """Block until `count` runtimes wait for work at once (a pool is up), or raise an init error."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while time.monotonic() < deadline:
            if self._init_error.done():
                raise self._init_error.result()
            if self.polling >= count:
                return
            time.sleep(0.005)
        raise TimeoutError(f"{count} runtimes did not all poll for work within the timeout")

    def wait_init_error(self, timeout_s: float | None = None) -> RuntimeInitError:
        return self._init_error.result(timeout=timeout_s or self.timeout_s)

    def submit(self, event: Any, timeout_s: float | None = None) -> Future[InvocationResult]:
        """Queue one invocation; the future holds the runtime's response or error (for callers that keep
        several in flight, as a pool of runtimes takes them)."""
        request_id = str(uuid.uuid4())
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        future: Future[InvocationResult] = Future()
        with self._lock:
            self._results[request_id] = future
        timeout = timeout_s or self.timeout_s
        self._pending.put(Invocation(request_id, body, int((time.time() + timeout) * 1000)))
        return future

    def invoke(self, event: Any, timeout_s: float | None = None) -> InvocationResult:
        """Queue one invocation and wait for the runtime's response or error."""
        timeout = timeout_s or self.timeout_s
        future = self.submit(event, timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return future.result(timeout=0.05)
            except TimeoutError:
                if self._init_error.done():
                    raise self._init_error.result() from None
                if time.monotonic() > deadline:
                    raise
