"""The per-invocation CloudWatch metrics line (embedded metric format), as Powertools writes it.

Per invocation the handler reports Requests (1) and Latency (ms) with the dimension status_class.
Powertools' `Metrics` does it by validating each name, unit and value, keeping them in its metric
and dimension sets, building the document and clearing the sets again: tens of microseconds, more
than the fast path's own work. This writes the same document (same keys in the same order, same
`json.dumps`, printed to stdout the same way) from what is fixed at init. Powertools still writes
the ColdStart metric, once per environment, and still decides whether metrics are disabled.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

# Units and the order of the metrics, as the handler added them to Powertools before.
DEFINITIONS = [{"Name": "Requests", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}]


class InvocationMetrics:
    def __init__(self, metrics: Metrics) -> None:
        if metrics.namespace is None or not metrics.service:
            raise ValueError("the metrics need a namespace and a service")
        self.namespace: str = metrics.namespace
        self.service = str(metrics.service)

    def document(self, status_class: str, latency_ms: float, timestamp_ms: int) -> dict[str, Any]:
        """What Powertools' serialize_metric_set gives after add_dimension(status_class) and the two add_metric."""
        return {
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [
                    {"Namespace": self.namespace, "Dimensions": [["status_class", "service"]], "Metrics": DEFINITIONS}
                ],
            },
            "status_class": status_class,
            "service": self.service,
            "Requests": [1.0],
            "Latency": [float(latency_ms)],
        }

    def write(self, status_class: str, latency_ms: float) -> None:
        if is_metrics_disabled():
            return
        document = self.document(status_class, latency_ms, int(time.time() * 1000))
        print(json.dumps(document, separators=(",", ":")))  # Powertools' flush_metrics, to the function's log
