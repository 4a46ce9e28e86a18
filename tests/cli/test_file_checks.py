"""`okr-sync check` on file connections: files exist and parse, the report can be written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.files import (
    JsonItemsConfig,
    JsonItemSource,
    JsonReportConfig,
    JsonReportTarget,
    YamlOkrConfig,
    YamlOkrSource,
)
from okr_sync.cli.main import main
from okr_sync.config.loading import load_config
from okr_sync.engine.preflight import run_preflight
from okr_sync.interfaces import CheckContext, CheckResult


def okrs(tmp: Path, text: str) -> list[CheckResult]:
    (tmp / "okrs.yaml").write_text(text)
    source = YamlOkrSource("okrs", YamlOkrConfig(type="yaml_okrs", path="okrs.yaml"), tmp)
    return source.check(CheckContext())


def items(
    tmp: Path, text: str | None, keys: dict[str, tuple[str, ...]] | None = None
) -> list[CheckResult]:
    if text is not None:
        (tmp / "items.json").write_text(text)
    source = JsonItemSource("work", JsonItemsConfig(type="json_items", path="items.json"), tmp)
    return source.check(CheckContext(item_keys=keys or {}))


def report(tmp: Path, path: str) -> list[CheckResult]:
    target = JsonReportTarget("report", JsonReportConfig(type="json_report", path=path), tmp)
    return target.check(CheckContext())


def test_an_okr_file_that_reads(tmp_path: Path) -> None:
    (result,) = okrs(
        tmp_path,
        "objectives: [{id: O-1, title: Grow}]\nkey_results:\n  - {id: KR-1, title: More, objective: O-1}\n",
    )
    assert (result.level, result.subject, result.message) == (
        "ok",
        "okrs.yaml",
        "1 objectives, 1 key results",
    )


def test_an_okr_file_with_problems_names_each_line(tmp_path: Path) -> None:
    results = okrs(
        tmp_path,
        "objectives: []\nkey_results:\n  - {id: KR-1}\n  - {id: KR-2, title: Two, target: lots}\n",
    )
    assert [r.level for r in results] == ["fail", "fail"]
    assert [r.subject for r in results] == ["okrs.yaml:3", "okrs.yaml:4"]
    assert "title" in results[0].message and "target" in results[1].message


def test_a_missing_okr_file_points_at_the_path(tmp_path: Path) -> None:
    source = YamlOkrSource("okrs", YamlOkrConfig(type="yaml_okrs", path="nope.yaml"), tmp_path)
    (result,) = source.check(CheckContext())
    assert result.level == "fail" and "cannot read the OKR file" in result.message
    assert result.hint == "check 'path' of the 'okrs' connection"


def test_an_items_file_that_reads_and_holds_the_linked_keys(tmp_path: Path) -> None:
    text = json.dumps({"items": [{"key": "PAY-1", "kind": "epic"}, {"key": "PAY-2"}]})
    (result,) = items(tmp_path, text, {"PAY-1": ("KR-1 by rule 1 (okr-sync.yaml:3)",)})
    assert (result.level, result.message) == ("ok", "2 items")


def test_an_items_file_missing_a_linked_key(tmp_path: Path) -> None:
    text = json.dumps({"items": [{"key": "PAY-1"}]})
    ok, missing = items(
        tmp_path, text, {"PAY-1": ("KR-1",), "PAY-9": ("KR-2, listed on the key result",)}
    )
    assert ok.level == "ok"
    assert (missing.level, missing.subject) == ("fail", "item PAY-9")
    assert missing.message == "not in items.json (linked to KR-2, listed on the key result)"
    assert missing.missing_keys == ("PAY-9",)


def test_an_items_file_that_does_not_parse_or_exist(tmp_path: Path) -> None:
    (broken,) = items(tmp_path, '{"items": [\n  {"key": "A"},\n]}')
    assert broken.level == "fail" and "items.json:3: invalid JSON" in broken.message
    assert "fix items.json" in broken.hint
    (tmp_path / "items.json").unlink()
    (gone,) = items(tmp_path, None)
    assert gone.level == "fail" and gone.hint == "check 'path' of the 'work' connection"


def test_a_report_that_will_be_created_or_rewritten(tmp_path: Path) -> None:
    (new,) = report(tmp_path, "out/status.json")  # the folder is created on write
    assert new.level == "ok" and "will be created" in new.message
    (tmp_path / "status.json").write_text('{"key_results": {}}')
    (existing,) = report(tmp_path, "status.json")
    assert existing.level == "ok" and "can be rewritten" in existing.message


def test_a_report_that_cannot_be_used(tmp_path: Path) -> None:
    (tmp_path / "status.json").write_text("[1, 2]")
    (not_object,) = report(tmp_path, "status.json")
    assert not_object.level == "fail" and "expected a JSON object" in not_object.message
    (tmp_path / "plain-file").write_text("")
    (under_file,) = report(tmp_path, "plain-file/status.json")
    assert under_file.level == "fail" and "is not a folder" in under_file.message
    (tmp_path / "folder.json").mkdir()
    (folder,) = report(tmp_path, "folder.json")
    assert folder.level == "fail" and "is a folder" in folder.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_report_in_a_read_only_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        (result,) = report(tmp_path, "locked/status.json")
    finally:
        locked.chmod(0o700)
    assert result.level == "fail" and "cannot write in" in result.message


def write_config(tmp: Path, rules: str) -> Path:
    (tmp / "okrs.yaml").write_text(
        "objectives: [{id: O-1, title: Grow}]\n"
        "key_results:\n  - {id: KR-1, title: One, objective: O-1}\n  - {id: KR-2, title: Two, objective: O-1}\n"
    )
    (tmp / "a.json").write_text(json.dumps({"items": [{"key": "A-1", "kind": "epic"}]}))
    (tmp / "b.json").write_text(json.dumps({"items": [{"key": "B-1", "kind": "epic"}]}))
    config = tmp / "okr-sync.yaml"
    config.write_text(
        "connections:\n"
        "  okrs: {type: yaml_okrs, path: okrs.yaml}\n"
        "  a: {type: json_items, path: a.json}\n"
        "  b: {type: json_items, path: b.json}\n"
        "  report: {type: json_report, path: out.json}\n"
        "okrs: okrs\nitems: [a, b]\n"
        f"mapping:\n  rules:\n{rules}"
        "write:\n  report: {key_results: [progress]}\n"
    )
    return config


def test_a_key_left_to_any_source_is_missing_only_if_every_source_misses_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, "    - {kr: KR-1, epics: [B-1, Z-9]}\n")
    report_ = run_preflight(load_config(config))
    failures = [(r.connection, r.subject) for r in report_.failures]
    assert failures == [("a", "item Z-9"), ("b", "item Z-9")]  # B-1 is in b: not a problem


def test_check_exits_1_and_lists_unknown_kr_ids_with_their_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, "    - {kr: KR-7, epics: [A-1]}\n")
    result = CliRunner().invoke(main, ["check", "-c", str(config)])
    assert result.exit_code == 1
    line = config.read_text().splitlines().index("    - {kr: KR-7, epics: [A-1]}") + 1
    assert f"✘ line {line}: mapping.rules[0].kr: unknown key result 'KR-7'" in result.stdout
    assert "hint: known ids: KR-1, KR-2" in result.stdout
    assert "✔ okrs.yaml: 1 objectives, 2 key results" in result.stdout


def test_check_passes_on_the_shipped_example(example: Path) -> None:
    result = CliRunner().invoke(main, ["check", "-c", str(example), "--quiet"])
    assert result.exit_code == 0, result.stdout
    assert (
        result.stdout.strip() == "All checks passed: okr-sync plan shows what a sync would write."
    )
    assert not (example.parent / "okr-status.json").exists()  # a check writes nothing
