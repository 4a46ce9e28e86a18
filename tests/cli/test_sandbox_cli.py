"""`okr-sync sandbox jira` serves a Jira the real client can use, until stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from jira import JIRA

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
