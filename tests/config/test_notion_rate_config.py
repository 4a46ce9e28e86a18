"""Notion's 3 requests/s limit: refused above it, except for a local sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from okr_sync.config.loading import load_config
from okr_sync.errors import ConfigError

CONFIG = """\
connections:
  notion:
    type: notion
    token: "${{T_NOTION}}"
    key_results: 0123456789abcdef0123456789abcdef
    base_url: {url}
    requests_per_second: {rate}
okrs: notion
"""


def write(tmp_path: Path, url: str, rate: float) -> Path:
    path = tmp_path / "okr-sync.yaml"
    path.write_text(CONFIG.format(url=url, rate=rate))
    return path


def test_above_three_per_second_is_refused_for_the_real_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_NOTION", "secret-value")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "https://api.notion.com", 5))
    text = str(err.value)
    assert "okr-sync.yaml:7" in text and "requests_per_second" in text and "3 requests/s" in text


def test_a_loopback_sandbox_may_be_driven_faster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_NOTION", "secret-value")
    loaded = load_config(write(tmp_path, "http://127.0.0.1:8081", 500))
    assert loaded.connections["notion"].requests_per_second == 500  # type: ignore[attr-defined]
