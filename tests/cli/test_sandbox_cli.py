"""`okr-sync sandbox`: a Jira holding the seed as it is, a Notion with a config that works."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jira import JIRA

from okr_sync.cli.sandbox import seed_jira
from sandboxes import JiraSandbox
from tests.cli_runner import okr_sync
from tests.conftest import EXAMPLE


def test_sandbox_command_serves_the_seeded_issues_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "okr_sync", "sandbox", "jira", "--port", "0",
         "--seed", str(Path(EXAMPLE) / "work-items.json")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "with 47 issues" in first
        url = first.split(" at ")[1].split()[0]
        client = JIRA(url, basic_auth=("bot@example.com", "sandbox-api-token"), max_retries=0)
        assert client._is_cloud
        epics = client.enhanced_search_issues(
            "issuetype = Epic", maxResults=False, fields=["summary"]
        )
        assert len(epics) == 6
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "served" in out


def seed_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((Path(EXAMPLE) / "work-items.json").read_text())[
        "items"
    ]
    return items


def test_a_seeded_jira_sandbox_keeps_the_keys_of_the_seed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "okr_sync", "sandbox", "jira", "--port", "0",
         "--seed", str(Path(EXAMPLE) / "work-items.json")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" at ")[1].split()[0]
        client = JIRA(url, basic_auth=("bot@example.com", "sandbox-api-token"), max_retries=0)
        issues = client.enhanced_search_issues(
            "project in (PAY, SUP, OPS, PLAT, DEAL) ORDER BY key",
            maxResults=False,
            fields=["summary", "parent"],
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    got = {i.key: i for i in issues}
    items = seed_items()
    assert sorted(got) == sorted(i["key"] for i in items)  # PAY-10 is PAY-10, not PAY-4
    for item in items:
        issue = got[item["key"]]
        assert issue.fields.summary == (item.get("title") or item["key"])
        parent = getattr(issue.fields, "parent", None)
        assert (parent.key if parent else None) == item.get("parent_key")


def test_issues_created_after_a_seed_number_on_past_its_highest_key() -> None:
    box = JiraSandbox("cloud")
    seed_jira(box, Path(EXAMPLE) / "work-items.json")
    assert box.add_issue("PAY", "A new story") == "PAY-67"  # the seed's highest is PAY-66
    assert box.add_issue("PAY", "An old number", number=5) == "PAY-5"
    assert box.add_issue("PAY", "Next") == "PAY-68"  # never back down to a gap
    with pytest.raises(ValueError, match="PAY-10"):
        box.add_issue("PAY", "A taken key", number=10)


def test_a_seed_key_that_is_not_a_jira_key_is_refused(tmp_path: Path) -> None:
    seed = tmp_path / "items.json"
    seed.write_text(json.dumps({"items": [{"key": "row-7", "title": "A Notion row"}]}))
    result = subprocess.run(
        [sys.executable, "-m", "okr_sync", "sandbox", "jira", "--port", "0", "--seed", str(seed)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "'row-7' is not a Jira issue key (PROJECT-123)" in result.stderr


def test_the_notion_sandbox_prints_a_config_that_validates_as_it_stands(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "okr_sync", "sandbox", "notion", "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        while not lines or not lines[-1].startswith("and export"):
            lines.append(proc.stdout.readline())
        # Copied as a user would: everything between the blank line and "and export".
        start = lines.index("\n") + 1
        config = tmp_path / "okr-sync.yaml"
        config.write_text("".join(lines[start:-1]))
        token = lines[-1].split("NOTION_TOKEN=")[1].split()[0]
        # The sandbox is a process of its own (it serves until stopped); the commands
        # that use its config are checked by their output, in this process.
        env = {"NOTION_TOKEN": token}
        validate = okr_sync("validate", "-c", str(config), env=env)
        assert validate.code == 0, validate.stderr
        assert validate.stdout == f"{config}: OK (config valid)\n" and validate.stderr == ""
        check = okr_sync("check", "-c", str(config), env=env)
        assert check.code == 0, check.stdout
        assert "All checks passed" in check.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
