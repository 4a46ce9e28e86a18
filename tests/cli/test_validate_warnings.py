"""`okr-sync validate` and `check`: a valid config that is not ready yet says so.

Placeholders left by `okr-sync init`, an environment variable set but empty,
and remote links asked for while key results have no URL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from okr_sync.cli.sandbox import seed_jira
from sandboxes import JiraSandbox


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# --- placeholders ------------------------------------------------------------------------


def test_validate_names_every_placeholder_left_and_does_not_say_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JIRA_API_TOKEN", "a-jira-token")
    assert run("init", "--tools", "jira")[0] == 0
    config, okrs = tmp_path / "okr-sync.yaml", tmp_path / "okrs.yaml"
    code, out, err = run("validate")
    assert code == 0  # valid: nothing stops a run
    assert "OK" not in out
    assert out == "okr-sync.yaml: config and 2 key results valid, with 6 warnings:\n"
    for file, text, field in [
        (config, "url: https://CHANGE-ME", "connections.jira.url"),
        (config, "email: CHANGE-ME", "connections.jira.email"),
        (config, "project = CHANGE-ME", "mapping.rules[0].query"),
        (okrs, "title: CHANGE-ME", "objectives[0].title"),
        (okrs, "owner: CHANGE-ME", "objectives[0].owner"),
        (okrs, "title: Ship the CHANGE-ME", "key_results[0].title"),
    ]:
        where = f"{file.name}:{line_of(file, text)}"
        assert f"warning: {where}: {field}: still holds the CHANGE-ME placeholder\n" in err
    assert err.count("hint: put your own value there") == 6

    # `check` lists the same lines (before it tries the unreachable placeholder site)
    text = config.read_text().replace("https://CHANGE-ME.atlassian.net", "http://127.0.0.1:9")
    config.write_text(text)
    code, out, _ = run("check")
    assert code == 1
    assert f"line {line_of(okrs, 'owner: CHANGE-ME')}: objectives[0].owner: still holds" in out

    # once replaced, validate is OK again
    config.write_text(text.replace("CHANGE-ME@example.com", "me@example.com").replace(
        "project = CHANGE-ME", "project = PAY"))  # fmt: skip
    okrs.write_text(okrs.read_text().replace("CHANGE-ME", "Payments"))
    code, out, err = run("validate")
    assert (code, out, err) == (0, "okr-sync.yaml: OK (config and 2 key results valid)\n", "")


# --- empty environment variables -----------------------------------------------------------


def test_an_empty_variable_is_reported_as_empty_not_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run("init", "--tools", "notion")
    line = line_of(tmp_path / "okr-sync.yaml", "${NOTION_TOKEN}")
    monkeypatch.setenv("NOTION_TOKEN", "")  # NOTION_TOKEN= in an env file
    code, _, err = run("validate")
    assert code == 2
    assert (
        f"okr-sync.yaml:{line}: connections.notion.token: environment variable NOTION_TOKEN is empty"
        in err
    )
    assert "not set" not in err
    monkeypatch.setenv("NOTION_TOKEN", "  ")
    assert "NOTION_TOKEN is empty" in run("validate")[2]
    monkeypatch.delenv("NOTION_TOKEN")
    code, _, err = run("validate")
    assert code == 2 and "environment variable NOTION_TOKEN is not set" in err


# --- remote links without URLs -------------------------------------------------------------


@pytest.fixture
def jira(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JiraSandbox:
    box = JiraSandbox("cloud")
    box.start()
    seed_jira(box, Path(__file__).parents[2] / "examples" / "quickstart" / "work-items.json")
    monkeypatch.setenv("JIRA_API_TOKEN", box.api_token)
    yield box  # type: ignore[misc]
    box.stop()


def with_remote_links(example: Path, jira: JiraSandbox) -> None:
    text = example.read_text().replace(
        "  report:\n    type: json_report",
        f"  jira:\n    type: jira\n    url: {jira.url}\n    email: {jira.email}\n"
        '    token: "${JIRA_API_TOKEN}"\n  report:\n    type: json_report',
    )
    text = text.replace("items: [work]", "items: [jira]").replace("source: work", "source: jira")
    text = text.replace("query: {label: customer-bug}", 'query: "labels = customer-bug"')
    text = text.replace(
        "query: {label: incident, status: [todo, in_progress]}",
        'query: "labels = incident AND statusCategory != Done"',
    )
    text = text.replace("write:\n", "write:\n  jira:\n    items: [property, remote_link]\n")
    example.write_text(text)


def test_remote_links_to_key_results_without_urls_are_warned_about(
    example: Path, jira: JiraSandbox
) -> None:
    with_remote_links(example, jira)
    line = line_of(example, "items: [property, remote_link]")
    code, out, err = run("validate", "-c", str(example))
    assert code == 0 and "with 1 warning:" in out and "OK" not in out
    assert (
        f"warning: {example}:{line}: write.jira.items[1]: remote_link links each key result's "
        "page, but no key result in 'okrs' has a URL, so none is written\n"
        "    hint: give the key results a url in 'okrs', or drop remote_link from write.jira.items"
    ) in err

    okrs = example.parent / "okrs.yaml"
    okrs.write_text(okrs.read_text().replace(
        "  - id: KR-1\n", "  - id: KR-1\n    url: https://okrs.example.com/KR-1\n"))  # fmt: skip
    _, _, err = run("validate", "-c", str(example))
    assert (
        "remote_link links each key result's page, but 6 of the 7 key results in 'okrs' have "
        "no URL and get none: KR-2, KR-3, KR-4, KR-5, KR-6, KR-7"
    ) in err

    code, out, _ = run("check", "-c", str(example), "--json")
    results = json.loads(out)["results"]
    (warning,) = [r for r in results if "remote_link links each" in r["message"]]
    assert warning["level"] == "warn" and warning["subject"] == f"line {line}: write.jira.items[1]"
    assert "6 of the 7 key results in 'okrs' have no URL" in warning["message"]


def test_no_url_warning_when_every_key_result_has_one_or_no_link_is_written(
    example: Path, jira: JiraSandbox
) -> None:
    okrs = example.parent / "okrs.yaml"
    text = okrs.read_text()
    for n in range(1, 8):
        text = text.replace(
            f"  - id: KR-{n}\n", f"  - id: KR-{n}\n    url: https://o.example/{n}\n"
        )
    okrs.write_text(text)
    with_remote_links(example, jira)
    assert run("validate", "-c", str(example))[1].endswith(
        ": OK (config and 7 key results valid)\n"
    )
    example.write_text(example.read_text().replace("[property, remote_link]", "[property]"))
    okrs.write_text(okrs.read_text().replace("    url: https://o.example/1\n", ""))
    assert run("validate", "-c", str(example))[1].endswith(
        ": OK (config and 7 key results valid)\n"
    )
