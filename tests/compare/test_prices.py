"""The cost model against worked examples computed by hand from compare/prices.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.prices import (
    LambdaUsage,
    PodResources,
    PriceBook,
    crossover_rate,
    kubernetes_cost,
    lambda_cost,
    lambda_cost_per_million,
)


@pytest.fixture
def book() -> PriceBook:
    return PriceBook.load()


def test_book_is_dated(book: PriceBook) -> None:
    assert book.checked[:2] == "20"


def test_one_million_10ms_requests_at_1024mb_x86(book: PriceBook) -> None:
    # 1e6 x 0.010 s x 1 GB = 10,000 GB-s x $0.0000166667 = $0.166667; requests $0.20; HTTP API $1.00.
    cost = lambda_cost(LambdaUsage(requests=1_000_000, billed_ms_total=10 * 1_000_000, memory_mb=1024), book)
    assert cost["duration"] == pytest.approx(0.166667)
    assert cost["requests"] == pytest.approx(0.20)
    assert cost["http_api"] == pytest.approx(1.00)
    assert cost["total"] == pytest.approx(1.366667)


def test_two_million_100ms_requests_at_512mb_arm64(book: PriceBook) -> None:
    # 2e6 x 0.1 s x 0.5 GB = 100,000 GB-s x $0.0000133334 = $1.33334; requests $0.40; HTTP API $2.00.
    usage = LambdaUsage(requests=2_000_000, billed_ms_total=100 * 2_000_000, memory_mb=512, architecture="arm64")
    assert lambda_cost(usage, book)["total"] == pytest.approx(3.73334)


def test_provisioned_concurrency_for_an_hour(book: PriceBook) -> None:
    # 10 environments x 1 GB x 3,600 s x $0.0000041667 = $0.1500012, used or not.
    usage = LambdaUsage(requests=0, billed_ms_total=0, memory_mb=1024, provisioned=10, provisioned_seconds=3600)
    assert lambda_cost(usage, book)["provisioned"] == pytest.approx(0.1500012)


def test_two_small_pods_for_an_hour(book: PriceBook) -> None:
    # 2 pod-hours x (0.5 vCPU x $0.0432 + 0.5 GiB x $0.0012) = $0.0444; control plane $0.10; ALB $0.0305.
    cost = kubernetes_cost(2 * 3600, PodResources(cpu=0.5, memory_gib=0.5), 3600, book)
    assert cost["pods"] == pytest.approx(0.0444)
    assert cost["total"] == pytest.approx(0.1749)


def test_crossover_of_a_5ms_handler(book: PriceBook) -> None:
    # Lambda: $0.20 + 5,000 GB-s x $0.0000166667 + $1.00 = $1.2833335 per million, $0.00462 per hour per req/s.
    # Two 0.5 vCPU pods (min replicas) cost $0.1749 per hour: equal at 37.9 req/s -> 38.0 on a 0.5 grid.
    assert lambda_cost_per_million(5.0, 1024, book) == pytest.approx(1.2833335)
    pod = PodResources(cpu=0.5, memory_gib=0.5)
    rate = crossover_rate(0.005, 1024, pod, book, target_utilization=0.7, min_replicas=2)
    assert rate == 38.0


def test_overrides_replace_only_what_they_name(tmp_path: Path) -> None:
    override = tmp_path / "mine.toml"
    override.write_text("[lambda]\nper_million_requests = 0.0\n[book]\nchecked = '2026-11-24'\n")
    book = PriceBook.load(override)
    assert book.checked == "2026-11-24"
    assert book.lambda_price("per_million_requests") == 0.0
    assert book.lambda_price("per_gb_second", "x86_64") == pytest.approx(0.0000166667)
