import ast
import sys
from pathlib import Path

import contracts

PACKAGE = Path(contracts.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_contracts_imports_only_pydantic_marketplaces_and_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core", "marketplaces", "contracts"}
    modules = sorted(PACKAGE.rglob("*.py"))

    assert len(modules) > 10
    foreign = {str(m.relative_to(PACKAGE)): _imported_roots(m) - allowed for m in modules}
    assert {k: v for k, v in foreign.items() if v} == {}
