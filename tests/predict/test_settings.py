"""Settings from the environment: an empty variable is an unset one (SAM's local runner writes "")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from predict.settings import Settings


@pytest.fixture(autouse=True)
def _no_predict_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"PREDICT_{name.upper()}", raising=False)
    monkeypatch.delenv("PORT", raising=False)  # the port's fallback (Knative, Cloud Run)


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


# --- the port: PREDICT_PORT, else PORT (Knative and Cloud Run set it), else 8000 ---------------


def test_port_defaults_to_8000() -> None:
    assert Settings().port == 8000


def test_port_is_read_from_port_when_predict_port_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    assert Settings().port == 8080


def test_predict_port_wins_over_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("PREDICT_PORT", "9000")
    assert Settings().port == 9000


def test_an_empty_predict_port_falls_back_to_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREDICT_PORT", "")
    monkeypatch.setenv("PORT", "8080")
    assert Settings().port == 8080


def test_a_bad_port_is_refused_whichever_variable_holds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ValidationError, match="PORT"):
        Settings()


def test_port_is_still_set_by_name_in_code() -> None:
    assert Settings(port=9001).port == 9001
