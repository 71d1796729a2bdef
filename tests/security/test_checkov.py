"""checkov, offline, over what gets deployed: template.yaml (SAM is CloudFormation to checkov), each kustomize
overlay as `kubectl kustomize` renders it, and both Dockerfiles. No check may fail. A check that does not apply to
this project is skipped in place (checkov's inline suppressions, each with its reason), never here.

checkov runs from .venv-security (`tools/security-requirements.txt`) with no API key, `--skip-download` and no
update check, so it reads nothing from the network. Every run must also report checks that passed: an invocation
that parses nothing reports zero failures, which must not count as clean.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".venv-security" / "bin" / "checkov"
TIMEOUT_S = 50  # one run takes 3-6 s here
OVERLAYS = sorted(p.name for p in (REPO / "k8s" / "overlays").iterdir() if p.is_dir())
DOCKERFILES = sorted(p.name for p in (REPO / "container").glob("*.Dockerfile"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHECKOV.exists(),
        reason=(
            ".venv-security/bin/checkov is missing: python3.12 -m venv .venv-security && "
            ".venv-security/bin/pip install -r tools/security-requirements.txt"
        ),
    ),
]


class Scan(NamedTuple):
    summary: dict[str, Any]
    failed: list[dict[str, Any]]


def offline_env() -> dict[str, str]:
    """The caller's environment without any checkov or Prisma Cloud setting (an API key would turn on uploads)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_", "CKV_", "CHECKOV_"))}
    env.update(
        BC_SKIP_DOWNLOAD="true",  # no policies, suppressions or guidelines from the platform
        CKV_SKIP_PACKAGE_UPDATE_CHECK="true",  # otherwise every run asks PyPI whether a newer checkov exists
        LOG_LEVEL="WARNING",
        ANSI_COLORS_DISABLED="true",
    )
    return env


def run_checkov(framework: str, target: Path) -> Scan:
    command = [str(CHECKOV), "--framework", framework, "--file", str(target), "--output", "json", "--skip-download"]
    try:
        result = subprocess.run(
            command, cwd=REPO, env=offline_env(), capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"checkov did not finish within {TIMEOUT_S} s: {' '.join(command)}")
    # 0: nothing failed, 1: some check failed; anything else is a crash or a usage error.
    assert result.returncode in (0, 1), f"checkov exited {result.returncode}:\n{result.stderr[-3000:]}"
    try:
        output = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON report:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    # One framework gives one report; a list (several check types) is flattened, a bare summary means nothing ran.
    reports = output if isinstance(output, list) else [output]
    summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
    failed: list[dict[str, Any]] = []
    for report in reports:
        part = report.get("summary", report)
        for key in summary:
            summary[key] += int(part.get(key, 0))
        failed += report.get("results", {}).get("failed_checks", [])
    assert summary["parsing_errors"] == 0, f"checkov could not parse {target}: {output}"
    assert len(failed) == summary["failed"], summary
    assert (result.returncode == 1) == bool(failed), f"exit {result.returncode} with {len(failed)} failed checks"
    return Scan(summary, failed)


def assert_clean(scan: Scan, shown_as: str, origin: str = "") -> None:
    """No failed check; each failure listed with its check id, resource and file lines."""
    lines = [
        f"{check['check_id']} {check['check_name']!r}: {check['resource']} at "
        f"{shown_as}:{'-'.join(str(n) for n in check.get('file_line_range') or [])}{origin}"
        for check in scan.failed
    ]
    if lines:
        pytest.fail(f"{len(lines)} checkov check(s) failed on {shown_as}{origin}:\n" + "\n".join(lines), pytrace=False)
    # A run that parsed nothing (a wrong framework, an unreadable file) passes nothing either.
    assert scan.summary["resource_count"] > 0, f"checkov found no resource in {shown_as}: {scan.summary}"
    assert scan.summary["passed"] > 0, f"checkov ran no check on {shown_as}: {scan.summary}"


# A resource's `Condition: Name`, which checkov evaluates against the parameters' defaults: with PackageVariant's
# default it would drop the zip variant's resources and never check them.
RESOURCE_CONDITION = re.compile(r"^(?P<indent>[ \t]+)Condition:[ \t]+(?P<name>[A-Za-z0-9]+)[ \t]*$")
TOP_LEVEL_KEY = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9]*):")


def every_resource_deployed(template: str) -> str:
    """The template with each resource's Condition commented out (Conditions and Outputs as they are), line for line."""
    section = ""
    lines = []
    for line in template.splitlines(keepends=True):
        if top := TOP_LEVEL_KEY.match(line):
            section = top["key"]
        dropped = RESOURCE_CONDITION.sub(r"\g<indent># Condition: \g<name> (checked as if it held)", line)
        lines.append(dropped if section == "Resources" else line)
    return "".join(lines)


def test_template_every_resource(tmp_path: Path) -> None:
    """template.yaml as if every condition held, so the image and the zip variant are both checked."""
    source = (REPO / "template.yaml").read_text()
    expanded = every_resource_deployed(source)
    assert expanded.count("\n") == source.count("\n")
    target = tmp_path / "template.yaml"
    target.write_text(expanded)
    assert_clean(run_checkov("cloudformation", target), "template.yaml")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (client) for kustomize")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubernetes_overlay(overlay: str, tmp_path: Path) -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(REPO / "k8s" / "overlays" / overlay)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    target = tmp_path / f"{overlay}.yaml"
    target.write_text(rendered.stdout)
    assert_clean(run_checkov("kubernetes", target), str(target), f" (kubectl kustomize k8s/overlays/{overlay})")


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_dockerfile(dockerfile: str) -> None:
    path = Path("container") / dockerfile
    assert_clean(run_checkov("dockerfile", path), str(path))
