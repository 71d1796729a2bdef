"""The HPA algorithm against a trace computed by hand from the documented rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.hpa import DEFAULT_DOWN, DEFAULT_UP, HorizontalPodAutoscaler, HPAParams, Policy


def run(hpa: HorizontalPodAutoscaler, steps: list[tuple[float, float]], replicas: int) -> list[int]:
    """Each step: (time, utilisation of every ready pod). Returns replicas after each sync."""
    seen = []
    for now, utilization in steps:
        replicas = hpa.step(now, replicas, [utilization] * replicas)
        seen.append(replicas)
    return seen


def test_step_up_then_down_follows_the_hand_computed_trace() -> None:
    hpa = HorizontalPodAutoscaler(HPAParams(min_replicas=1, max_replicas=10, target_utilization=0.5))
    busy = [(t, 1.0) for t in (0.0, 15.0, 30.0, 45.0)]
    # Up: 1 -> ceil(1 x 1.0/0.5) = 2; 2 -> 4; 4 -> 8 (both within 100 % and +4 per 15 s); 8 -> 16 capped at 10.
    assert run(hpa, busy, 1) == [2, 4, 8, 10]
    quiet = [(45.0 + 15 * k, 0.1) for k in range(1, 21)]  # t = 60 .. 345
    after = run(hpa, quiet, 10)
    # Down: desired 2, but the 300 s window still holds the recommendation of 16 made at t = 45,
    # so replicas stay at 10 until t = 345, when it has left the window.
    assert after[:-1] == [10] * 19
    assert after[-1] == 2


def test_tolerance_keeps_replicas() -> None:
    hpa = HorizontalPodAutoscaler(HPAParams(min_replicas=1, max_replicas=10, target_utilization=0.5))
    assert hpa.step(0.0, 4, [0.54] * 4) == 4  # ratio 1.08: inside 0.1
    assert hpa.step(15.0, 4, [0.56] * 4) == 5  # ratio 1.12: ceil(4.48)


def test_unready_pods_count_as_idle_when_scaling_up() -> None:
    hpa = HorizontalPodAutoscaler(HPAParams(min_replicas=1, max_replicas=10, target_utilization=0.5))
    # Two ready pods at 100 %, two starting: (2 x 1.0) / 4 / 0.5 = 1.0 -> no change.
    assert hpa.step(0.0, 4, [1.0, 1.0], unready=2) == 4


def test_scale_up_rate_is_limited_by_the_largest_policy() -> None:
    hpa = HorizontalPodAutoscaler(HPAParams(min_replicas=1, max_replicas=100, target_utilization=0.1))
    # desired = ceil(2 x 1.0 / 0.1) = 20, but in 15 s at most max(2 x (1 + 100 %), 2 + 4) = 6.
    assert hpa.step(0.0, 2, [1.0, 1.0]) == 6
    # Within the same 15 s period the start is still 2: no further room.
    assert hpa.step(10.0, 6, [1.0] * 6) == 6


def test_parameters_come_from_the_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "hpa.yaml"
    manifest.write_text(
        """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: x}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: x}
  minReplicas: 2
  maxReplicas: 20
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 30
      selectPolicy: Max
      policies: [{type: Pods, value: 2, periodSeconds: 60}]
"""
    )
    params = HPAParams.from_manifest(manifest)
    assert (params.min_replicas, params.max_replicas, params.target_utilization) == (2, 20, 0.7)
    assert params.scale_up.stabilization_s == 30
    assert params.scale_up.policies == (Policy("Pods", 2, 60.0),)
    assert params.scale_down == DEFAULT_DOWN
    assert DEFAULT_UP.policies[1] == Policy("Pods", 4, 15.0)


def test_manifest_without_cpu_target_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "hpa.yaml"
    manifest.write_text("kind: HorizontalPodAutoscaler\nspec: {maxReplicas: 3, metrics: []}\n")
    with pytest.raises(ValueError, match="CPU averageUtilization"):
        HPAParams.from_manifest(manifest)


def test_pod_requests_are_read_from_the_deployment() -> None:
    from compare.manifests import cpu_cores, memory_gib, pod_requests
    from tests.helpers import REPO

    pod = pod_requests(REPO / "k8s" / "base" / "deployment.yaml")
    assert (pod.cpu, pod.memory_gib) == (0.5, 0.25)  # 500m, 256Mi
    assert (cpu_cores("2"), cpu_cores("250m"), memory_gib("1Gi"), memory_gib("512M")) == (2.0, 0.25, 1.0, 512e6 / 2**30)
