"""Service URLs in the config: https only (loopback excepted), and no credentials inside.

A URL such as ``https://bot:TOKEN@site`` used to pass ``validate`` and then be
printed in warnings, stored in the state store and shown by ``status``; a
plain ``http://`` URL to any host would send the bearer token in clear text.
Both are config errors now: one problem naming the file, line and field, the
value never echoed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors._urls import check_service_url
from okr_sync.config.loading import load_config
from okr_sync.errors import ConfigError

TOKEN_IN_URL = "tok-Zq81xVbn55Lm0PpR"
CONFIG = """\
version: 1
connections:
  okrs: {type: yaml_okrs, path: okrs.yaml}
  jira:
    type: jira
    url: JIRA_URL
    email: me@example.com
    token: "${URL_TEST_TOKEN}"
  notion:
    type: notion
    token: "${URL_TEST_TOKEN}"
    base_url: NOTION_URL
    key_results: KR_DB
okrs: okrs
items: [jira, notion]
"""
GOOD_JIRA = "https://acme.atlassian.net"
GOOD_NOTION = "https://api.notion.com"
KR_DB = "https://www.notion.so/acme/0123456789abcdef0123456789abcdef"


def load(
    tmp_path: Path, jira: str = GOOD_JIRA, notion: str = GOOD_NOTION, kr_db: str = KR_DB
) -> tuple[str, ConfigError | None]:
    text = CONFIG.replace("JIRA_URL", jira).replace("NOTION_URL", notion)
    text = text.replace("KR_DB", kr_db)
    path = tmp_path / "okr-sync.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as exc:
        return text, exc
    return text, None


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URL_TEST_TOKEN", "url-test-token")


def test_the_base_is_valid(tmp_path: Path) -> None:
    assert load(tmp_path)[1] is None


@pytest.mark.parametrize(
    ("where", "value", "field", "line"),
    [
        ("jira", f"https://okr-bot:{TOKEN_IN_URL}@acme.atlassian.net", "connections.jira.url", 6),
        ("jira", f"https://{TOKEN_IN_URL}@acme.atlassian.net/", "connections.jira.url", 6),
        ("notion", f"https://x:{TOKEN_IN_URL}@api.notion.com", "connections.notion.base_url", 12),
        ("notion", f"http://bot:{TOKEN_IN_URL}@127.0.0.1:8080", "connections.notion.base_url", 12),
        # Any URL of the file, not only the service's: a database given by its link.
        ("kr_db", f"https://u:{TOKEN_IN_URL}@www.notion.so/acme/0123", "connections.notion.key_results", 13),
    ],
)  # fmt: skip
def test_credentials_inside_a_url_are_one_problem_never_echoed(
    tmp_path: Path, where: str, value: str, field: str, line: int
) -> None:
    text, error = load(tmp_path, **{where: value})
    assert error is not None
    [problem] = error.problems
    assert (problem.file, problem.line, problem.field) == (
        str(tmp_path / "okr-sync.yaml"),
        line,
        field,
    )
    assert text.splitlines()[line - 1].strip().endswith(value)
    assert "user name or password inside a URL" in problem.message
    assert "user:password@" in problem.hint
    assert TOKEN_IN_URL not in str(error)


@pytest.mark.parametrize(
    ("where", "value", "field", "line"),
    [
        ("jira", "http://jira.example.com", "connections.jira.url", 6),
        ("jira", "http://10.0.0.7:8080/jira", "connections.jira.url", 6),
        ("notion", "http://notion-proxy.internal", "connections.notion.base_url", 12),
        ("notion", "ftp://api.notion.com", "connections.notion.base_url", 12),
        ("jira", "acme.atlassian.net", "connections.jira.url", 6),
    ],
)
def test_a_url_other_than_https_is_refused_except_on_loopback(
    tmp_path: Path, where: str, value: str, field: str, line: int
) -> None:
    _, error = load(tmp_path, **{where: value})
    assert error is not None
    [problem] = error.problems
    assert (problem.line, problem.field) == (line, field)
    if value.startswith("http://"):
        assert "plain http:// would send the token unencrypted" in problem.message
        assert "loopback hosts: 127.0.0.0/8, ::1 and localhost" in problem.message
    else:
        assert "must be an https:// URL" in problem.message


@pytest.mark.parametrize(
    "value",
    ["http://127.0.0.1:8080", "http://localhost:9000/", "http://[::1]:8080", "https://10.0.0.7"],
)
def test_loopback_http_and_any_https_are_accepted(tmp_path: Path, value: str) -> None:
    assert load(tmp_path, jira=value, notion=value)[1] is None


@pytest.mark.parametrize("host", ["127.0.0.2", "127.1.2.3", "[::1]", "LOCALHOST"])
def test_any_loopback_address_may_use_plain_http(host: str) -> None:
    assert check_service_url(f"http://{host}:8080") == f"http://{host}:8080"


@pytest.mark.parametrize("host", ["128.0.0.1", "notion-mock", "10.0.0.1", "localhost.example.com"])
def test_other_hosts_need_https(host: str) -> None:
    with pytest.raises(ValueError, match="only for loopback hosts"):
        check_service_url(f"http://{host}:8080")
