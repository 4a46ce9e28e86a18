"""DESIGN.md's import rule: connectors and mappings import only the domain contract."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = {"okr_sync.models", "okr_sync.interfaces", "okr_sync.errors"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"), [("connectors", "mappings"), ("mappings", "connectors")]
)
def test_plugin_packages_import_only_the_domain_contract(package: str, forbidden: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        for name in imports_of(path):
            top = name.split(".")[0]
            assert top != forbidden, f"{path.relative_to(ROOT)} imports {name}"
            if top == "okr_sync":
                assert name in CONTRACT, (
                    f"{path.relative_to(ROOT)} imports {name}, outside the contract"
                )


def test_the_rule_is_actually_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from mappings import link\nimport okr_sync.engine\n")
    assert imports_of(bad) == {"mappings", "okr_sync.engine"}


def test_the_contract_modules_do_not_import_the_engine() -> None:
    for name in CONTRACT:
        path = ROOT / (name.replace(".", "/") + ".py")
        for imported in imports_of(path):
            if imported.startswith("okr_sync."):
                assert imported in CONTRACT | {"okr_sync.yamlpos"}, f"{name} imports {imported}"
