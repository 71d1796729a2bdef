"""Why a test against a real cluster cannot run here, asked of kubectl once per probe."""

from __future__ import annotations

import shutil
import subprocess


def missing_cluster(probe: list[str], needs: str) -> str | None:
    """Run `kubectl <probe>` with a short timeout: None when it succeeds, else the skip reason.

    `needs` names what the test needs ("a reachable Kubernetes cluster", "... with Knative Serving")."""
    if shutil.which("kubectl") is None:
        return "needs kubectl"
    try:
        answer = subprocess.run(["kubectl", *probe, "--request-timeout=3s"],
                                capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"needs {needs} (kubectl timed out)"
    if answer.returncode != 0:
        return f"needs {needs} (kubectl: {(answer.stderr.strip().splitlines() or ['no answer'])[-1][:160]})"
    return None
