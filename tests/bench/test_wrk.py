"""bench.wrk's parser on wrk output captured from real runs (tests/bench/data/), and post.lua's own line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.wrk import LoadResult, WrkOutputError, parse_sent, parse_wrk

DATA = Path(__file__).with_name("data")


def parsed(name: str) -> LoadResult:
    return parse_wrk((DATA / name).read_text())


def test_sixteen_connections_in_milliseconds() -> None:
    result = parsed("wrk-baseline-c16.txt")
    assert (result.tool, result.connections, result.requests) == ("wrk", 16, 391)
    assert result.duration_s == pytest.approx(3.06)
    assert result.requests_per_s == pytest.approx(127.78)
    assert (result.p50_ms, result.p75_ms, result.p90_ms, result.p99_ms) == pytest.approx(
        (115.95, 143.37, 174.50, 231.95)
    )
    assert (result.non_2xx, result.socket_errors, result.failed) == (0, 0, 0)


def test_one_connection_mixes_microseconds_and_milliseconds() -> None:
    result = parsed("wrk-ceiling-c1.txt")
    assert (result.connections, result.requests) == (1, 4200)
    assert result.p50_ms == pytest.approx(0.188)
    assert result.p75_ms == pytest.approx(3.0)
    assert result.p99_ms == pytest.approx(232.82)
    assert result.requests_per_s == pytest.approx(2097.82)


def test_thousands_in_thread_stats_do_not_confuse_the_totals() -> None:
    result = parsed("wrk-ceiling-c16.txt")  # "Req/Sec 2.69k" in the thread stats
    assert (result.requests, result.requests_per_s, result.p50_ms) == (
        5398,
        pytest.approx(2678.16),
        pytest.approx(6.03),
    )


def test_non_2xx_responses_are_counted_as_failures() -> None:
    result = parsed("wrk-non2xx.txt")
    assert result.requests == 1129
    assert result.non_2xx == 1129
    assert result.failed == 1129


def test_socket_timeouts_are_counted_as_failures() -> None:
    result = parsed("wrk-baseline-timeouts.txt")
    assert (result.connections, result.requests, result.socket_errors) == (200, 430, 352)
    assert result.p99_ms == pytest.approx(987.92)


def test_older_slow_run_parses() -> None:
    result = parsed("wrk-twinserve-c1.txt")
    assert (result.requests, result.p50_ms, result.p99_ms) == (220, pytest.approx(12.64), pytest.approx(95.44))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "unable to connect to 127.0.0.1:18126 Connection refused",
        "Usage: wrk <options> <url>\n  Options:\n",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(WrkOutputError):
        parse_wrk(text)


def test_output_without_latency_distribution_is_refused() -> None:
    text = "\n".join(
        line for line in (DATA / "wrk-baseline-c16.txt").read_text().splitlines() if "%" not in line or "Stdev" in line
    )
    with pytest.raises(WrkOutputError, match="--latency"):
        parse_wrk(text)


def test_a_request_count_run_reports_post_lua_s_line() -> None:
    sent = parse_sent((DATA / "wrk-requests.txt").read_text())
    assert (sent.requests, sent.failed) == (50, 0)


def test_a_request_count_run_that_ran_out_of_time_falls_back_on_the_summary() -> None:
    sent = parse_sent((DATA / "wrk-non2xx.txt").read_text())
    assert (sent.requests, sent.failed) == (1129, 1129)
