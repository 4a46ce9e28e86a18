"""Hooks for the reliability tests."""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before the session's fixtures (the PostgreSQL server) end
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """A module's ``close_templates()`` runs when its process moves on to another module.

    Under pytest-xdist a process runs a test only once it knows the next one, so
    ``nextitem`` is the test this process runs next (None: the last one).
    """
    module = getattr(item, "module", None)
    close = getattr(module, "close_templates", None)
    if close is not None and getattr(nextitem, "module", None) is not module:
        close()
