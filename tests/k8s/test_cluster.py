"""Against a real cluster (kind, minikube...): apply the local overlay, roll out, call /predict.

Needs kubectl with a reachable cluster and the image `twinserve-predict:local` loaded into it;
skips with the reason otherwise.
"""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from tests.helpers import REPO, free_port
from tests.k8s.kubectl import missing_cluster

REASON = missing_cluster(["version", "-o", "json"], "a reachable Kubernetes cluster")


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_apply_rollout_and_predict() -> None:
    overlay = str(REPO / "k8s" / "overlays" / "local")
    subprocess.run(["kubectl", "apply", "-k", overlay], check=True, timeout=60)
    try:
        subprocess.run(["kubectl", "rollout", "status", "deployment/twinserve-predict", "--timeout=180s"],
                       check=True, timeout=200)  # fmt: skip
        port = free_port()
        forward = subprocess.Popen(["kubectl", "port-forward", "service/twinserve-predict", f"{port}:80"])
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    reply = httpx.post(f"http://127.0.0.1:{port}/predict", json={"features": [5.1, 3.5, 1.4, 0.2]})
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            assert reply.json() == {"prediction": 0}
        finally:
            forward.terminate()
            forward.wait(timeout=10)
    finally:
        subprocess.run(["kubectl", "delete", "-k", overlay, "--wait=false"], check=False, timeout=60)
