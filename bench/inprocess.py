"""In-process timings, each run in a fresh process by bench.figures (pinned like the servers):

    python -m bench.inprocess invoke --handler predict.lambda_handler.handler --answer '{"prediction": 0}' --out F
    python -m bench.inprocess batch --rows 1000 --out F

`invoke` imports the Lambda handler (its init) and calls it with tests/events/predict-features-v2.json
as Lambda would, one invocation at a time; `batch` times twinserve's model on a batch of rows, by
itself and through the Lambda handler. Results go to --out as JSON: stdout belongs to the handler
(its embedded-metric log lines), and is thrown away as a Lambda runtime would ship it off.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import importlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from compare.events import load_event, make_event
from compare.measure import IRIS_ROW
from predict.invoke import LocalContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
WARM_UP = 50


def response_json(response: dict[str, Any]) -> Any:
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return json.loads(raw)


def import_handler(path: str) -> Handler:
    module_name, _, attribute = path.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


def time_invocations(
    handler: Handler, event: dict[str, Any], check: Callable[[dict[str, Any]], bool], seconds: float, most: int
) -> list[float]:
    """Milliseconds per invocation, after a warm-up: for `seconds` or `most` invocations, whichever ends first."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    for n in range(WARM_UP + most):
        if n >= WARM_UP and time.perf_counter() > deadline:
            break
        request, context = copy.deepcopy(event), LocalContext()  # Lambda hands each invocation its own
        started = time.perf_counter()
        response = handler(request, context)
        elapsed = time.perf_counter() - started
        if not check(response):
            raise RuntimeError(f"wrong response: {str(response)[:500]}")
        if n >= WARM_UP:
            samples.append(round(elapsed * 1000, 4))
        if n == WARM_UP - 1:
            deadline = time.perf_counter() + seconds
    return samples


def invoke(handler_path: str, answer: Any, seconds: float, most: int) -> dict[str, Any]:
    started = time.perf_counter()
    handler = import_handler(handler_path)
    init_s = time.perf_counter() - started
    event = load_event("predict-features-v2.json")

    def correct(response: dict[str, Any]) -> bool:
        return response.get("statusCode") == 200 and response_json(response) == answer

    return {"init_s": init_s, "samples_ms": time_invocations(handler, event, correct, seconds, most)}


def batch(rows: int, repeats: int) -> dict[str, Any]:
    """twinserve's model on `rows` rows (its own predict, the form PREDICT_SERVING_FORM picks), and the
    same rows through its Lambda handler ({"instances": [...]}, JSON in and out)."""
    import numpy as np

    settings = importlib.import_module("predict.settings").Settings()
    model = importlib.import_module("predict.source").load_model(settings)
    matrix = np.array([IRIS_ROW] * rows, dtype=np.float64)
    model_ms: list[float] = []
    for n in range(3 + repeats):
        started = time.perf_counter()
        prediction = model.predict(matrix)
        elapsed = time.perf_counter() - started
        labels = getattr(prediction, "labels", prediction)
        if len(labels) != rows:
            raise RuntimeError(f"the model returned {len(labels)} labels for {rows} rows")
        if n >= 3:
            model_ms.append(round(elapsed * 1000, 4))

    body = json.dumps({"instances": [IRIS_ROW] * rows}).encode()
    event = make_event(
        load_event("predict-features-v2.json"), "POST", "/predict", body, {"content-type": "application/json"}
    )
    handler = import_handler("predict.lambda_handler.handler")

    def correct(response: dict[str, Any]) -> bool:
        return response.get("statusCode") == 200 and len(response_json(response)["predictions"]) == rows

    handler_ms = time_invocations(handler, event, correct, seconds=60.0, most=repeats)
    form = getattr(model, "serving_form", None)
    return {"rows": rows, "serving_form": form, "model_predict_ms": model_ms, "handler_ms": handler_ms}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    inv = commands.add_parser("invoke", help="time a Lambda handler in-process on the v2 single-row event")
    inv.add_argument("--handler", required=True, help="module.attribute, e.g. bench.ceiling.handler")
    inv.add_argument("--answer", required=True, type=json.loads, help="the correct response body, as JSON")
    inv.add_argument("--seconds", type=float, default=3.0, help="time the invocations for this long (after warm-up)")
    inv.add_argument("--most", type=int, default=2000, help="...or for this many invocations, if fewer")
    inv.add_argument("--out", type=Path, required=True)
    bat = commands.add_parser("batch", help="time twinserve's model and handler on a batch of rows")
    bat.add_argument("--rows", type=int, default=1000)
    bat.add_argument("--repeats", type=int, default=20)
    bat.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        if args.command == "invoke":
            result = invoke(args.handler, args.answer, args.seconds, args.most)
        else:
            result = batch(args.rows, args.repeats)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
