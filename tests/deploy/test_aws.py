"""Against AWS: sam deploy, then call the stack's ApiUrl output. Needs credentials; skips without."""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest

from tests.deploy.sam_tools import sam
from tests.helpers import REPO

STACK = os.environ.get("TWINSERVE_TEST_STACK", "twinserve-test")


def _aws_reason() -> str | None:
    if sam() is None:
        return "needs SAM CLI"
    if os.environ.get("TWINSERVE_DEPLOY_TESTS") != "1":
        return "deploys a real stack: set TWINSERVE_DEPLOY_TESTS=1 with AWS credentials and Docker to run it"
    try:
        import boto3

        boto3.client("sts").get_caller_identity()
    except Exception as exc:  # any failure here means: no usable credentials
        return f"needs AWS credentials ({type(exc).__name__})"
    return None


REASON = _aws_reason()


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_deploy_and_call_the_api_url() -> None:
    import boto3

    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    subprocess.run([str(sam()), "build"], cwd=REPO, env=env, check=True, timeout=1800)
    subprocess.run(
        [str(sam()), "deploy", "--stack-name", STACK, "--no-confirm-changeset", "--no-fail-on-empty-changeset"],
        cwd=REPO, env=env, check=True, timeout=1800,
    )  # fmt: skip
    try:
        outputs = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
        url = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ApiUrl")
        reply = httpx.post(f"{url.rstrip('/')}/predict", json={"features": [5.1, 3.5, 1.4, 0.2]}, timeout=60)
        assert reply.json() == {"prediction": 0}
        assert reply.headers["x-cold-start"] in ("true", "false")
    finally:
        subprocess.run([str(sam()), "delete", "--stack-name", STACK, "--no-prompts"], cwd=REPO, env=env,
                       check=False, timeout=1800)  # fmt: skip
