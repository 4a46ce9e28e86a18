"""Config loading: every problem names the file, the line and the dotted field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.files import YamlOkrConfig, YamlOkrSource
from okr_sync.config.loading import ENV_VAR, LoadedConfig, find_config, load_config
from okr_sync.config.okr_checks import check_kr_ids
from okr_sync.errors import EXIT_CONFIG, ConfigError, Problem

# A small valid config with the structure of examples/quickstart/okr-sync.yaml.
BASE = """\
version: 1
connections:
  okrs:
    type: yaml_okrs
    path: okrs.yaml
  work:
    type: json_items
    path: work-items.json
  report:
    type: json_report
    path: okr-status.json
okrs: okrs
items: [work]
cycle:
  start: 2026-10-01
  end: 2026-12-31
measures:
  default: issues_done
  KR-2: points_done
mapping:
  label_prefix: "okr:"
  rules:
    - kr: KR-2
      epics: [PAY-3]
    - kr: KR-4
      source: work
      query: {label: customer-bug}
write:
  report:
    key_results: [progress, current, status, last_synced]
    objectives: [progress, status, last_synced]
status:
  thresholds:
    at_risk_gap: 0.10
    off_track_gap: 0.25
    not_started_until: 0.25
conflicts: overwrite
state:
  path: .okr-sync/state.db
schedule:
  cron: "*/30 * * * *"
"""

OKRS = """\
objectives:
  - id: O-1
    title: Make paying with us effortless
  - id: O-2
    title: Ship the new checkout
    parent: O-1
key_results:
  - id: KR-1
    title: Complete the checkout redesign epics
    objective: O-2
    epics: [PAY-1]
  - id: KR-2
    title: Deliver the payments roadmap
    objective: O-2
    start: 0
    target: 100
  - id: KR-4
    title: Close 12 customer-reported bugs
    objective: O-1
    start: 0
    target: 12
