from __future__ import annotations

import pytest

#: The shipped example's cycle is Q4 2026; runs are pinned to a day inside it so
#: that statuses (which depend on elapsed time) do not change with the calendar.
FROZEN_NOW = "2026-11-15T12:00:00+00:00"


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKR_SYNC_NOW", FROZEN_NOW)
