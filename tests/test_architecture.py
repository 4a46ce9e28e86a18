"""The layout's rules, checked on every import in the tree (README: Architecture).

Each part of the data flow is one folder; these tests fail when an import crosses a
boundary the layout forbids, when two files import each other (directly or round a
circle), or when a command that needs no sandbox loads one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("okr_sync", "connectors", "mappings", "sandboxes")
#: The domain contract: what connectors, mappings and third-party plugins may import.
CONTRACT = {"okr_sync.models", "okr_sync.interfaces", "okr_sync.errors", "okr_sync.yamlpos"}
PLUGIN_CONTRACT = {"okr_sync.models", "okr_sync.interfaces", "okr_sync.errors"}

#: Which parts of okr_sync each part may import (besides itself and the contract).
LAYERS: dict[str, set[str]] = {
    "core": set(),
    "schedule": set(),
    "state": {"core"},
    "config": {"core", "schedule"},
    "log": set(),
    "engine": {"core", "config", "state", "log", "__init__"},  # __version__: the cache fingerprint
    "cli": {"core", "config", "state", "log", "engine", "schedule", "__init__"},
    "__main__": {"cli"},
}
#: Where the sandboxes may be imported from inside the installed packages.
SANDBOX_USERS = ("okr_sync.cli.demo", "okr_sync.cli.sandbox")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: Iterable[str] = (), root: Path = ROOT) -> set[str]:
    """Every module a file imports, anywhere in it (top level, functions, TYPE_CHECKING).

    ``from package import name`` counts as an import of ``package.name`` when that is a
    module in ``known``; relative imports are resolved against the file's package.
    """
    known = set(known)
    here = module_name(path, root).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in known else module)
    return found


def graph() -> dict[str, set[str]]:
    """Module → the project modules it imports, for every file of the shipped packages."""
    files = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    assert len(files) > 100
    return {
        name: {m for m in imports_of(path, files) if m in files and m != name}
        for name, path in files.items()
    }


def part(module: str) -> str:
    """The part of okr_sync a module belongs to: its subpackage, or its own name."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def layer_breaches(edges: dict[str, set[str]]) -> list[str]:
    breaches = []
    for module, targets in sorted(edges.items()):
        top = module.split(".")[0]
        for target in sorted(targets):
            target_top = target.split(".")[0]
            where = f"{module} imports {target}"
            if target_top == "sandboxes" and top != "sandboxes":
                if not module.startswith(SANDBOX_USERS):
                    breaches.append(f"{where}: only the demo and sandbox commands load sandboxes")
            elif top == "sandboxes" and target_top != "sandboxes":
                breaches.append(f"{where}: the sandboxes stand alone (fakes of the services)")
            elif top in ("connectors", "mappings"):
                other = "mappings" if top == "connectors" else "connectors"
                if target_top == other or (
                    target_top == "okr_sync" and target not in PLUGIN_CONTRACT
                ):
                    breaches.append(f"{where}: plugins import only the domain contract")
            elif top == "okr_sync" and target_top == "connectors":
                breaches.append(f"{where}: connectors load through the registry only")
            elif top == "okr_sync" and target_top == "okr_sync":
                if module in CONTRACT:
                    if target not in CONTRACT:
                        breaches.append(f"{where}: the contract stands on its own")
                    continue
                mine, theirs = part(module), part(target)
                if target not in CONTRACT and theirs != mine and theirs not in LAYERS[mine]:
                    breaches.append(f"{where}: {mine} may not depend on {theirs}")
    return breaches


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_import_respects_the_layout() -> None:
    assert layer_breaches(graph()) == []


def test_no_two_files_import_each_other_even_round_a_circle() -> None:
    assert cycles(graph()) == []


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"okr_sync.core.plan": {"okr_sync.state.store"}}, "core may not depend on state"),
        ({"okr_sync.core.plan": {"okr_sync.config.loading"}}, "core may not depend on config"),
        ({"okr_sync.engine.apply": {"okr_sync.cli.render"}}, "engine may not depend on cli"),
        ({"okr_sync.engine.apply": {"sandboxes.loopback"}}, "only the demo and sandbox"),
        ({"okr_sync.state.store": {"okr_sync.engine.engine"}}, "state may not depend on engine"),
        ({"connectors.jira.check": {"okr_sync.config.loading"}}, "only the domain contract"),
        ({"connectors.files": {"mappings"}}, "only the domain contract"),
        ({"mappings.rules": {"connectors.memory"}}, "only the domain contract"),
        ({"okr_sync.models": {"okr_sync.core.progress"}}, "the contract stands on its own"),
        ({"okr_sync.config.loading": {"connectors.jira"}}, "through the registry only"),
        ({"sandboxes.jira.store": {"okr_sync.models"}}, "the sandboxes stand alone"),
    ],
)
def test_the_checker_catches_each_kind_of_breach(edges: dict[str, set[str]], expected: str) -> None:
    breaches = layer_breaches(edges)
    assert len(breaches) == 1 and expected in breaches[0]


