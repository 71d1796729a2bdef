"""SIGTERM under load, as Kubernetes sends it: drain, then finish what is in flight; no accepted request fails."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.helpers import child_env, uvicorn_server

BODY = {"features": [5.1, 3.5, 1.4, 0.2]}
DRAIN_S = 2.0


@pytest.mark.slow
def test_sigterm_drains_then_stops_without_failing_accepted_requests(predict_env: dict[str, str]) -> None:
    env = child_env(**predict_env, PREDICT_DRAIN_S=str(DRAIN_S), PREDICT_GRACEFUL_SHUTDOWN_S="5")
    counts = {"ok": 0, "failed": 0, "refused": 0}
    lock = threading.Lock()
    stop = threading.Event()

    with uvicorn_server(env) as server:

        def keep_sending() -> None:  # a client on one keep-alive connection, ~200 requests/s, bounded
            with httpx.Client(base_url=server.url, timeout=5.0) as client:
                deadline = time.monotonic() + 20
                while not stop.is_set() and time.monotonic() < deadline:
                    try:
                        status = client.post("/predict", json=BODY).status_code
                        outcome = "ok" if status == 200 else "failed"
                    except httpx.TransportError:
                        outcome = "refused"  # never accepted: the listener is closed
                    with lock:
                        counts[outcome] += 1
                    if outcome == "refused":
                        return
                    time.sleep(0.005)

        senders = [threading.Thread(target=keep_sending) for _ in range(2)]
        for sender in senders:
            sender.start()
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        # Readiness turns 503 at once...
        ready = httpx.get(f"{server.url}/ready", timeout=2.0)
        assert ready.status_code == 503
        assert ready.json()["reason"] == "shutting down"
        assert time.monotonic() - signalled < 0.5
        # ...while new connections are still served during the drain window.
        time.sleep(DRAIN_S / 2)
        assert httpx.post(f"{server.url}/predict", json=BODY, timeout=2.0).json() == {"prediction": 0}
        served_during_drain = counts["ok"]
        exit_code = server.process.wait(timeout=DRAIN_S + 10)
        stopped = time.monotonic() - signalled
        stop.set()
        for sender in senders:
            sender.join(timeout=10)
    print(f"\nshutdown: {counts}, stopped {stopped:.2f} s after SIGTERM, exit {exit_code}")
    assert exit_code == 0
    assert counts["failed"] == 0, counts
    assert served_during_drain > 50
    assert stopped >= DRAIN_S
