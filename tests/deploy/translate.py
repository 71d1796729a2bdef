"""Run the SAM translator (the library `sam` uses) on template.yaml and print the CloudFormation.

Usage: translate.py TEMPLATE [Name=Value ...]. Runs under SAM CLI's own Python (.venv-sam), whose
pins differ from the project's. Local paths are replaced as `sam package` would replace them, by
an ECR image URI and S3 URIs. The template's AWS::LanguageExtensions transform runs first, with
the given parameter values, through SAM CLI's own implementation of it, as `sam build` does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _PolicyMap:
    """The managed policies the template's functions get (SAM would ask IAM for the whole list)."""

    def load(self) -> dict[str, str]:
        return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and properties.get("PackageType") == "Image":
            properties["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/twinserve:v1"
        elif resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = f"s3://bucket/{name}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = f"s3://bucket/{name}.zip"
    return template


def language_extensions(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    from samcli.lib.cfn_language_extensions import PseudoParameterValues, process_template

    transforms = template.get("Transform")
    if not isinstance(transforms, list) or "AWS::LanguageExtensions" not in transforms:
        return template
    values: dict[str, Any] = {
        name: spec.get("Default") for name, spec in template.get("Parameters", {}).items() if "Default" in spec
    }
    for name, value in parameters.items():
        kind = template["Parameters"][name]["Type"]
        values[name] = value.split(",") if kind == "CommaDelimitedList" else value
    for name, value in list(values.items()):  # CloudFormation hands a list parameter over as a list
        if template["Parameters"][name]["Type"] == "CommaDelimitedList" and isinstance(value, str):
            values[name] = [item for item in value.split(",") if item] or [""]
    processed = process_template(template, values, PseudoParameterValues(region="us-east-1", account_id="123456789012"))
    processed["Transform"] = [t for t in transforms if t != "AWS::LanguageExtensions"]
    return processed


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    parameters = dict(arg.split("=", 1) for arg in sys.argv[2:])
    template = packaged(language_extensions(yaml_parse(Path(sys.argv[1]).read_text()), parameters))
    print(json.dumps(transform(template, {"AWS::Region": "us-east-1"}, _PolicyMap())))


if __name__ == "__main__":
    main()
