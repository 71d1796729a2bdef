"""Shared by the tests: free ports, a real uvicorn server, a real awslambdaric runtime, SAM events."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

from compare.events import EVENTS, Reply, load_event, make_event, reply_from_lambda
from compare.processes import free_port, lambda_runtime, uvicorn_server

__all__ = [
    "EVENTS",
    "Reply",
    "free_port",
    "lambda_runtime",
    "load_event",
    "make_event",
    "reply_from_lambda",
    "uvicorn_server",
]

REPO = Path(__file__).resolve().parents[1]


def child_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDICT_")}
    env.update(overrides)
    return env


def import_with_env(module: str, env: dict[str, str]) -> ModuleType:
    """(Re)import a module whose import-time code reads PREDICT_* settings, under `env`."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        if module in sys.modules:
            # A new execution environment: close what the previous import opened.
            previous_loop = getattr(sys.modules[module], "event_loop", None)
            if previous_loop is not None:
                previous_loop.close()
            return importlib.reload(sys.modules[module])
        return importlib.import_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