"""

ITEMS = {
    "items": [
        {"key": "PAY-1", "title": "Checkout redesign", "kind": "epic"},
        {"key": "PAY-3", "title": "Payments roadmap", "kind": "epic"},
        {"key": "PAY-10", "title": "Cart", "parent_key": "PAY-1", "status_category": "done"},
        {"key": "BUG-1", "title": "Crash", "labels": ["customer-bug"]},
    ]
}

SECRET = "ntn_abcdefghijklmnopqrstuvwxyz0123456789"


def mutate(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based line of the only line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} found on lines {hits}"
    return hits[0]


def write_config(folder: Path, text: str = BASE, name: str = "okr-sync.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "okrs.yaml").write_text(OKRS, encoding="utf-8")
    (folder / "work-items.json").write_text(json.dumps(ITEMS), encoding="utf-8")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, **kw: bool) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_config(path, **kw)
    assert info.value.exit_code == EXIT_CONFIG
    assert info.value.problems, "a ConfigError must list its problems"
    return info.value.problems


def only(problems: list[Problem], field: str) -> Problem:
    found = [p for p in problems if p.field == field]
    assert len(found) == 1, f"expected one problem at {field!r}, got {problems}"
    return found[0]


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


# --- the valid base --------------------------------------------------------------------


def test_base_config_is_valid(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    loaded = load_config(path)
    assert loaded.path == path
    assert loaded.state_path == tmp_path / ".okr-sync" / "state.db"
    assert set(loaded.connections) == {"okrs", "work", "report"}
    rules = loaded.config.mapping.rules
    assert [r.line for r in rules] == [line_of(BASE, "- kr: KR-2"), line_of(BASE, "- kr: KR-4")]
    assert [r.index for r in rules] == [0, 1]
    tree = YamlOkrSource("okrs", loaded.connections["okrs"], loaded.base_dir).pull_okrs()  # type: ignore[arg-type]
    assert check_kr_ids(loaded, tree) == []


# --- one problem each ----------------------------------------------------------------------

# (id, old, new, field, needle of the expected line, message part, hint part)
CASES = [
    (
        "duplicate-key",
        "conflicts: overwrite\n",
        "conflicts: overwrite\nconflicts: skip\n",
        "conflicts",
        "conflicts: skip",
        "duplicate key",
        "keep only one",
    ),
    (
        "unknown-top-level-key",
        "measures:\n",
        "mesures:\n",
        "mesures",
        "mesures:",
        "unknown key",
        "did you mean 'measures'?",
    ),
    (
        "unknown-connection-key",
        "    path: work-items.json\n",
        "    pth: work-items.json\n",
        "connections.work.pth",
        "pth:",
        "unknown key",
        "did you mean 'path'?",
    ),
    (
        "wrong-type-literal",
        "conflicts: overwrite",
        "conflicts: maybe",
        "conflicts",
        "conflicts: maybe",
        "'overwrite' or 'skip'",
        "",
    ),
    (
        "threshold-not-a-number",
        "off_track_gap: 0.25",
        "off_track_gap: high",
        "status.thresholds.off_track_gap",
        "off_track_gap: high",
        "valid number",
        "",
    ),
    (
        "threshold-out-of-range",
        "not_started_until: 0.25",
        "not_started_until: 1.5",
        "status.thresholds.not_started_until",
        "not_started_until: 1.5",
        "less than or equal to 1",
        "",
    ),
    (
        "bad-cron",
        '"*/30 * * * *"',
        '"every 5 minutes"',
        "schedule.cron",
        "cron:",
        "5-field cron expression",
        "",
    ),
    (
        "rule-without-selector",
        "      epics: [PAY-3]\n",
        "",
        "mapping.rules[0]",
        "- kr: KR-2",
        "exactly one of 'epics', 'query' or 'label'",
        "",
    ),
    (
        "rule-with-two-selectors",
        "      epics: [PAY-3]\n",
        "      epics: [PAY-3]\n      label: roadmap\n",
        "mapping.rules[0]",
        "- kr: KR-2",
        "(found epics, label)",
        "",
    ),
    (
        "rule-query-without-source",
        "      source: work\n",
        "",
        "mapping.rules[1]",
        "- kr: KR-4",
        "needs 'source'",
        "",
    ),
    (
        "okrs-unknown-connection",
        "okrs: okrs\n",
        "okrs: nowhere\n",
        "okrs",
        "okrs: nowhere",
        "no connection named 'nowhere'",
        "defined connections: okrs, work, report",
    ),
    (
        "items-unknown-connection",
        "items: [work]",
        "items: [work, jira]",
        "items[1]",
        "items: [work, jira]",
        "no connection named 'jira'",
        "defined connections",
    ),
    (
        "connection-in-wrong-role",
        "okrs: okrs\n",
        "okrs: report\n",
        "okrs",
        "okrs: report",
        "connection 'report' (json_report) cannot be used as okrs",
        "",
    ),
    (
        "write-field-not-writable",
        "key_results: [progress, current, status, last_synced]",
        "key_results: [bogus]",
        "write.report.key_results[0]",
        "key_results: [bogus]",
        "'bogus' cannot be written",
        "writable: current, forecast, forecast_range, last_synced, progress, status",
    ),
    (
        "unknown-connection-type",
        "type: json_items",
        "type: csv_items",
        "connections.work.type",
        "type: csv_items",
        "unknown connection type 'csv_items'",
        "",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "field", "needle", "message", "hint"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_problem_names_file_line_and_field(
    tmp_path: Path, old: str, new: str, field: str, needle: str, message: str, hint: str
) -> None:
    text = mutate(BASE, old, new)
    path = write_config(tmp_path, text)
    problem = only(problems_of(path), field)
    assert problem.file == str(path)
    assert problem.line == line_of(text, needle)
    assert message in problem.message
    assert hint in problem.hint
    # The rendered error shows "file:line: field: message".
    assert f"{path}:{problem.line}: {field}: " in str(problem)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = mutate(BASE, "conflicts: overwrite\n", "conflicts: overwrite: yes\n")
    path = write_config(tmp_path, text)
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert problem.line == line_of(text, "conflicts: overwrite: yes")
    assert problem.message.startswith("YAML syntax error")
    assert "YAML syntax" in problem.hint


def test_yaml_unclosed_bracket_is_a_syntax_error(tmp_path: Path) -> None:
    text = mutate(BASE, "items: [work]\n", "items: [work\n")
    path = write_config(tmp_path, text)
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert problem.message.startswith("YAML syntax error")
    # The parser notices the missing ']' on the line that follows.
    assert problem.line in (line_of(text, "items: [work"), line_of(text, "items: [work") + 1)


def test_config_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write_config(tmp_path, "- just\n- a list\n")
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert "must be a YAML mapping" in problem.message


def test_missing_required_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, mutate(BASE, "okrs: okrs\n", ""))
    problem = only(problems_of(path), "okrs")
    assert problem.message == "this key is required"
    assert problem.line == 1  # nowhere better to point than the top of the file


def test_unknown_connection_key_also_reports_the_missing_one(tmp_path: Path) -> None:
    text = mutate(BASE, "    path: work-items.json\n", "    pth: work-items.json\n")
    path = write_config(tmp_path, text)
    problem = only(problems_of(path), "connections.work.path")
    assert problem.message == "this key is required"
    assert problem.line == line_of(text, "  work:")


def test_thresholds_out_of_order(tmp_path: Path) -> None:
    text = mutate(BASE, "at_risk_gap: 0.10", "at_risk_gap: 0.30")
    path = write_config(tmp_path, text)
    [problem] = [p for p in problems_of(path) if p.field.startswith("status.thresholds")]
    assert problem.file == str(path)
    assert "at_risk_gap (0.3) must be smaller than off_track_gap (0.25)" in problem.message
    assert (problem.field, problem.line) in {
        ("status.thresholds", line_of(text, "thresholds:")),
        ("status.thresholds.at_risk_gap", line_of(text, "at_risk_gap:")),
    }


def test_equal_thresholds_are_out_of_order(tmp_path: Path) -> None:
    path = write_config(tmp_path, mutate(BASE, "at_risk_gap: 0.10", "at_risk_gap: 0.25"))
    [problem] = problems_of(path)
    assert "must be smaller than" in problem.message


def test_cycle_end_before_start(tmp_path: Path) -> None:
    text = mutate(BASE, "end: 2026-12-31", "end: 2026-09-30")
    path = write_config(tmp_path, text)
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert "end is before its start" in problem.message
    assert (problem.field, problem.line) in {
        ("cycle", line_of(text, "cycle:")),
        ("cycle.end", line_of(text, "end: 2026-09-30")),
    }


def test_unknown_measure_is_reported(tmp_path: Path) -> None:
    text = mutate(BASE, "KR-2: points_done", "KR-2: pointz_done")
    path = write_config(tmp_path, text)
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert "unknown measure 'pointz_done'" in problem.message
    assert "points_done" in problem.message  # lists the allowed ones
    assert problem.field.startswith("measures")
    assert problem.line in (line_of(text, "measures:"), line_of(text, "KR-2: pointz_done"))


def test_each_unknown_measure_is_located_at_its_entry(tmp_path: Path) -> None:
    text = mutate(BASE, "  KR-2: points_done\n", "  KR-2: pointz_done\n  KR-4: cont\n")
    path = write_config(tmp_path, text)
    problems = problems_of(path)
    assert [(p.field, p.line) for p in problems] == [
        ("measures.KR-2", line_of(text, "KR-2: pointz_done")),
        ("measures.KR-4", line_of(text, "KR-4: cont")),
    ]


# --- secrets and environment references ------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        pytest.param(f"    token: {SECRET}\n", "token", SECRET, id="notion-token-value"),
        pytest.param(
            "    api_token: hunter2-swordfish\n", "api_token", "hunter2-swordfish", id="key"
        ),
        pytest.param(
            "    pat: ATATT3xFfGF0abcdefghijklmnopqrstuvwxyz\n",
            "pat",
            "ATATT3xFfGF0abcdefghijklmnopqrstuvwxyz",
            id="atlassian-token",
        ),
    ],
)
def test_literal_secret_is_reported_without_echoing_it(
    tmp_path: Path, line: str, key: str, value: str
) -> None:
    text = mutate(BASE, "    path: okr-status.json\n", f"    path: okr-status.json\n{line}")
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    field = f"connections.report.{key}"
    secret = [p for p in info.value.problems if p.field == field and "secret" in p.message]
    assert len(secret) == 1, info.value.problems
    problem = secret[0]
    assert problem.file == str(path)
    assert problem.line == line_of(text, f"{key}:")
    assert "literal secret" in problem.message
    assert "environment variable" in problem.hint
    assert "${REPORT_TOKEN}" in problem.hint
    for p in info.value.problems:
        assert value not in p.message
        assert value not in p.hint
    assert value not in str(info.value)


def test_secret_looking_value_under_any_key_is_reported(tmp_path: Path) -> None:
    text = mutate(BASE, '  label_prefix: "okr:"\n', f"  label_prefix: {SECRET}\n")
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problem = only(info.value.problems, "mapping.label_prefix")
    assert problem.line == line_of(text, "label_prefix:")
    assert "literal secret" in problem.message
    assert "environment variable" in problem.hint
    assert SECRET not in str(info.value)


def test_literal_secret_is_never_echoed_by_other_problems(tmp_path: Path) -> None:
    text = mutate(BASE, "okrs: okrs\n", f"okrs: {SECRET}\n")
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any("literal secret" in p.message for p in info.value.problems)
    assert SECRET not in str(info.value)


def test_env_reference_is_not_a_literal_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKR_SYNC_TEST_TOKEN", "s3cr3t")
    text = mutate(BASE, "okrs: okrs\n", "okrs: okrs\ntoken: ${OKR_SYNC_TEST_TOKEN}\n")
    path = write_config(tmp_path, text)
    problems = problems_of(path)
    # Only the unknown top-level key; no "literal secret" problem for a reference.
    assert [(p.field, p.message) for p in problems] == [("token", "unknown key")]


def test_unset_env_reference_is_reported_and_set_one_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = "OKR_SYNC_TEST_REPORT_PATH"
    text = mutate(BASE, "    path: okr-status.json\n", f"    path: ${{{var}}}\n")
    path = write_config(tmp_path, text)

    monkeypatch.delenv(var, raising=False)
    [problem] = problems_of(path)
    assert problem.file == str(path)
    assert problem.field == "connections.report.path"
    assert problem.line == line_of(text, f"${{{var}}}")
    assert f"environment variable {var} is not set" in problem.message
    assert f"export {var}=" in problem.hint

    # Not checked when asked not to (e.g. for commands that need no secrets).
    load_config(path, check_env=False)

    monkeypatch.setenv(var, "okr-status.json")
    loaded = load_config(path)
    assert loaded.connections["report"].path == f"${{{var}}}"  # type: ignore[attr-defined]


def test_empty_env_variable_counts_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = "OKR_SYNC_TEST_REPORT_PATH"
    monkeypatch.setenv(var, "")
    text = mutate(BASE, "    path: okr-status.json\n", f"    path: ${{{var}}}\n")
    [problem] = problems_of(write_config(tmp_path, text))
    assert var in problem.message


# --- many problems at once ---------------------------------------------------------------


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    text = BASE
    for old, new in [
        ("version: 1\n", "version: 1\nversion: 1\n"),  # duplicate key
        ("measures:\n", "mesures:\n"),  # unknown top-level key
        ("conflicts: overwrite", "conflicts: maybe"),  # wrong type
        ('"*/30 * * * *"', '"every minute"'),  # bad cron
        ("off_track_gap: 0.25", "off_track_gap: high"),  # not a number
        ("type: json_items", "type: csv_items"),  # unknown connection type
        ("      epics: [PAY-3]\n", ""),  # rule without selector
        (
            "    path: okr-status.json\n",
            "    path: okr-status.json\n    api_token: hunter2-swordfish\n",
        ),  # literal secret (+ unknown key)
    ]:
        text = mutate(text, old, new)
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    got = sorted((p.field, p.line) for p in problems)
    expected = sorted(
        [
            ("version", 2),
            ("mesures", line_of(text, "mesures:")),
            ("conflicts", line_of(text, "conflicts: maybe")),
            ("schedule.cron", line_of(text, "cron:")),
            ("status.thresholds.off_track_gap", line_of(text, "off_track_gap:")),
            ("connections.work.type", line_of(text, "csv_items")),
            ("mapping.rules[0]", line_of(text, "- kr: KR-2")),
            ("connections.report.api_token", line_of(text, "api_token:")),
            ("connections.report.api_token", line_of(text, "api_token:")),
        ]
    )
    assert got == expected
    assert len(problems) == 9
    assert all(p.file == str(path) for p in problems)
    assert str(info.value).startswith("9 problems in the configuration:")
    assert "hunter2-swordfish" not in str(info.value)


def test_connection_problems_are_reported_with_cross_checks(tmp_path: Path) -> None:
    text = mutate(BASE, "    path: work-items.json\n", "    pth: work-items.json\n")
    text = mutate(text, "key_results: [progress, current, status, last_synced]", "key_results: [x]")
    problems = problems_of(write_config(tmp_path, text))
    assert {p.field for p in problems} == {
        "connections.work.path",
        "connections.work.pth",
        "write.report.key_results[0]",
    }


def test_unknown_connection_is_reported_with_other_problems(tmp_path: Path) -> None:
    text = mutate(BASE, "measures:\n", "mesures:\n")
    text = mutate(text, "okrs: okrs\n", "okrs: nowhere\n")
    problems = problems_of(write_config(tmp_path, text))
    assert {p.field for p in problems} == {"mesures", "okrs"}


# --- finding the file ------------------------------------------------------------------------


def test_missing_config_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "okr-sync.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    [problem] = info.value.problems
    assert problem.file == str(path)
    assert "cannot read the config file" in problem.message
    assert "--config" in problem.hint
    assert ENV_VAR in problem.hint
    assert str(path) in str(info.value)


def test_missing_config_named_by_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.yaml"
    monkeypatch.setenv(ENV_VAR, str(path))
    with pytest.raises(ConfigError) as info:
        load_config()
    assert info.value.problems[0].file == str(path)


def test_find_config_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config(None) == Path("okr-sync.yaml")
    monkeypatch.setenv(ENV_VAR, "from-env.yaml")
    assert find_config(None) == Path("from-env.yaml")
    assert find_config("explicit.yaml") == Path("explicit.yaml")
    assert find_config(Path("explicit.yaml")) == Path("explicit.yaml")


def test_load_config_uses_the_same_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = write_config(tmp_path, mutate(BASE, "conflicts: overwrite", "conflicts: skip"))
    from_env = write_config(tmp_path / "env", BASE)
    explicit = write_config(
        tmp_path / "explicit", mutate(BASE, "state:\n  path: .okr-sync/state.db", "state: {}")
    )
    monkeypatch.chdir(tmp_path)

    loaded = load_config()
    assert loaded.path == Path("okr-sync.yaml")
    assert loaded.path.resolve() == default
    assert loaded.config.conflicts == "skip"

    monkeypatch.setenv(ENV_VAR, str(from_env))
    loaded = load_config()
    assert loaded.path == from_env
    assert loaded.config.conflicts == "overwrite"

    loaded = load_config(explicit)
    assert loaded.path == explicit
    assert loaded.state_path == explicit.parent / ".okr-sync" / "state.db"


# --- KR ids and the OKR file -----------------------------------------------------------------


def _okr_source(loaded: LoadedConfig) -> YamlOkrSource:
    return YamlOkrSource("okrs", loaded.connections["okrs"], loaded.base_dir)  # type: ignore[arg-type]


def test_check_kr_ids_reports_unknown_kr_with_rule_line(tmp_path: Path) -> None:
    text = mutate(BASE, "    - kr: KR-4\n", "    - kr: KR-99\n")
    text = mutate(text, "  KR-2: points_done\n", "  KR-2: points_done\n  KR-77: count\n")
    path = write_config(tmp_path, text)
    loaded = load_config(path)
    problems = check_kr_ids(loaded, _okr_source(loaded).pull_okrs())
    rule = only(problems, "mapping.rules[1].kr")
    assert rule.file == str(path)
    assert rule.line == line_of(text, "- kr: KR-99")
    assert "unknown key result 'KR-99'" in rule.message
    assert "KR-1, KR-2, KR-4" in rule.hint
    measure = only(problems, "measures.KR-77")
    assert measure.line == line_of(text, "KR-77: count")
    assert len(problems) == 2


def test_yaml_okr_file_reports_bad_kr_field_with_file_and_line(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    okrs = mutate(OKRS, "    start: 0\n    target: 12\n", "    start: abc\n    target: 12\n")
    okrs = mutate(okrs, "    objective: O-1\n", "    objective: [O-1]\n")
    okr_file = tmp_path / "okrs.yaml"
    okr_file.write_text(okrs, encoding="utf-8")
    loaded = load_config(path)
    with pytest.raises(ConfigError) as info:
        _okr_source(loaded).pull_okrs()
    problems = info.value.problems
    assert all(p.file == str(okr_file) for p in problems)
    start = only(problems, "key_results[2].start")
    assert start.line == line_of(okrs, "start: abc")
    assert "valid number" in start.message
    # Friendly aliases are reported under the name the file uses.
    objective = only(problems, "key_results[2].objective")
    assert objective.line == line_of(okrs, "objective: [O-1]")
    assert len(problems) == 2


def test_yaml_okr_file_reports_duplicate_and_unknown_keys(tmp_path: Path) -> None:
    okr_file = tmp_path / "okrs.yaml"
    okrs = mutate(OKRS, "key_results:\n", "krs: []\nkey_results:\n")
    okr_file.write_text(okrs, encoding="utf-8")
    source = YamlOkrSource("okrs", YamlOkrConfig(type="yaml_okrs", path="okrs.yaml"), tmp_path)
    with pytest.raises(ConfigError) as info:
        source.pull_okrs()
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.field) == (
        str(okr_file),
        line_of(okrs, "krs:"),
        "krs",
    )
    assert problem.message == "unknown key"

    okr_file.write_text(
        mutate(OKRS, "  - id: O-2\n", "  - id: O-2\n    id: O-3\n"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        source.pull_okrs()
    [problem] = info.value.problems
    assert problem.field == "objectives[1].id"
    assert problem.message == "duplicate key"
