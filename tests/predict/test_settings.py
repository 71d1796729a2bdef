"""Settings from the environment: an empty variable is an unset one (SAM's local runner writes "")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from predict.settings import Settings


@pytest.fixture(autouse=True)
def _no_predict_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"PREDICT_{name.upper()}", raising=False)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_an_empty_variable_is_read_as_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    defaults = Settings()
    monkeypatch.setenv(f"PREDICT_{name.upper()}", "")
    assert Settings() == defaults


def test_every_empty_variable_at_once_gives_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    for name in Settings.model_fields:
        monkeypatch.setenv(f"PREDICT_{name.upper()}", "")
    assert Settings() == defaults


def test_a_set_digest_is_still_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREDICT_MODEL_SHA256", "not-a-digest")
    with pytest.raises(ValidationError, match="SHA-256 hex digest"):
        Settings()
    monkeypatch.setenv("PREDICT_MODEL_SHA256", "A" * 64)
    assert Settings().model_sha256 == "a" * 64


def test_a_blank_but_not_empty_value_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only "" means unset; a stray space is a mistake worth reporting.
    monkeypatch.setenv("PREDICT_MAX_ROWS", " ")
    with pytest.raises(ValidationError, match="max_rows"):
        Settings()
