"""The Jira session reads the proxy and CA-bundle environment once, as requests would.

requests reads ``HTTP(S)_PROXY``, ``NO_PROXY`` and the CA-bundle variables on every
request; okr-sync works them out once per connection, for its one site, and the
answers must be the ones requests gives.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import requests.utils

from connectors.jira.client import settle_environment
from tests.e2e.test_jira_incremental import full_pull
from tests.e2e.test_jira_sync import World

SITE = "https://acme.example.net"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
              "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # fmt: skip


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def effective(session: requests.Session, url: str) -> dict[str, object]:
    """What a request to ``url`` would be sent with (requests' own merge)."""
    return dict(session.merge_environment_settings(url, {}, None, None, None))


def test_the_proxy_is_kept_and_the_environment_no_longer_read(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    clean_env.setenv("NO_PROXY", "intranet.example")
    plain = requests.Session()
    expected = effective(plain, f"{SITE}/rest/api/3/myself")
    session = requests.Session()
    settle_environment(session, SITE)
    clean_env.setenv("HTTPS_PROXY", "http://elsewhere.example:8080")  # read no more
    got = effective(session, f"{SITE}/rest/api/3/search/jql")
    assert got["proxies"]["https"] == "http://proxy.corp.example:3128"  # type: ignore[index]
    assert got["proxies"] == expected["proxies"] and got["verify"] == expected["verify"]


def test_no_proxy_naming_the_site_sends_it_direct(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    clean_env.setenv("NO_PROXY", ".example.net,localhost")
    session = requests.Session()
    settle_environment(session, SITE)
    assert effective(session, f"{SITE}/rest/api/3/field")["proxies"] == {}


def test_a_ca_bundle_from_the_environment_is_used(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = requests.Session()
    settle_environment(session, SITE)
    clean_env.delenv("REQUESTS_CA_BUNDLE")
    assert effective(session, f"{SITE}/rest/api/3/myself")["verify"] == str(bundle)


def test_a_pull_reads_the_environment_once_per_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(tmp_path, monkeypatch)
    try:
        reads: list[str] = []
        real = requests.utils.get_environ_proxies

        def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
            reads.append(url)
            return real(url, no_proxy=no_proxy)

        monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
        world.sandbox.requests.clear()
        summary = full_pull(world)
        assert not summary.source_errors
        assert sum(world.sandbox.requests.values()) >= 5
        # Once by the client's constructor (serverInfo), once to settle the session; its
        # other requests read nothing more.
        assert len(reads) == 2, reads
    finally:
        world.sandbox.stop()
