"""Output into a pipe whose reader went away (``okr-sync plan | head -2``): a quiet exit 141.

Each command is a real ``python -m okr_sync`` process writing into a real pipe
whose reading end is already closed, as it is once ``head`` has what it wanted:
every write to it fails with EPIPE (Python ignores SIGPIPE).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_cli import invoke


def into_closed_pipe(*args: str) -> tuple[int, str]:
    """Run okr-sync with stdout on a pipe nobody reads; returns (exit code, stderr)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "okr_sync", *args],
            stdout=write_end, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    finally:
        os.close(write_end)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize(
    "command", [["plan"], ["plan", "--json"], ["history"], ["history", "KR-1"], ["status"]]
)
def test_a_reader_that_went_away_ends_the_command_quietly_with_141(
    example: Path, command: list[str]
) -> None:
    assert invoke("sync", "-c", str(example))[0] == 0  # history and status need a run
    code, err = into_closed_pipe(*command, "-c", str(example))
    assert (code, err) == (141, "")


def test_a_sync_whose_output_is_cut_keeps_its_writes_and_its_record(example: Path) -> None:
    code, err = into_closed_pipe("sync", "-c", str(example))
    assert (code, err) == (141, "")
    report = json.loads((example.parent / "okr-status.json").read_text())
    assert len(report["key_results"]) == 7  # the writes were made
    _, out, _ = invoke("status", "-c", str(example), "--json")
    assert [r["outcome"] for r in json.loads(out)["runs"]] == ["ok"]  # and the run recorded
    code, out, _ = invoke("sync", "-c", str(example))
    assert code == 0 and "wrote 0 record(s)" in out


def test_commands_outside_the_common_options_end_quietly_too(tmp_path: Path) -> None:
    code, err = into_closed_pipe("init", "-c", str(tmp_path / "okr-sync.yaml"))
    assert (code, err) == (141, "")
