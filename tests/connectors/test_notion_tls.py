"""The Notion clients of a process share one TLS context: the CA bundle loads once.

httpx loads the whole bundle for each client it builds (about 20 ms of CPU); a
scheduler builds a client per run. The shared context keeps httpx's own defaults,
and a bundle that changes (rotated, or another one named) is loaded again.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest

from connectors.notion import client as notion_client_module
from connectors.notion.config import NotionConfig
from connectors.notion.connector import NotionConnector

TOKEN_ENV = "OKR_TEST_NOTION_TLS_TOKEN"


def connector() -> NotionConnector:
    cfg = NotionConfig.model_validate({"type": "notion", "token": "${" + TOKEN_ENV + "}"})
    return NotionConnector("notion", cfg)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every CA bundle loaded into a context, from a fresh cache."""
    monkeypatch.setenv(TOKEN_ENV, "secret_tls_test")
    seen: list[Any] = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        seen.append(args or kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    notion_client_module._tls_context.cache_clear()
    yield seen
    notion_client_module._tls_context.cache_clear()


def test_three_clients_load_the_ca_bundle_once(loads: list[Any]) -> None:
    clients = [connector().client() for _ in range(3)]
    assert len(loads) == 1
    contexts = {id(c.client._transport._pool._ssl_context) for c in clients}
    assert contexts == {id(notion_client_module.shared_tls_context())}
    for c in clients:
        assert c.client.headers["Authorization"] == "Bearer secret_tls_test"
        c.client.close()


def test_a_rotated_or_renamed_bundle_is_loaded_again(
    loads: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text(Path(certifi.where()).read_text())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    connector().client().client.close()
    connector().client().client.close()
    assert len(loads) == 1  # the same bundle: loaded once
    os.utime(bundle, ns=(0, bundle.stat().st_mtime_ns + 1_000_000_000))  # rotated in place
    connector().client().client.close()
    assert len(loads) == 2
    other = tmp_path / "other-ca.pem"
    other.write_text(bundle.read_text())
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    connector().client().client.close()
    assert len(loads) == 3 and loads[-1][0] == str(other)


def test_the_shared_context_verifies_certificates_as_httpx_does() -> None:
    context = notion_client_module.shared_tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle was loaded
