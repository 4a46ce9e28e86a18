"""Fixtures shared by the sandbox tests: a fake clock and a seeded Notion sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandboxes import NotionSandbox
from tests.sandboxes.fake_clock import FakeClock
from tests.sandboxes.notion_helpers import START, Okr, seed_okr


@pytest.fixture
def clock() -> FakeClock:
    """The sandbox's clock, at the Notion tests' ``START`` (the Jira tests pick their own)."""
    return FakeClock(START)


@pytest.fixture
def sb(clock: FakeClock) -> Iterator[NotionSandbox]:
    """A started Notion sandbox without rate limit; it must end with no server errors."""
    with NotionSandbox(rate_limit=None, clock=clock) as sandbox:
        yield sandbox
        assert sandbox.server_errors == []


@pytest.fixture
def okr(sb: NotionSandbox) -> Okr:
    """The Objectives / Key Results / Initiatives workspace, seeded in ``sb``."""
    return seed_okr(sb)
