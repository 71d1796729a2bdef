"""The ceiling: twinserve's server stack with nothing behind POST /predict.

A FastAPI app whose one route answers the constant {"prediction": 0} without reading the body,
served the way twinserve serves (the project's uvicorn with uvloop and httptools, the uvicorn
options of functions/predict/server.py) and behind Mangum for the Lambda entry point. What
twinserve costs above it is its own work: validation, the model, logging, metrics.

    python -m bench.ceiling --host 127.0.0.1 --port 8001      # the server
    python -m awslambdaric bench.ceiling.handler              # the Lambda entry point
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI
from mangum import Mangum

# functions/predict/server.py's options with twinserve's default settings (PREDICT_LOG_LEVEL,
# PREDICT_GRACEFUL_SHUTDOWN_S); tests/bench checks that they still match.
UVICORN_OPTIONS: dict[str, object] = {
    "log_level": "info",
    "access_log": False,
    "timeout_graceful_shutdown": 20,
    "server_header": False,
}

app = FastAPI()


@app.post("/predict")
async def predict() -> dict[str, int]:
    return {"prediction": 0}


# As in predict.lambda_handler: Mangum runs on the current event loop, so give it one up front.
event_loop = asyncio.new_event_loop()
asyncio.set_event_loop(event_loop)
handler = Mangum(app, lifespan="off")


def serve(host: str, port: int) -> None:
    config = uvicorn.Config(app, host=host, port=port, **UVICORN_OPTIONS)  # type: ignore[arg-type]
    uvicorn.Server(config).run()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
