"""``okr-sync init``: starter configs that validate, and never overwrite by accident."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JIRA_API_TOKEN", "a-jira-token")
    monkeypatch.setenv("NOTION_TOKEN", "a-notion-token")
    return CliRunner()


@pytest.mark.parametrize(
    ("tools", "written", "checked"),
    [
        ("notion+jira", ["okr-sync.yaml"], "config valid"),
        ("notion", ["okr-sync.yaml"], "config valid"),
        ("jira", ["okr-sync.yaml", "okrs.yaml"], "config and 2 key results valid"),
    ],
)
def test_each_starter_config_passes_validate(
    runner: CliRunner, tmp_path: Path, tools: str, written: list[str], checked: str
) -> None:
    result = runner.invoke(main, ["init", "--tools", tools])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)
    assert "CHANGE-ME" in result.output and "okr-sync check" in result.output
    text = (tmp_path / "okr-sync.yaml").read_text()
    assert "start: 2026-10-01" in text and "end: 2026-12-31" in text  # the frozen clock's quarter
    assert '"${' in text and "a-jira-token" not in text
    check = runner.invoke(main, ["validate"])
    assert check.exit_code == 0, check.output
    assert checked in check.output


def test_existing_files_are_kept_unless_forced(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "okrs.yaml").write_text("mine\n")
    result = runner.invoke(main, ["init", "--tools", "jira"])
    assert result.exit_code == 2 and "okrs.yaml already exists" in result.output
    assert (tmp_path / "okrs.yaml").read_text() == "mine\n"
    assert not (tmp_path / "okr-sync.yaml").exists()  # all or nothing
    result = runner.invoke(main, ["init", "--tools", "jira", "--force"])
    assert result.exit_code == 0 and "key_results:" in (tmp_path / "okrs.yaml").read_text()


def test_a_config_path_elsewhere_is_named_in_the_next_steps(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["init", "--tools", "notion", "-c", "conf/okr.yaml"])
    assert result.exit_code == 0
    assert (tmp_path / "conf" / "okr.yaml").exists()
    assert "okr-sync check -c conf/okr.yaml" in result.output
    assert runner.invoke(main, ["validate", "-c", "conf/okr.yaml"]).exit_code == 0


def test_without_the_tokens_validate_names_the_missing_variables(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.invoke(main, ["init"])
    monkeypatch.delenv("NOTION_TOKEN")
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 2 and "NOTION_TOKEN" in result.output


def test_check_names_every_placeholder_and_gives_up_quickly_on_unreachable_hosts(
    runner: CliRunner, tmp_path: Path
) -> None:
    runner.invoke(main, ["init"])
    config = tmp_path / "okr-sync.yaml"
    # Unreachable on purpose: nothing listens on port 9 of this machine.
    text = config.read_text().replace("https://CHANGE-ME.atlassian.net", "http://127.0.0.1:9")
    token_line = '    token: "${NOTION_TOKEN}"'
    config.write_text(text.replace(token_line, token_line + "\n    base_url: http://127.0.0.1:9"))
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 1
    out = result.output
    assert "connections.jira.email: still holds the CHANGE-ME placeholder" in out
    assert "connections.notion.objectives: still holds the CHANGE-ME placeholder" in out
    assert "cannot reach http://127.0.0.1:9" in out
    assert "check base_url (http://127.0.0.1:9)" in out
