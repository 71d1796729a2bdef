"""Regenerate the API Gateway events in this folder with `sam local generate-event` (make events).

Each file is SAM CLI's output verbatim; tests/test_events.py checks they still match it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
IRIS = {"features": [5.1, 3.5, 1.4, 0.2]}
TUTORIAL = {"input": [5.1, 3.5, 1.4, 0.2]}

# file name -> the `sam local generate-event` arguments that make it
EVENTS: dict[str, list[str]] = {
    "predict-features-v2.json": [
        "apigateway",
        "http-api-proxy",
        "--path",
        "predict",
        "--body",
        json.dumps(IRIS),
    ],
    "predict-input-v2.json": [
        "apigateway",
        "http-api-proxy",
        "--path",
        "predict",
        "--body",
        json.dumps(TUTORIAL),
    ],
    "predict-features-v1.json": ["apigateway", "aws-proxy", "--path", "predict", "--body", json.dumps(IRIS)],
    "ready-v2.json": ["apigateway", "http-api-proxy", "--method", "GET", "--path", "ready", "--body", ""],
}


def generate(sam: str, args: list[str]) -> str:
    result = subprocess.run([sam, "local", "generate-event", *args], capture_output=True, text=True, check=True)
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sam", default="sam", help="the sam executable")
    args = parser.parse_args()
    for name, sam_args in EVENTS.items():
        (HERE / name).write_text(generate(args.sam, sam_args))
        print(f"wrote tests/events/{name}")


if __name__ == "__main__":
    main()
