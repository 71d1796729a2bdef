"""pip-audit over the runtime pins (functions/predict/requirements.txt) exactly as pinned: nothing installed,
nothing resolved (`--no-deps --disable-pip`), PyPI's JSON API as the vulnerability service.

The test skips only when that service cannot be reached: a connection, DNS, proxy, TLS or timeout error, a
gateway error (502-504), or, where the registry is a mirror that serves no per-release JSON, a 404 for every
pin. pip-audit itself reports that last case as "No known vulnerabilities found" with every pin skipped, so
reading its exit status alone would pass without auditing anything. Any other failure fails the test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PIP_AUDIT = REPO / ".venv-security" / "bin" / "pip-audit"
REQUIREMENTS = REPO / "functions" / "predict" / "requirements.txt"
SOCKET_TIMEOUT_S = 15
TIMEOUT_S = 50  # about 2 s here

UNREACHABLE = "pip-audit cannot reach its vulnerability database"
NOT_ON_PYPI = "Dependency not found on PyPI"
# pip-audit's own connection error ("Could not connect to PyPI's vulnerability feed", ...) is logged just before it.
NETWORK_TIP = "Tip: your network may be blocking this service"
# Raised through pip-audit uncaught: the traceback's last line names the exception.
NETWORK_EXCEPTION = re.compile(
    r"^requests\.exceptions\.(ConnectionError|ProxyError|SSLError|ConnectTimeout|ReadTimeout|Timeout): .*"
)
GATEWAY_ERROR = re.compile(r"^requests\.exceptions\.HTTPError: 50[234] .*")

pytestmark = pytest.mark.skipif(
    not PIP_AUDIT.exists(),
    reason=(
        ".venv-security/bin/pip-audit is missing: python3.12 -m venv .venv-security && "
        ".venv-security/bin/pip install -r tools/security-requirements.txt"
    ),
)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_names() -> set[str]:
    names = set()
    for line in REQUIREMENTS.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            names.add(canonical(re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0]))
    return names


def unreachable_reason(stderr: str) -> str | None:
    """The line that says the vulnerability service could not be reached, if that is why pip-audit failed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if NETWORK_TIP in line:
            errors = [e for e in lines[:i] if e.startswith("ERROR:")]
            return (errors[-1] if errors else line).removeprefix("ERROR:pip_audit._cli:")
    if lines and NETWORK_EXCEPTION.match(lines[-1]):
        return lines[-1]
    if lines and lines[-1].startswith("pip_audit._service.interface.ServiceError"):
        return next((line for line in lines if GATEWAY_ERROR.match(line)), None)
    return None


def parse_report(stdout: str) -> dict[str, Any] | None:
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        return None
    return report if isinstance(report, dict) and "dependencies" in report else None


def test_runtime_pins_have_no_known_vulnerabilities(tmp_path: Path) -> None:
    command = [
        str(PIP_AUDIT),
        "--requirement", str(REQUIREMENTS),
        "--no-deps", "--disable-pip",  # audit the pins as written: no virtualenv, no resolver
        "--vulnerability-service", "pypi",
        "--format", "json",
        "--progress-spinner", "off",
        "--timeout", str(SOCKET_TIMEOUT_S),
        "--cache-dir", str(tmp_path / "cache"),  # fresh answers, and nothing left in ~/.cache
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_AUDIT_")}
    try:
        result = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"pip-audit did not finish within {TIMEOUT_S} s")

    report = parse_report(result.stdout)
    if report is None:
        # No report: pip-audit stopped early. Skip only when the service was out of reach.
        if (reason := unreachable_reason(result.stderr)) is not None:
            pytest.skip(f"{UNREACHABLE} ({reason[:300]})")
        pytest.fail(f"pip-audit exited {result.returncode} without a report:\n{result.stderr[-3000:]}")

    dependencies = report["dependencies"]
    assert dependencies, f"pip-audit found no pin in {REQUIREMENTS}"
    assert {canonical(d["name"]) for d in dependencies} == pinned_names(), "pip-audit did not read every pin"
    skipped = [d["skip_reason"] for d in dependencies if "skip_reason" in d]
    if skipped and len(skipped) == len(dependencies) and all(r.startswith(NOT_ON_PYPI) for r in skipped):
        # Every pin installs from the registry, so PyPI's per-release JSON (where the vulnerabilities are) is
        # what is missing: a registry mirror, not PyPI.
        pytest.skip(f"{UNREACHABLE} (every pin answered 404; first: {skipped[0]})")
    assert not skipped, "pip-audit could not audit:\n" + "\n".join(skipped)

    found = [
        f"{d['name']} {d['version']}: {v['id']} {'/'.join(v.get('aliases', []))} "
        f"(fixed in {', '.join(v.get('fix_versions', [])) or 'no release yet'})"
        for d in dependencies
        for v in d.get("vulns", [])
    ]
    assert not found, "known vulnerabilities in functions/predict/requirements.txt:\n" + "\n".join(found)
    assert result.returncode == 0, result.stderr[-3000:]
