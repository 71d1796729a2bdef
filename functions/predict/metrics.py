"""Prometheus metrics for the server entry point (GET /metrics). Never imported on Lambda.

Request count and latency by route and status, requests in flight, the served model, and the
process collector's CPU and memory. One uvicorn worker per pod keeps one registry per process;
with several workers, run them under PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)

from .middleware import InFlight, RequestDone
from .state import ModelState

# Buckets from what the compiled form answers in (a tenth of a millisecond) up to the HTTP API's 30 s limit.
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class ServerMetrics:
    def __init__(self, state: ModelState, in_flight: InFlight) -> None:
        self.registry = CollectorRegistry()
        # Process figures only: the platform collector's python_info would tell any scraper our versions.
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "twinserve_requests", "Requests answered", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "twinserve_request_duration_seconds",
            "Time from request to response start",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_info = Info("twinserve_model", "The model being served", registry=self.registry)
        self.model_ready = Gauge(
            "twinserve_model_ready", "1 when the model is loaded and serving", registry=self.registry
        )
        self.model_ready.set_function(lambda: 1.0 if state.ready else 0.0)
        self.in_flight = Gauge("twinserve_requests_in_flight", "Requests being answered", registry=self.registry)
        self.in_flight.set_function(lambda: float(in_flight.count))
        self.state = state
        # The labelled children per (method, route, status): `labels()` takes a lock and makes a
        # tuple of strings each call, the same few children every time. Nothing here removes one.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, done: RequestDone) -> None:
        key = (done.method, done.route, done.status)
        children = self._children.get(key)
        if children is None:
            status = str(done.status)
            children = self._children[key] = (
                self.requests.labels(done.method, done.route, status),
                self.latency.labels(done.method, done.route, status),
            )
        children[0].inc()
        children[1].observe(done.latency_s)

    def router(self) -> APIRouter:
        router = APIRouter(tags=["meta"])

        @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
        async def metrics() -> Response:
            if self.state.model is not None:
                meta = self.state.model.metadata
                self.model_info.info({"name": meta.name, "version": meta.version, "sha256": meta.sha256})
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return router
