"""Every Notion client of a process shares one TLS context: the CA bundle loads once.

httpx loads the whole bundle for each client it builds (about 20 ms of CPU); a
scheduler builds a client per run. The shared context keeps httpx's own defaults.
"""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from connectors.notion import client as notion_client_module
from connectors.notion.config import NotionConfig
from connectors.notion.connector import NotionConnector

TOKEN_ENV = "OKR_TEST_NOTION_TLS_TOKEN"


def connector() -> NotionConnector:
    cfg = NotionConfig.model_validate({"type": "notion", "token": "${" + TOKEN_ENV + "}"})
    return NotionConnector("notion", cfg)


def test_three_clients_load_the_ca_bundle_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "secret_tls_test")
    loads: list[Any] = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    notion_client_module.shared_tls_context.cache_clear()
    try:
        clients = [connector().client() for _ in range(3)]
        assert len(loads) == 1
        contexts = {id(c.client._transport._pool._ssl_context) for c in clients}
        assert contexts == {id(notion_client_module.shared_tls_context())}
        for c in clients:
            assert c.client.headers["Authorization"] == "Bearer secret_tls_test"
            c.client.close()
    finally:
        notion_client_module.shared_tls_context.cache_clear()


def test_the_shared_context_verifies_certificates_as_httpx_does() -> None:
    context = notion_client_module.shared_tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle was loaded
