"""The plans and the recommendation no longer import each other: the plan types live in a module both use."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "compare"


def module_imports(path: str) -> set[str]:
    """The compare modules a module imports at its top level, TYPE_CHECKING blocks included (a cycle there is
    still a cycle for a reader and for mypy), imports inside functions left out."""
    file = PACKAGE / path
    package = ".".join(["compare", *file.relative_to(PACKAGE).parent.parts])
    found: set[str] = set()
    body = list(ast.parse(file.read_text()).body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.If):  # if TYPE_CHECKING: ...
            body += node.body
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            found.add(f"{base}.{node.module}" if node.module else base)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("compare"):
            found.add(str(node.module))
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("compare")}
    return found


def test_plans_and_recommendation_do_not_import_each_other() -> None:
    plans, recommendation = module_imports("plans.py"), module_imports("recommendation.py")
    types = module_imports("plan_types.py")
    assert "compare.recommendation" in plans  # one way only
    assert "compare.plans" not in recommendation
    assert "compare.plan_types" in plans
    assert "compare.plan_types" in recommendation
    assert not {"compare.plans", "compare.recommendation"} & types
    assert "compare.plans" not in module_imports("report/recommendation.py")


def test_no_import_cycle_among_the_compare_modules() -> None:
    graph = {
        ".".join(["compare", *path.relative_to(PACKAGE).with_suffix("").parts]): module_imports(
            str(path.relative_to(PACKAGE))
        )
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    }

    def visit(module: str, trail: tuple[str, ...]) -> None:
        for imported in sorted(graph.get(module, ())):
            assert imported not in trail, " -> ".join([*trail, imported])
            visit(imported, (*trail, imported))

    for module in graph:
        visit(module, (module,))


@pytest.mark.parametrize("module", ["compare.plan_types", "compare.recommendation", "compare.plans"])
def test_each_imports_alone(module: str) -> None:
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO, capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
