"""``okr-sync check`` reports the state store, on both backends."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from okr_sync.cli.main import main
from tests.backends import Backend


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_check_reports_a_new_then_a_used_store(example: Path, backend: Backend) -> None:
    example.write_text(backend.config(example.read_text()))
    code, out, _ = invoke("check", "-c", str(example))
    assert code == 0, out
    assert f"{backend.location}: no runs recorded yet" in out.replace("***", "okr")
    assert invoke("sync", "-q", "-c", str(example))[0] == 0
    code, out, _ = invoke("check", "-c", str(example))
    assert code == 0 and "reachable; the latest run" in out and "ok" in out


def test_check_fails_a_store_that_keeps_another_okr_source(example: Path, backend: Backend) -> None:
    example.write_text(backend.config(example.read_text()))
    store = backend.location.open()
    store.check_source("notion:another-teams-database", claim=True)
    store.close()
    code, out, _ = invoke("check", "-c", str(example))
    assert code == 1
    assert "keeps the history of another OKR source (notion:another-teams-database)" in out
    assert "yaml_okrs:okrs.yaml" in out
