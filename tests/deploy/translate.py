"""Run the SAM translator (the library `sam` uses) on template.yaml and print the CloudFormation.

Runs under SAM CLI's own Python (.venv-sam), whose pins differ from the project's. Local paths
are replaced as `sam package` would replace them, by an ECR image URI and S3 URIs.
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


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = packaged(yaml_parse(Path(sys.argv[1]).read_text()))
    print(json.dumps(transform(template, {"AWS::Region": "us-east-1"}, _PolicyMap())))


if __name__ == "__main__":
    main()
