"""The ceiling answers {"prediction": 0} through FastAPI and through its Mangum handler, and is served
with functions/predict/server.py's uvicorn options; the baseline is the tutorial's code verbatim."""

from __future__ import annotations

import ast
import asyncio
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench import ceiling
from bench.inprocess import response_json
from compare.events import load_event
from predict.invoke import LocalContext
from predict.settings import Settings
from tests.helpers import REPO

SEEDS = REPO.parent / "shared" / "seeds"


def test_ceiling_answers_the_constant_over_http() -> None:
    with TestClient(ceiling.app) as client:
        response = client.post("/predict", json={"features": [5.1, 3.5, 1.4, 0.2]})
    assert response.status_code == 200
    assert response.json() == {"prediction": 0}


def test_ceiling_handler_answers_the_v2_event() -> None:
    # Mangum runs on the current event loop; an asyncio.run earlier in this process clears it
    # (bench.inprocess imports the ceiling in a fresh process, as Lambda would).
    asyncio.set_event_loop(ceiling.event_loop)
    response = ceiling.handler(load_event("predict-features-v2.json"), LocalContext())
    assert response["statusCode"] == 200
    assert response_json(response) == {"prediction": 0}


def _server_option_names() -> set[str]:
    """The keys of the `options` dict in functions/predict/server.py's serve()."""
    tree = ast.parse((REPO / "functions" / "predict" / "server.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["options"]:
            assert isinstance(node.value, ast.Dict)
            return {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
    raise AssertionError("no `options = {...}` in functions/predict/server.py")


def test_ceiling_uses_twinserve_s_uvicorn_options() -> None:
    assert _server_option_names() - {"host", "port"} == set(ceiling.UVICORN_OPTIONS)
    defaults = Settings()
    assert ceiling.UVICORN_OPTIONS["log_level"] == defaults.log_level
    assert ceiling.UVICORN_OPTIONS["timeout_graceful_shutdown"] == defaults.graceful_shutdown_s


def _code_after(text: str, heading: str) -> str:
    """The first ```python block after `heading` in a seed, dedented."""
    block = re.search(re.escape(heading) + r".*?```python\n(.*?)```", text, re.DOTALL)
    assert block, heading
    lines = block.group(1).splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines).strip()


def _without_header(path: Path) -> str:
    lines = path.read_text().splitlines()
    return "\n".join(lines[[line.startswith("#") for line in lines].index(False) :]).strip()


@pytest.mark.skipif(not SEEDS.is_dir(), reason="needs shared/seeds beside the repository")
@pytest.mark.parametrize(
    ("name", "heading"), [("app.py", "Create FastAPI Application"), ("train.py", "Train and Save the Model")]
)
def test_baseline_is_the_tutorial_s_code_verbatim(name: str, heading: str) -> None:
    [seed] = SEEDS.glob("002_*.txt")
    assert _without_header(REPO / "bench" / "baseline" / name) == _code_after(seed.read_text(), heading)


def test_baseline_answer_matches_its_own_contract() -> None:
    from bench.apps import TUTORIAL_BODY

    assert json.loads(TUTORIAL_BODY) == {"input": [5.1, 3.5, 1.4, 0.2]}