def test_the_checker_allows_what_the_layout_allows() -> None:
    allowed = {
        "okr_sync.cli.demo.run": {"sandboxes", "okr_sync.engine.engine"},
        "okr_sync.engine.engine": {"okr_sync.core.plan", "okr_sync.state.store"},
        "okr_sync.state.store": {"okr_sync.core.evaluate", "okr_sync.models"},
        "connectors.jira.check": {"okr_sync.interfaces", "connectors.jira.config"},
    }
    assert layer_breaches(allowed) == []


def test_the_cycle_finder_finds_circles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]


def test_imports_are_read_everywhere_in_a_file(tmp_path: Path) -> None:
    pkg = tmp_path / "okr_sync" / "engine"
    pkg.mkdir(parents=True)
    bad = pkg / "x.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from okr_sync.state import store\n"
        "def f():\n    from . import apply\n    import sandboxes.jira\n"
    )
    known = {"okr_sync.state.store", "okr_sync.engine.apply"}
    assert imports_of(bad, known, tmp_path) == {
        "typing",
        "okr_sync.state.store",
        "okr_sync.engine.apply",
        "sandboxes.jira",
    }


def loaded_by(*argv: str) -> tuple[str, set[str]]:
    """What ``okr-sync ARGV`` prints, and every module it imported (run in a fresh process)."""
    code = (
        "import sys\n"
        "from okr_sync.cli.main import main\n"
        f"try:\n    main({list(argv)!r})\n"
        "except SystemExit:\n    pass\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    printed, _, modules = out.rpartition("MODULES ")
    return printed, set(modules.split())


def under(modules: set[str], *packages: str) -> set[str]:
    """The modules in ``modules`` that are one of ``packages`` or inside one of them."""
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


#: What a service's client, a run or the HTML report brings; no command loads them unless run.
HEAVY = ("sandboxes", "connectors", "jira", "notion_client", "requests", "httpx", "sqlite3",
         "okr_sync.engine", "okr_sync.state", "okr_sync.cli.render", "okr_sync.cli.report")  # fmt: skip


def test_help_loads_no_command_and_no_pydantic_model() -> None:
    printed, modules = loaded_by("--help")
    assert "Usage:" in printed and "validate  Check the config file" in printed
    assert under(modules, *HEAVY, "pydantic", "yaml", "okr_sync.config", "mappings") == set()
    commands = {m for m in under(modules, "okr_sync.cli")} - {
        "okr_sync.cli", "okr_sync.cli.main", "okr_sync.cli.group"
    }  # fmt: skip
    assert commands == set()


def test_a_commands_help_loads_that_command_only() -> None:
    printed, modules = loaded_by("plan", "--help")
    assert "Show what a sync would write." in printed
    assert "okr_sync.cli.run" in modules
    assert under(modules, *HEAVY, "okr_sync.config", "mappings", "okr_sync.cli.validate") == set()


def test_validate_loads_the_config_checks_and_no_client_engine_or_store() -> None:
    config = ROOT / "examples" / "quickstart" / "okr-sync.yaml"
    printed, modules = loaded_by("validate", "--config", str(config))
    assert "OK (config and 7 key results valid)" in printed
    assert {"okr_sync.config.loading", "okr_sync.config.okr_checks"} <= modules
    # the local OKR file is read by its connector (connectors.files); no service's connector
    assert "connectors.files" in modules
    assert under(modules, "sandboxes", "connectors.jira", "connectors.notion", *HEAVY[2:]) == set()


def readme_map() -> set[str]:
    """The folders the README's architecture map names (two-space indents nest)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Architecture", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    named: set[str] = set()
    parents: list[str] = []
    for line in block.splitlines():
        depth = (len(line) - len(line.lstrip())) // 2
        token = line.split()[0] if line.strip() else ""
        if not token.endswith("/") or depth > len(parents):
            continue
        parents = [*parents[:depth], token.rstrip("/")]
        named.add("/".join(parents))
    return named


def test_the_map_names_every_folder() -> None:
    folders = {
        str(p.parent.relative_to(ROOT))
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("__init__.py")
    }
    named = readme_map()
    assert folders - named == set(), "folders missing from the README's architecture map"
    assert {n for n in named if n.split("/")[0] in PACKAGES} - folders - {
        "okr_sync/cli/templates"
    } == set(), "the README's map names folders that do not exist"
    package_doc = (ROOT / "okr_sync" / "__init__.py").read_text(encoding="utf-8")
    for folder in sorted(f for f in folders if f.startswith("okr_sync/")):
        assert f"{folder}/" in package_doc, f"okr_sync's docstring lacks {folder}/"
