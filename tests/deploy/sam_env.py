"""Print, as JSON, the environment `sam local invoke` gives a function of template.yaml.

Usage: sam_env.py TEMPLATE FUNCTION [Name=Value ...]. Runs under SAM CLI's own Python (.venv-sam)
and uses SAM CLI's own code for it: the stack provider resolves the template's intrinsics with
these parameter values, and the local runner's environment builder makes the variables, so an
`AWS::NoValue` arrives here exactly as it arrives in the container (as "").
"""

from __future__ import annotations

import json
import os
import sys

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider


def main() -> None:
    template, function_name = sys.argv[1], sys.argv[2]
    parameters = dict(arg.split("=", 1) for arg in sys.argv[3:])
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    stacks, _ = SamLocalStackProvider.get_stacks(
        template, parameter_overrides=parameters, language_extensions_enabled=True
    )
    function = SamFunctionProvider(stacks).get(function_name)
    if function is None:
        raise SystemExit(f"no function {function_name} in {template} with {parameters}")
    runner = LocalLambdaRunner(
        local_runtime=None,  # type: ignore[arg-type]  # only the environment builder is used
        function_provider=SamFunctionProvider(stacks),
        cwd=os.path.dirname(os.path.abspath(template)),
        real_path=os.path.dirname(os.path.abspath(template)),
        aws_region="us-east-1",
    )
    variables = runner._make_env_vars(function).resolve()  # SAM CLI's own builder
    print(json.dumps({k: v for k, v in variables.items() if not k.startswith("AWS_")}))


if __name__ == "__main__":
    main()
