"""template.yaml: sam validate --lint, the SAM translator's output, and `sam build` of the zip variant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.sam_tools import sam, sam_python
from tests.helpers import EVENTS, REPO

SAM_ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
LAMBDA_LIMIT_MB = 250
needs_sam = pytest.mark.skipif(sam() is None, reason="needs SAM CLI (make test installs it into .venv-sam)")


@needs_sam
def test_sam_validate_lint() -> None:
    result = subprocess.run([str(sam()), "validate", "--lint"], cwd=REPO, env=SAM_ENV,
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout


@cache
def translated() -> dict[str, Any]:
    python = sam_python()
    if python is None:
        pytest.skip("needs SAM CLI's Python (.venv-sam) for the translator")
    result = subprocess.run(
        [python, str(Path(__file__).with_name("translate.py")), str(REPO / "template.yaml")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    resources: dict[str, Any] = json.loads(result.stdout)["Resources"]
    return resources


def of_type(kind: str) -> dict[str, Any]:
    return {name: r for name, r in translated().items() if r["Type"] == kind}


def test_http_api_routes_every_path_to_the_function_alias() -> None:
    for api, alias in (("PredictApi", "PredictFunctionAliaslive"), ("PredictZipApi", "PredictZipFunctionAliaslive")):
        paths = translated()[api]["Properties"]["Body"]["paths"]
        assert set(paths) == {"/", "/{proxy+}"}
        for spec in paths.values():
            text = json.dumps(spec)
            assert "x-amazon-apigateway-any-method" in text
            assert f"${{{alias}}}/invocations" in text
            assert '"payloadFormatVersion": "2.0"' in text


def test_image_function_has_no_layers_and_the_zip_function_has_both_and_snapstart() -> None:
    functions = of_type("AWS::Lambda::Function")
    image, zipped = functions["PredictFunction"]["Properties"], functions["PredictZipFunction"]["Properties"]
    assert image["PackageType"] == "Image"
    assert "Layers" not in image
    layers = {ref["Ref"] for ref in zipped["Layers"]}
    assert {name.rstrip("0123456789abcdef") for name in layers} == {"DepsLayer", "ModelLayer"}
    assert layers <= set(of_type("AWS::Lambda::LayerVersion"))
    assert zipped["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert (zipped["Runtime"], zipped["Handler"]) == ("python3.12", "predict.lambda_handler.handler")


def test_provisioned_concurrency_only_when_asked() -> None:
    alias = translated()["PredictFunctionAliaslive"]["Properties"]
    condition, when_set, when_zero = alias["ProvisionedConcurrencyConfig"]["Fn::If"]
    assert condition == "HasProvisionedConcurrency"
    assert when_set == {"ProvisionedConcurrentExecutions": {"Ref": "ProvisionedConcurrency"}}
    assert when_zero == {"Ref": "AWS::NoValue"}
    assert "ProvisionedConcurrencyConfig" not in translated()["PredictZipFunctionAliaslive"]["Properties"]


def test_roles_allow_only_logging_by_themselves() -> None:
    for name, role in of_type("AWS::IAM::Role").items():
        properties = role["Properties"]
        assert properties["ManagedPolicyArns"] == [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        ], name
        assert "Policies" not in properties, name


@pytest.fixture(scope="module")
def zip_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if sam() is None:
        pytest.skip("needs SAM CLI (make test installs it into .venv-sam)")
    if sys.version_info[:2] != (3, 12):
        pytest.skip("needs Python 3.12 for the python3.12 runtime (make builds .venv with it when the machine has it)")
    build_dir = tmp_path_factory.mktemp("sam-build")
    # python3.12 for the python3.12 runtime: this interpreter when it is one, as in .venv.
    env = {**SAM_ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [str(sam()), "build", "PredictZipFunction", "--parameter-overrides", "PackageVariant=zip",
         "--build-dir", str(build_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build_dir


def _megabytes(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


@pytest.mark.slow
def test_zip_variant_stays_under_the_lambda_limit(zip_build: Path) -> None:
    sizes = {part: _megabytes(zip_build / part) for part in ("PredictZipFunction", "DepsLayer", "ModelLayer")}
    total = sum(sizes.values())
    print(f"\nzip variant, unzipped: {total:.1f} MB = " + ", ".join(f"{k} {v:.1f} MB" for k, v in sizes.items()))
    assert total < LAMBDA_LIMIT_MB
    assert (zip_build / "ModelLayer" / "model" / "metadata.json").exists()
    assert not (zip_build / "PredictZipFunction" / "predict" / "model").exists()  # the model ships once, in its layer


@pytest.mark.slow
def test_built_layout_answers_in_a_clean_environment(zip_build: Path, tmp_path: Path) -> None:
    clean = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(clean)], check=True, timeout=120)
    script = (
        "import json, sys; from predict.lambda_handler import handler; from predict.invoke import LocalContext; "
        "event = json.load(open(sys.argv[1])); print(json.dumps(handler(event, LocalContext())))"
    )
    # As Lambda lays it out: the function's code, /opt/python from the deps layer, /opt/model.
    env = {
        "PYTHONPATH": f"{zip_build / 'PredictZipFunction'}{os.pathsep}{zip_build / 'DepsLayer' / 'python'}",
        "PREDICT_MODEL_DIR": str(zip_build / "ModelLayer" / "model"),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [str(clean / "bin" / "python"), "-c", script, str(EVENTS / "predict-features-v2.json")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    response = json.loads(result.stdout.strip().splitlines()[-1])
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"prediction": 0}


def test_model_from_s3_is_readable_and_nothing_more() -> None:
    policies = of_type("AWS::IAM::Policy")
    assert set(policies) == {"ImageModelReadPolicy", "ZipModelReadPolicy"}
    for name, role, condition in (
        ("ImageModelReadPolicy", "PredictFunctionRole", "ImageWithS3Model"),
        ("ZipModelReadPolicy", "PredictZipFunctionRole", "ZipWithS3Model"),
    ):
        policy = policies[name]
        assert policy["Condition"] == condition
        assert policy["Properties"]["Roles"] == [{"Ref": role}]
        [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
        assert (statement["Effect"], statement["Action"]) == ("Allow", "s3:GetObject")
        objects = [r["Fn::Sub"][0] for r in statement["Resource"]]
        assert objects == [
            "arn:${AWS::Partition}:s3:::${Path}/model.joblib",
            "arn:${AWS::Partition}:s3:::${Path}/metadata.json",
        ]
    variables = translated()["PredictFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["PREDICT_MODEL_URI"] == {"Fn::If": ["HasS3Model", {"Ref": "ModelS3Uri"}, {"Ref": "AWS::NoValue"}]}
