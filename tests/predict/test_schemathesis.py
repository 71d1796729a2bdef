"""schemathesis against a real server's /openapi.json: every operation, over 1,000 generated cases,
no 5xx, every response as documented (status, content type, headers, schema).

The infer operations are sent to the served model, so that their bodies (JSON, and the binary
tensor form with its Inference-Header-Content-Length) reach the checks rather than a 404."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import child_env, uvicorn_server

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
INFER_ON_THE_SERVED_MODEL = """
[[operations]]
include-path-regex = "/infer$"
parameters = { "path.name" = "iris-random-forest", "path.version" = "1" }
"""


@pytest.mark.slow
@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="needs schemathesis (make test installs it)")
def test_generated_requests_never_break_the_contract(predict_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(INFER_ON_THE_SERVED_MODEL)
    with uvicorn_server(child_env(**predict_env, PREDICT_ACCESS_LOG="false")) as server:
        result = subprocess.run(
            [str(SCHEMATHESIS), "--config-file", str(config), "run", f"{server.url}/openapi.json",
             "--checks", "all",
             # A schema-valid row can still have the wrong number of features for this model: the
             # schema cannot say how many, so a 422 there is right, not a failure.
             "--exclude-checks", "positive_data_acceptance",
             "--max-examples", "100", "--seed", "1", "--generation-database", "none", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    generated = int(re.search(r"(\d+) generated", output).group(1))  # type: ignore[union-attr]
    print(f"\nschemathesis: {generated} cases generated, no failure")
    assert generated >= 1000
