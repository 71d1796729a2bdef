"""`python -m predict serve|invoke|train|package`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from .errors import ArtifactError
from .settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m predict", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API under uvicorn (settings from PREDICT_* variables)")
    serve.add_argument("--host", help="address to bind (PREDICT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (PREDICT_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (PREDICT_WORKERS, default 1)")
    serve.add_argument("--model-dir", type=Path, help="artifact directory (PREDICT_MODEL_DIR)")

    invoke = commands.add_parser("invoke", help="run an API Gateway event file through the Lambda handler")
    invoke.add_argument("event", type=Path, help="event JSON, e.g. tests/events/predict-features-v2.json")

    train = commands.add_parser("train", help="train the embedded default model (Iris RandomForest)")
    train.add_argument("--out", type=Path, help="artifact directory (default: PREDICT_MODEL_DIR)")
    train.add_argument("--if-missing", action="store_true", help="do nothing if an artifact is already there")

    package = commands.add_parser("package", help="turn your own fitted estimator (joblib) into an artifact")
    package.add_argument("--model", type=Path, required=True, help="joblib file of a fitted estimator or Pipeline")
    package.add_argument("--out", type=Path, help="artifact directory (default: PREDICT_MODEL_DIR)")
    package.add_argument("--name", help="model name (default: the file's stem)")
    package.add_argument("--version", default="1", help="model version (default: 1)")
    package.add_argument("--features", nargs="+", metavar="NAME", help="feature names, in column order")
    package.add_argument("--class-names", nargs="+", metavar="NAME", help="class names, in the order of classes_")
    package.add_argument(
        "--holdout", type=Path, help="held-out feature rows (.npy or CSV): make the compiled form and verify it on them"
    )
    package.add_argument(
        "--format", choices=["joblib", "skops"], default="joblib", help="model file format (skops: no pickle)"
    )
    return parser


def _serve(args: argparse.Namespace) -> None:
    # Flags become environment variables so every uvicorn worker process reads the same settings.
    for flag, variable in (
        ("host", "HOST"),
        ("port", "PORT"),
        ("workers", "WORKERS"),
        ("model_dir", "MODEL_DIR"),
    ):
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"PREDICT_{variable}"] = str(value)
    from .server import serve

    serve(Settings())


def _invoke(args: argparse.Namespace) -> None:
    from .invoke import invoke, load_event

    response = invoke(load_event(args.event))
    print(json.dumps(response, indent=2))


def _train(args: argparse.Namespace) -> None:
    from .artifact import METADATA_FILE
    from .train import train_default

    out = args.out or Settings().model_dir
    if args.if_missing and (out / METADATA_FILE).exists():
        print(f"model artifact already present in {out}")
        return
    metadata = train_default(out)
    print(f"trained {metadata.name} (held-out accuracy {metadata.accuracy}) -> {out}")


def _package(args: argparse.Namespace) -> None:
    from .package import package_model

    out = args.out or Settings().model_dir
    packaged = package_model(
        args.model,
        out,
        name=args.name,
        version=args.version,
        features=args.features,
        class_names=args.class_names,
        holdout=args.holdout,
        model_format=args.format,
    )
    metadata = packaged.metadata
    print(f"packaged {metadata.name} {metadata.version} ({metadata.estimator}), sha256 {metadata.sha256}: {out}")
    print(packaged.compile_note)
    if metadata.compiled is not None:
        print(f"compiled form sha256 {metadata.compiled.sha256} (pin it as PREDICT_MODEL_ONNX_SHA256)")
    if packaged.untrusted_types:
        print(f"serving it needs PREDICT_SKOPS_TRUSTED={','.join(packaged.untrusted_types)}")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    commands = {"serve": _serve, "invoke": _invoke, "train": _train, "package": _package}
    try:
        commands[args.command](args)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
