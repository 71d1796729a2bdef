"""A real ceiling server started as the benchmark starts its apps, driven by the Python fallback generator."""

from __future__ import annotations

from bench.apps import FEATURES_BODY, build_apps, rss_mib, serving
from bench.loadgen import run_python_load, send_python
from tests.helpers import REPO


def test_ceiling_server_answers_and_the_fallback_generator_measures_it() -> None:
    ceiling = next(
        app for app in build_apps(REPO / "bench" / ".venv-baseline" / "bin" / "python") if app.name == "ceiling"
    )
    with serving(ceiling, cpu=None, timeout_s=30) as running:
        assert 0 < running.cold_start_s < 30
        result = run_python_load(running.server.url, connections=4, seconds=1.0, body=FEATURES_BODY)
        sent = send_python(running.server.url, requests=50, connections=4, body=FEATURES_BODY, timeout_s=10)
        memory = rss_mib(running.pid)
    assert result.tool == "python"
    assert result.requests > 0
    assert result.failed == 0
    assert 0 < result.p50_ms <= result.p99_ms
    assert (sent.requests, sent.failed) == (50, 0)
    assert 10 < memory["rss_mib"] <= memory["hwm_mib"]
    # RSS is its anonymous and file-backed pages (and a little shared memory, RssShmem)
    assert memory["anon_mib"] > 0
    assert memory["file_mib"] > 0
    assert memory["anon_mib"] + memory["file_mib"] <= memory["rss_mib"] + 0.2
    assert running.server.process.poll() is not None  # stopped on leaving
