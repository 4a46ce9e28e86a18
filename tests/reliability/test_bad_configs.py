"""Broken configs: `validate` and `sync` exit 2 with one located message and touch nothing.

Each case is a small file under ``configs/`` (its first line says what is wrong).
Both commands must name the file at fault, the line and the field, print no
traceback, and leave the folder exactly as it was: no state store, no lock
file, no report.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from okr_sync.config.loading import ENV_VAR

CONFIGS = Path(__file__).parent / "configs"
NOW = "2026-11-15T12:00:00+00:00"
SECRET = "ATATT3xFfGF0kq8vZ2RwN7sLmT4yHcJb9eXpQ1uD"  # the literal in literal-secret.yaml
URL_SECRET = "tok-7Hq2xV9mLp4sZr8N"  # the password inside the URL of url-with-credentials.yaml


class Expected(NamedTuple):
    line: int
    field: str  # "" when the whole file is at fault
    message: str  # a fragment of the message
    hint: str = ""  # a fragment of the hint
    file: str = ""  # the file at fault, when it is not the config itself


CASES: dict[str, Expected] = {
    "syntax-tab.yaml": Expected(15, "write.report", r"found character '\t' that cannot start"),
    "syntax-unclosed-bracket.yaml": Expected(
        8, "items", "in the [ … ] list that starts here", "close it"
    ),
    "wrong-type.yaml": Expected(9, "pull.full_every_hours", "should be a valid number"),
    "unknown-key-close.yaml": Expected(10, "mapings", "unknown key", "did you mean 'mapping'?"),
    "unknown-key-far.yaml": Expected(9, "cycle.colour", "unknown key", "allowed here: end, start"),
    "missing-env-var.yaml": Expected(
        11, "connections.jira.token", "environment variable UNSET_VAR is not set", "export"
    ),
    "literal-secret.yaml": Expected(
        11, "connections.jira.token", "a literal secret is not allowed", "${JIRA_TOKEN}"
    ),
    "url-with-credentials.yaml": Expected(
        9,
        "connections.jira.url",
        "a user name or password inside a URL is not allowed",
        "remove the 'user:password@' part",
    ),
    "url-plain-http.yaml": Expected(
        9, "connections.jira.url", "plain http:// would send the token unencrypted"
    ),
    "unknown-kr-in-rule.yaml": Expected(
        12, "mapping.rules[0].kr", "unknown key result 'KR-9'", "KR-1, KR-2"
    ),
    "duplicate-kr-ids.yaml": Expected(
        12,
        "key_results[2].id",
        "key result id 'KR-2' appears twice (first at line 9)",
        file="okrs-duplicate-kr.yaml",
    ),
    "parent-cycle.yaml": Expected(
        5,
        "objectives[0].parent",
        "a cycle of parents: O-1 → O-2 → O-1",
        file="okrs-parent-cycle.yaml",
    ),
    "thresholds-out-of-order.yaml": Expected(
        14, "status.thresholds", "at_risk_gap (0.4) must be smaller than off_track_gap (0.2)"
    ),
    "bad-cron.yaml": Expected(16, "schedule.cron", "61 is out of range 0-59"),
    "empty.yaml": Expected(1, "", "the config file is empty", "okr-sync init"),
    "list-not-mapping.yaml": Expected(2, "", "must be a YAML mapping of keys", "README"),
    "duplicate-key.yaml": Expected(7, "connections.work", "duplicate key", "keep only one"),
    "bad-cycle-date.yaml": Expected(9, "cycle.end", "invalid date '2026-13-01'", "YYYY-MM-DD"),
    "unknown-measure.yaml": Expected(12, "measures.KR-2", "unknown measure 'points_dne'"),
    "unknown-connection-type.yaml": Expected(
        5, "connections.work.type", "unknown connection type 'csv_items'", ""
    ),
    "undefined-okrs-connection.yaml": Expected(
        7, "okrs", "no connection named 'objectives'", "defined connections: okrs, work, report"
    ),
}


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file and folder under ``folder``: mode, mtime and content."""
    out = {}
    for path in sorted(folder.rglob("*")):
        stat = path.stat()
        content = path.read_bytes() if path.is_file() else b""
        out[str(path.relative_to(folder))] = (stat.st_mode, stat.st_mtime_ns, content)
    return out


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the corpus as the working directory, with a frozen clock and no env leaks."""
    folder = tmp_path / "configs"
    shutil.copytree(CONFIGS, folder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKR_SYNC_NOW", NOW)
    monkeypatch.delenv("UNSET_VAR", raising=False)
    monkeypatch.setenv("JIRA_TOKEN", "corpus-jira-token")  # the url-* cases reference it
    monkeypatch.delenv(ENV_VAR, raising=False)
    return folder


def test_every_corpus_file_is_a_case() -> None:
    # okrs*.yaml are OKR files that cases point at, not configs.
    configs = {p.name for p in CONFIGS.glob("*.yaml") if not p.name.startswith("okrs")}
    assert configs - {"valid.yaml"} == set(CASES)


@pytest.mark.parametrize("command", ["validate", "sync"])
def test_the_valid_base_passes(corpus: Path, command: str) -> None:
    """The control: without its one mistake, each case would validate and sync."""
    result = CliRunner().invoke(main, [command, "-q", "-c", str(corpus / "valid.yaml")])
    assert result.exit_code == 0, result.output
    if command == "sync":
        assert (corpus / "okr-status.json").exists()
        assert (corpus / ".okr-sync" / "state.db").exists()


@pytest.mark.parametrize("command", ["validate", "sync"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_exits_2_with_one_located_message_and_touches_nothing(
    corpus: Path, command: str, case: str
) -> None:
    expected = CASES[case]
    config = corpus / case
    at_fault = corpus / (expected.file or case)
    before = snapshot(corpus.parent)

    result = CliRunner().invoke(main, [command, "-c", str(config)])

    assert snapshot(corpus.parent) == before, "a broken config must change no file"
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr
    assert "Traceback" not in err and "internal error" not in err
    assert err.startswith("error: 1 problem in the configuration:\n"), err
    where = f"{at_fault}:{expected.line}: " + (f"{expected.field}: " if expected.field else "")
    [problem] = [line for line in err.splitlines() if line.startswith(f"  {at_fault}:")]
    assert problem.startswith(f"  {where}"), err
    assert expected.message in problem.removeprefix(f"  {where}"), err
    assert expected.hint in err.partition("\n    hint: ")[2], err
    if case == "unknown-key-far.yaml":
        assert "did you mean" not in err
    assert SECRET not in result.output and URL_SECRET not in result.output
