"""The events in tests/events/ are what `sam local generate-event` makes, verbatim."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import EVENTS, REPO

sys.path.insert(0, str(EVENTS))
from generate import EVENTS as EVENT_ARGS
from generate import generate


def _sam() -> str | None:
    local = REPO / ".venv-sam" / "bin" / "sam"
    return str(local) if local.exists() else shutil.which("sam")


@pytest.mark.skipif(_sam() is None, reason="needs SAM CLI (make test installs it into .venv-sam)")
@pytest.mark.parametrize("name", sorted(EVENT_ARGS))
def test_stored_event_is_sam_output(name: str) -> None:
    os.environ.setdefault("SAM_CLI_TELEMETRY", "0")
    stored = (EVENTS / name).read_text()
    assert stored == generate(str(_sam()), EVENT_ARGS[name]), f"run `make events` to regenerate {name}"


def test_every_stored_event_has_its_recipe() -> None:
    stored = {p.name for p in Path(EVENTS).glob("*.json")}
    assert stored == set(EVENT_ARGS)
