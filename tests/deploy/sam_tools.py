"""Where SAM CLI and its Python are: .venv-sam (make test installs it) or `sam` on PATH."""

from __future__ import annotations

import os
import shutil

from tests.helpers import REPO

SAM_VENV = REPO / ".venv-sam" / "bin"
SAM_ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0"}


def sam() -> str | None:
    local = SAM_VENV / "sam"
    return str(local) if local.exists() else shutil.which("sam")


def sam_python() -> str | None:
    local = SAM_VENV / "python"
    return str(local) if local.exists() else None
